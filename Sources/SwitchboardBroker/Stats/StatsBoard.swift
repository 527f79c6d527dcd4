import Foundation
import Synchronization
import SwitchboardProtocol

/// Where the engine publishes its latest snapshot (``BrokerStats``, the `/stats` model in
/// SwitchboardProtocol), and readers take it: the engine never waits on a reader.
public final class StatsBoard: Sendable {
    private let latest = Mutex<BrokerStats?>(nil)

    public init() {}

    public var current: BrokerStats? { latest.withLock { $0 } }

    func publish(_ stats: BrokerStats) {
        latest.withLock { $0 = stats }
    }
}
