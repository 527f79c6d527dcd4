import Foundation
import DaemonHarness

/// A `switchboardd` spawned for a benchmark run, with its own data directory; the
/// process itself is ``DaemonHarness/SpawnedDaemon``, shared with the tests.
final class BrokerProcess {
    private let daemon: SpawnedDaemon

    init(dataDirectory: String, endpoint: String = "tcp://127.0.0.1:*", extra: [String] = []) throws {
        do {
            daemon = try SpawnedDaemon(dataDirectory: dataDirectory, endpoint: endpoint, arguments: extra, logLevel: "notice")
        } catch {
            throw BenchError("switchboardd did not start: \(error)")
        }
    }

    var endpoint: String { daemon.endpoint }
    var dataDirectory: String { daemon.dataDirectory }
    var pid: Int32 { daemon.pid }

    /// Waits until a broker on PostgreSQL holds the lease and serves: it starts as a
    /// standby, which turns workers away.
    func waitUntilActive() throws {
        let deadline = ContinuousClock.now + .seconds(60)
        while daemon.role != "active" {
            guard ContinuousClock.now < deadline else { throw BenchError("the broker on PostgreSQL never became active:\n\(daemon.log)") }
            Thread.sleep(forTimeInterval: 0.005)
        }
    }

    /// Peak and current resident set size, in bytes, from /proc.
    func memory() -> (peak: Int, current: Int) { daemon.memory() }

    /// Stops the broker with SIGTERM and waits for it.
    func stop() { _ = try? daemon.terminate() }

    /// Kills the broker with SIGKILL and waits for it.
    func kill() { try? daemon.crash() }
}

struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
