import Foundation
import Logging
import Synchronization

/// Polls `condition` until it holds, failing after `timeout`: tests never sleep a fixed time.
public func waitUntil(timeout: Duration = .seconds(10), _ what: String = "condition", _ condition: () throws -> Bool) throws {
    let deadline = ContinuousClock.now + timeout
    while try !condition() {
        guard ContinuousClock.now < deadline else { throw TestTimeout(what: what) }
        Thread.sleep(forTimeInterval: 0.005)
    }
}

public struct TestTimeout: Error, CustomStringConvertible {
    public let what: String
    public init(what: String) { self.what = what }
    public var description: String { "\(what) not met before the deadline" }
}

/// SplitMix64: a small seeded generator, so that a failing randomised case replays.
public struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// A swift-log handler that keeps messages in memory, so tests can assert on what was
/// logged and keep the test output quiet.
public final class CapturedLogs: Sendable {
    public struct Entry: Sendable {
        public let level: Logger.Level
        public let message: String
        public let metadata: [String: String]
    }

    private let entries = Mutex<[Entry]>([])
    public init() {}

    public var all: [Entry] { entries.withLock { $0 } }
    public func contains(_ message: String) -> Bool { all.contains { $0.message == message } }

    public func logger(label: String = "test", level: Logger.Level = .trace) -> Logger {
        var logger = Logger(label: label) { _ in Handler(sink: self) }
        logger.logLevel = level
        return logger
    }

    fileprivate func append(_ entry: Entry) { entries.withLock { $0.append(entry) } }

    struct Handler: LogHandler {
        let sink: CapturedLogs
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            let merged = metadata.merging(event.metadata ?? [:]) { $1 }
            sink.append(Entry(level: event.level, message: event.message.description, metadata: merged.mapValues { "\($0)" }))
        }
    }
}

/// A fresh, empty directory under the system's temporary folder, removed when the test
/// process exits.
public func temporaryDirectory() -> String {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("switchboard-test-\(UUID().uuidString)").path
    try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    removedAtExit.withLock { $0.append(path) }
    _ = removalRegistered
    return path
}

/// The directories ``temporaryDirectory()`` made. A run makes a few hundred (databases,
/// configurations, spawned daemons' data); left behind, they piled up by the thousand
/// in the temporary folder of every machine the suite ran on.
private let removedAtExit = Mutex<[String]>([])

/// Registered once: removal waits for the end of the process, when no test and no
/// daemon a test spawned (each is stopped by its test) still uses a directory.
private let removalRegistered: Void = {
    atexit {
        for path in removedAtExit.withLock({ $0 }) { try? FileManager.default.removeItem(atPath: path) }
    }
}()
