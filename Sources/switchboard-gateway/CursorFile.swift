import Foundation

/// Where a polled account's reading stands (the newest notification the broker has
/// acknowledged everything up to): one small file per account in the gateway's state
/// directory, replaced atomically (written beside, flushed, renamed), so that a crash
/// leaves the old cursor or the new one, never half of one. Advanced only after the
/// broker's acknowledgement: a crash repeats a page (the broker deduplicates), never skips.
struct CursorFile: Sendable {
    let path: String

    init(directory: String, name: String) throws {
        let folder = (directory as NSString).appendingPathComponent("cursors")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let safe = name.map { $0.isLetter || $0.isNumber || $0 == "." || $0 == "-" ? $0 : "_" }
        path = (folder as NSString).appendingPathComponent(String(safe))
    }

    func load() -> String? {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
        let cursor = text.trimmingCharacters(in: .whitespacesAndNewlines)
        return cursor.isEmpty ? nil : cursor
    }

    func save(_ cursor: String) throws {
        let temporary = path + ".new"
        guard FileManager.default.createFile(atPath: temporary, contents: Data((cursor + "\n").utf8), attributes: [.posixPermissions: 0o600]),
              let handle = FileHandle(forWritingAtPath: temporary) else {
            throw CursorError(path: path)
        }
        try handle.synchronize()
        try handle.close()
        guard rename(temporary, path) == 0 else { throw CursorError(path: path) }
    }

    struct CursorError: Error, CustomStringConvertible {
        let path: String
        var description: String { "cannot write \(path); the gateway must record how far it read (check the state directory)" }
    }
}
