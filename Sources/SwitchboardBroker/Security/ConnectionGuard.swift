/// Bounds the connections the broker holds, as a pure decision over connection events:
/// at most `perSource` from one address and `total` in all, and none that stays silent
/// (no valid 7/MDP message) for `idleTimeout` after it was accepted. 1,000 connections
/// that complete the handshake and then idle would otherwise hold a descriptor each and
/// starve new clients.
struct ConnectionGuard {
    struct Limits: Sendable, Equatable {
        var perSource = 256
        var total = 10_000
        var idleTimeout: Duration = .seconds(30)
    }

    enum Verdict: Equatable {
        case keep
        case cut(reason: String)
    }

    private struct Connection {
        var source: String
        var acceptedAt: ContinuousClock.Instant
        var spoke = false
    }

    let limits: Limits
    private var connections: [Int32: Connection] = [:]
    private var bySource: [String: Int] = [:]
    /// Connections cut so far, for statistics.
    private(set) var cuts = 0

    init(limits: Limits) {
        self.limits = limits
    }

    var count: Int { connections.count }

    /// A connection was accepted from `source`.
    mutating func accepted(_ descriptor: Int32, from source: String, now: ContinuousClock.Instant) -> Verdict {
        closed(descriptor)   // a reused descriptor whose close was not seen
        if bySource[source, default: 0] >= limits.perSource {
            cuts += 1
            return .cut(reason: "more than \(limits.perSource) connections from one address")
        }
        if connections.count >= limits.total {
            cuts += 1
            return .cut(reason: "more than \(limits.total) connections in all")
        }
        connections[descriptor] = Connection(source: source, acceptedAt: now)
        bySource[source, default: 0] += 1
        return .keep
    }

    /// The connection sent a valid message: it is no longer idle.
    mutating func spoke(_ descriptor: Int32) {
        connections[descriptor]?.spoke = true
    }

    /// Whether the connection has yet to send a valid message.
    func isSilent(_ descriptor: Int32) -> Bool { connections[descriptor]?.spoke == false }

    mutating func closed(_ descriptor: Int32) {
        guard let connection = connections.removeValue(forKey: descriptor) else { return }
        bySource[connection.source, default: 1] -= 1
        if bySource[connection.source] == 0 { bySource[connection.source] = nil }
    }

    /// Connections silent since they were accepted, for longer than the timeout: they
    /// are forgotten here and returned to be cut.
    mutating func idle(now: ContinuousClock.Instant) -> [Int32] {
        let expired = connections.filter { !$0.value.spoke && now - $0.value.acceptedAt >= limits.idleTimeout }.map(\.key)
        for descriptor in expired { closed(descriptor) }
        cuts += expired.count
        return expired
    }
}
