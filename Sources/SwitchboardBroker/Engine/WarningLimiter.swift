import Majordomo
import ZeroMQ

/// Bounds the warnings one peer can make the broker write: a peer sending garbage as
/// fast as it can must not fill the disk with log lines. Each peer gets a few warnings
/// a second, all peers together a few dozen; what is held back is counted and reported
/// once a second.
struct WarningLimiter {
    let perPeer: Int
    let total: Int
    private var windowEnds: ContinuousClock.Instant
    private var counts: [Frame: Int] = [:]
    private var written = 0
    private(set) var suppressed = 0
    /// Warnings held back since the broker started.
    private(set) var totalHeldBack = 0

    init(perPeer: Int = 5, total: Int = 50, now: ContinuousClock.Instant = .now) {
        self.perPeer = perPeer
        self.total = total
        windowEnds = now + .seconds(1)
    }

    /// Whether a warning about `peer` may be written now. When a new window starts,
    /// `closedWindow` reports how many the last one held back.
    mutating func allow(_ peer: Frame, now: ContinuousClock.Instant) -> (allowed: Bool, closedWindow: Int) {
        var closed = 0
        if now >= windowEnds {
            closed = suppressed
            counts.removeAll(keepingCapacity: true)
            written = 0
            suppressed = 0
            windowEnds = now + .seconds(1)
        }
        let count = counts[peer, default: 0]
        guard count < perPeer, written < total else {
            suppressed += 1
            totalHeldBack += 1
            return (false, closed)
        }
        counts[peer] = count + 1
        written += 1
        return (true, closed)
    }
}
