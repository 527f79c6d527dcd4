import Foundation
import SwitchboardCore
import Synchronization

/// A `switchboardd` spawned as a child process, for end-to-end tests and the benchmark:
/// the one place that starts the daemon from Swift.
///
/// It binds where it is told (`tcp://127.0.0.1:*` picks a free port) and learns the
/// bound endpoints from the daemon's `--ready-file`, not from its log. Standard error is
/// kept in ``log``. A daemon still running when the object goes away is killed.
public final class SpawnedDaemon {
    /// The daemon exited before it was ready: a bad option, a busy `--data`, a port in use.
    public struct Exited: Error, CustomStringConvertible {
        public let status: Int32
        /// Whether `status` is a signal number rather than an exit code.
        public let bySignal: Bool
        /// Everything the daemon wrote to standard error.
        public let log: String

        public var description: String {
            "switchboardd \(bySignal ? "was killed by signal" : "exited with status") \(status) before it was ready; its log:\n\(log)"
        }
    }

    /// The daemon did not become ready, or did not exit, before the deadline.
    public struct Timeout: Error, CustomStringConvertible {
        public let what: String
        public let log: String

        public var description: String { "\(what); switchboardd's log:\n\(log)" }
    }

    private let process = Process()
    private let output = CapturedOutput()

    /// The `--data` directory, as given; pass it to a new instance to restart "the same" broker.
    public let dataDirectory: String
    /// The 7/MDP endpoint as bound, e.g. `tcp://127.0.0.1:40001`.
    public let endpoint: String
    /// The event stream's endpoint as bound; nil when started with `--events off`.
    public let eventsEndpoint: String?
    /// Where the daemon announced itself (`--ready-file`); it removes the file when it stops cleanly.
    public let readyFile: String

    /// Starts the daemon on `endpoint` with its database in `dataDirectory`, and returns once
    /// its ready file says the sockets are bound.
    ///
    /// - Parameters:
    ///   - arguments: more options, after the harness's own (a repeated option wins).
    ///   - logLevel: `--log-level`.
    ///   - timeout: how long start-up may take; restoring a deep queue takes seconds.
    /// - Throws: ``Exited`` if the daemon exits first, ``Timeout`` at the deadline.
    public init(
        dataDirectory: String = SpawnedDaemon.temporaryDirectory(),
        endpoint: String = "tcp://127.0.0.1:*",
        arguments: [String] = [],
        logLevel: String = "info",
        timeout: Duration = .seconds(60)
    ) throws {
        self.dataDirectory = dataDirectory
        let readyFile = FileManager.default.temporaryDirectory
            .appendingPathComponent("switchboardd-ready-\(UUID().uuidString).json").path
        self.readyFile = readyFile

        process.executableURL = Self.binary
        process.arguments = [
            "--endpoint", endpoint, "--events", "tcp://127.0.0.1:*", "--data", dataDirectory,
            "--ready-file", readyFile, "--log-level", logLevel,
            // Many daemons run at once in tests: no fixed port for the operations endpoint
            // unless a test asks for one.
            "--stats", "off",
        ] + arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        let pipe = Pipe()
        process.standardError = pipe
        let output = output
        pipe.fileHandleForReading.readabilityHandler = { handle in
            let data = handle.availableData
            if data.isEmpty {
                // End of file: the daemon has exited and its last words are in.
                handle.readabilityHandler = nil
                output.close()
            } else {
                output.append(data)
            }
        }
        try process.run()

        let deadline = ContinuousClock.now + timeout
        var found: ReadyDocument?
        while true {
            found = Self.readReadyFile(readyFile, pid: process.processIdentifier)
            if found != nil { break }
            if !process.isRunning {
                // Stderr is read on another thread: let it reach end of file first.
                Self.poll(until: ContinuousClock.now + .seconds(5)) { output.isClosed }
                let bySignal = process.terminationReason == .uncaughtSignal
                throw Exited(status: process.terminationStatus, bySignal: bySignal, log: output.text)
            }
            guard ContinuousClock.now < deadline else {
                Self.kill(process, signal: SIGKILL)
                try? FileManager.default.removeItem(atPath: readyFile)
                throw Timeout(what: "no ready file at \(readyFile) within \(timeout)", log: output.text)
            }
            Self.pause()
        }
        guard let ready = found else { preconditionFailure("the loop ends only with a ready document") }
        self.endpoint = ready.mdpEndpoint
        self.eventsEndpoint = ready.eventsEndpoint
    }

    deinit {
        if process.isRunning { Self.kill(process, signal: SIGKILL) }
        try? FileManager.default.removeItem(atPath: readyFile)
    }

    public var pid: Int32 { process.processIdentifier }

    /// `active` or `standby` for one of several brokers on a PostgreSQL database, as its
    /// ready file says now; nil for a broker on its own, or once it stopped (a killed one
    /// leaves its file behind).
    public var role: String? { process.isRunning ? Self.readReadyFile(readyFile, pid: pid)?.role : nil }

    /// Sends `signal` (SIGSTOP, SIGCONT) without waiting for anything.
    public func send(_ signal: Int32) {
        _ = Foundation.kill(process.processIdentifier, signal)
    }

    public var isRunning: Bool { process.isRunning }

    /// What the daemon has written to standard error so far.
    public var log: String { output.text }

    /// Kills the daemon with SIGKILL, leaving it no chance to flush or close anything, and
    /// waits until it is gone.
    public func crash() throws {
        guard process.isRunning else { return }
        Self.kill(process, signal: SIGKILL)
        guard !process.isRunning else { throw Timeout(what: "switchboardd still running after SIGKILL", log: log) }
    }

    /// Asks the daemon to stop with SIGTERM, waits for it, and returns its exit status.
    @discardableResult
    public func terminate(timeout: Duration = .seconds(30)) throws -> Int32 {
        if process.isRunning {
            Self.kill(process, signal: SIGTERM, timeout: timeout)
            guard !process.isRunning else { throw Timeout(what: "switchboardd still running \(timeout) after SIGTERM", log: log) }
        }
        // Its last log lines arrive on another thread.
        Self.poll(until: ContinuousClock.now + .seconds(5)) { output.isClosed }
        return process.terminationStatus
    }

    /// Peak and current resident set size, in bytes (VmHWM and VmRSS in /proc/PID/status).
    public func memory() -> (peak: Int, current: Int) { Loopback.memory(pid: pid) }

    /// The daemon's executable.
    public static var binary: URL { executable("switchboardd") }

    /// One of the package's executables, from SwiftPM's bin folder: the running test runner
    /// or benchmark sits there (or below it), next to the executables.
    public static func executable(_ name: String) -> URL {
        let me = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        var folder = me.deletingLastPathComponent()
        while !FileManager.default.fileExists(atPath: folder.appendingPathComponent(name).path),
              folder.path != "/" {
            folder = folder.deletingLastPathComponent()
        }
        return folder.appendingPathComponent(name)
    }

    /// A fresh, empty directory under the system's temporary folder.
    public static func temporaryDirectory() -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("switchboard-daemon-\(UUID().uuidString)").path
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    // MARK: Internals

    /// The `--ready-file` document, once it exists, parses, and belongs to `pid`.
    private static func readReadyFile(_ path: String, pid: Int32) -> ReadyDocument? {
        guard let data = FileManager.default.contents(atPath: path),
              let document = try? JSONDecoder().decode(ReadyDocument.self, from: data),
              document.pid == pid
        else { return nil }
        return document
    }

    private static func pause() { Thread.sleep(forTimeInterval: 0.005) }

    /// Polls `condition` every 5 ms until it holds or `deadline` passes.
    private static func poll(until deadline: ContinuousClock.Instant, _ condition: () -> Bool) {
        while !condition() && ContinuousClock.now < deadline { pause() }
    }

    /// Sends `signal` and waits, polling, until the process has been reaped.
    private static func kill(_ process: Process, signal: Int32, timeout: Duration = .seconds(10)) {
        guard process.isRunning else { return }
        _ = Foundation.kill(process.processIdentifier, signal)
        poll(until: ContinuousClock.now + timeout) { !process.isRunning }
    }
}

/// Standard error, appended on the pipe's reading thread and read from the caller's.
private final class CapturedOutput: Sendable {
    private struct State {
        var bytes = Data()
        var closed = false
    }

    private let state = Mutex(State())

    func append(_ data: Data) { state.withLock { $0.bytes.append(data) } }
    func close() { state.withLock { $0.closed = true } }
    var isClosed: Bool { state.withLock { $0.closed } }
    var text: String { String(decoding: state.withLock { $0.bytes }, as: UTF8.self) }
}
