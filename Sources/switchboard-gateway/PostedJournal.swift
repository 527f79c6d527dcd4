import Foundation
import Synchronization

/// What this gateway posted, so that nothing is posted twice, whatever crashes: a line
/// is written and flushed to disk before the platform is called (`attempt`), and after
/// its answer (`posted` with the post's id, or `refused`), before the broker is told.
/// A message the broker hands out again is answered from here; one whose last line is
/// `attempt` was being posted when the gateway stopped, and is reported as uncertain
/// rather than posted blindly again.
final class PostedJournal: Sendable {
    enum State: Equatable {
        case attempted
        case posted(externalID: String?)
        case refused
    }

    private let path: String
    private let states: Mutex<[String: State]>
    private let handle: Mutex<FileHandle>

    init(directory: String) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        path = (directory as NSString).appendingPathComponent("posted.journal")
        if !FileManager.default.fileExists(atPath: path) {
            guard FileManager.default.createFile(atPath: path, contents: nil, attributes: [.posixPermissions: 0o600]) else {
                throw JournalError(path: path)
            }
        }
        var known: [String: State] = [:]
        let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: " ", maxSplits: 2).map(String.init)
            guard fields.count >= 2 else { continue }
            switch fields[0] {
            case "attempt": known[fields[1]] = .attempted
            case "posted": known[fields[1]] = .posted(externalID: fields.count == 3 ? fields[2] : nil)
            case "refused": known[fields[1]] = .refused
            default: continue
            }
        }
        states = Mutex(known)
        guard let file = FileHandle(forWritingAtPath: path) else { throw JournalError(path: path) }
        file.seekToEndOfFile()
        handle = Mutex(file)
    }

    func state(of message: String) -> State? { states.withLock { $0[message] } }

    func attempt(_ message: String) throws { try write("attempt \(message)", message, .attempted) }
    func posted(_ message: String, as id: String?) throws { try write("posted \(message)" + (id.map { " \($0)" } ?? ""), message, .posted(externalID: id)) }
    func refused(_ message: String) throws { try write("refused \(message)", message, .refused) }

    /// Appends and flushes to disk before returning: the line survives a crash.
    private func write(_ line: String, _ message: String, _ state: State) throws {
        try handle.withLock { file in
            try file.write(contentsOf: Data((line + "\n").utf8))
            try file.synchronize()
        }
        states.withLock { $0[message] = state }
    }

    struct JournalError: Error, CustomStringConvertible {
        let path: String
        var description: String { "cannot write \(path); the gateway must record what it posts (check the state directory)" }
    }
}
