import Foundation
import Synchronization

/// A `switchboardd` spawned for a benchmark run, with its own data directory.
final class BrokerProcess {
    let process = Process()
    private let output = LogBuffer()
    let endpoint: String
    let dataDirectory: String

    static func executable() -> String {
        let me = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        return me.deletingLastPathComponent().appendingPathComponent("switchboardd").path
    }

    init(dataDirectory: String, endpoint: String = "tcp://127.0.0.1:*", extra: [String] = []) throws {
        self.dataDirectory = dataDirectory
        process.executableURL = URL(fileURLWithPath: Self.executable())
        process.arguments = ["--endpoint", endpoint, "--events", "tcp://127.0.0.1:*", "--data", dataDirectory, "--log-level", "notice"] + extra
        let pipe = Pipe()
        process.standardError = pipe
        process.standardOutput = FileHandle.nullDevice
        let output = output
        pipe.fileHandleForReading.readabilityHandler = { handle in
            output.append(String(decoding: handle.availableData, as: UTF8.self))
        }
        try process.run()
        let deadline = Date().addingTimeInterval(60)
        var found: String?
        while found == nil && Date() < deadline && process.isRunning {
            found = output.text.split(separator: "\n").first { $0.contains("switchboardd ready") }.flatMap { line in
                line.range(of: #"mdp\.endpoint=tcp://[0-9.]+:[0-9]+"#, options: .regularExpression).map { String(line[$0].dropFirst(13)) }
            }
            if found == nil { Thread.sleep(forTimeInterval: 0.01) }
        }
        guard let found else { throw BenchError("switchboardd did not start: \(output.text)") }
        self.endpoint = found
    }

    var pid: Int32 { process.processIdentifier }

    /// Peak and current resident set size, in bytes, from /proc.
    func memory() -> (peak: Int, current: Int) {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return (0, 0) }
        func field(_ name: String) -> Int {
            guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix(name) }) else { return 0 }
            return (Int(line.split(separator: " ").dropFirst().first ?? "0") ?? 0) * 1_024
        }
        return (field("VmHWM:"), field("VmRSS:"))
    }

    func stop() {
        guard process.isRunning else { return }
        process.terminate()
        process.waitUntilExit()
    }

    func kill() {
        guard process.isRunning else { return }
        Foundation.kill(pid, SIGKILL)
        process.waitUntilExit()
    }
}

final class LogBuffer: Sendable {
    private let storage = Mutex("")
    func append(_ text: String) { storage.withLock { $0 += text } }
    var text: String { storage.withLock { $0 } }
}

struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
