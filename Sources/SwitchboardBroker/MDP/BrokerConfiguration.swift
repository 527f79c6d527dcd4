/// The Majordomo broker's tunables. Defaults follow 7/MDP's reference values.
public struct BrokerConfiguration: Sendable, Equatable {
    /// How often the broker sends HEARTBEAT to each worker, and how often workers are
    /// expected to show life (any command counts).
    public var heartbeatInterval: Duration = .milliseconds(2_500)
    /// How many intervals of silence make a worker dead.
    public var heartbeatLiveness: Int = 3
    /// How long a request for a service that has no worker at all waits before the
    /// broker drops it. Requests for a service whose workers are merely busy wait on.
    public var unservedRequestTimeout: Duration = .seconds(30)
    /// The most requests one service may queue; beyond that new requests are dropped
    /// (and logged) rather than letting one runaway client exhaust the broker's memory.
    public var maxQueuedRequestsPerService: Int = 100_000

    /// Deliveries of one inquiry without an acknowledgement before it is parked.
    public var maxDeliveries: Int = 5

    public init() {}

    /// Silence after which a worker is declared dead.
    public var workerExpiry: Duration { heartbeatInterval * heartbeatLiveness }
}
