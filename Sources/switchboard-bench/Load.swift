import Foundation
import SwitchboardCore
import Histogram
import Synchronization
import ZeroMQ

/// Nanoseconds on the monotonic clock since the process started.
let benchEpoch = ContinuousClock.now
func nowNanos() -> UInt64 {
    let epoch = benchEpoch   // a lazy global: initialise it before reading the clock
    let (seconds, attoseconds) = (ContinuousClock.now - epoch).components
    return UInt64(seconds) * 1_000_000_000 + UInt64(attoseconds / 1_000_000_000)
}

/// How one mode talks: what a request looks like and how to read a reply.
protocol Protocol: Sendable {
    /// The frames of request number `sequence`, stamped with `sentAt`.
    func request(sequence: Int, sentAt: UInt64) -> [Frame]
    /// The stamp a reply carries back, or nil for a reply that does not count.
    func stamp(of reply: [Frame]) -> UInt64?
}

/// The outcome of one load run.
struct LoadResult: Sendable {
    var completed: Int
    var seconds: Double
    var histogram: Histogram<UInt64>
    /// Replies over the whole run, warm-up included: what a worker pool must have handled
    /// before the broker holds none of this load's work.
    var answeredInAll = 0
    var throughput: Double { Double(completed) / seconds }
}

/// `count` DEALER sockets connected to `endpoint`, with unlimited queues so that the
/// load generator never blocks on its own high-water mark. They keep their context alive.
func connectClients(endpoint: String, count: Int) throws -> [Socket] {
    let context = try Context()
    return try (0..<count).map { _ in
        let socket = try Socket(context, .dealer)
        try socket.setLinger(.zero)
        try socket.setSendHighWaterMark(0)
        try socket.setReceiveHighWaterMark(0)
        try socket.connect(endpoint)
        return socket
    }
}

/// Clients on DEALER sockets, all driven by one thread with a poller so that the load
/// generator does not compete with the broker for the machine's two cores.
enum LoadGenerator {
    /// Closed loop: every client keeps `outstanding` requests in flight.
    static func closedLoop(
        endpoint: String, clients: Int, outstanding: Int, duration: Duration, warmup: Duration, protocol proto: some Protocol,
        atMeasureStart: () -> Void = {}, every interval: Duration? = nil, atInterval: (_ completed: Int) -> Void = { _ in }
    ) throws -> LoadResult {
        let sockets = try connectClients(endpoint: endpoint, count: clients)
        var poller = Poller(sockets)
        var sequence = 0
        for socket in sockets {
            for _ in 0..<outstanding {
                try socket.send(proto.request(sequence: sequence, sentAt: nowNanos()))
                sequence += 1
            }
        }
        var histogram = Histogram<UInt64>(highestTrackableValue: 60_000_000_000, numberOfSignificantValueDigits: .three)
        let start = ContinuousClock.now
        let measureFrom = start + warmup
        let end = measureFrom + duration
        var completed = 0
        var answeredInAll = 0
        var measuring = false
        var nextInterval = interval.map { measureFrom + $0 }
        while ContinuousClock.now < end {
            let readable = try poller.poll(timeout: .milliseconds(100))
            let now = ContinuousClock.now
            if !measuring && now >= measureFrom {
                measuring = true
                atMeasureStart()
            }
            if let due = nextInterval, let interval, now >= due {
                atInterval(completed)
                nextInterval = due + interval
            }
            for (index, ready) in readable.enumerated() where ready {
                while let reply = try sockets[index].receive(.nonBlocking) {
                    guard let stamp = proto.stamp(of: reply) else { continue }
                    answeredInAll += 1
                    if now >= measureFrom {
                        completed += 1
                        _ = histogram.record(max(1, nowNanos() &- stamp))
                    }
                    try sockets[index].send(proto.request(sequence: sequence, sentAt: nowNanos()))
                    sequence += 1
                }
            }
        }
        sockets.forEach { $0.close() }
        return LoadResult(completed: completed, seconds: duration.seconds, histogram: histogram, answeredInAll: answeredInAll)
    }

    /// Sends ingest requests until `total` are accepted, `outstanding` per client.
    static func fill(endpoint: String, total: Int, clients: Int, outstanding: Int, progress: (Int) -> Void) throws -> Int {
        let sockets = try connectClients(endpoint: endpoint, count: clients)
        // Only "roads" (no worker in this run): every text mentions a pothole.
        let proto = IngestProtocol(departments: 1, prefix: "d")
        var poller = Poller(sockets)
        var sent = 0, accepted = 0, lastReport = 0
        for socket in sockets {
            for _ in 0..<outstanding where sent < total {
                try socket.send(proto.request(sequence: sent * 4 + 1, sentAt: nowNanos()))
                sent += 1
            }
        }
        var idle = 0
        while accepted < total && idle < 100 {
            let readable = try poller.poll(timeout: .milliseconds(100))
            idle = readable.contains(true) ? 0 : idle + 1
            for (index, ready) in readable.enumerated() where ready {
                while let reply = try sockets[index].receive(.nonBlocking) {
                    if proto.stamp(of: reply) != nil { accepted += 1 }
                    if sent < total {
                        try sockets[index].send(proto.request(sequence: sent * 4 + 1, sentAt: nowNanos()))
                        sent += 1
                    }
                }
            }
            if accepted - lastReport >= 100_000 {
                lastReport = accepted
                progress(accepted)
            }
        }
        sockets.forEach { $0.close() }
        return accepted
    }

    /// Open loop: requests leave on a fixed schedule at `rate` per second whatever the
    /// replies do, and latency counts from the scheduled time, so a stall shows up in
    /// the tail instead of being hidden (no coordinated omission).
    static func openLoop(endpoint: String, clients: Int, rate: Double, duration: Duration, protocol proto: some Protocol) throws -> LoadResult {
        let sockets = try connectClients(endpoint: endpoint, count: clients)
        var poller = Poller(sockets)
        var histogram = Histogram<UInt64>(highestTrackableValue: 60_000_000_000, numberOfSignificantValueDigits: .three)
        let interval = 1e9 / rate
        let startNanos = nowNanos()
        let total = Int(rate * duration.seconds)
        var sent = 0, completed = 0
        let deadline = ContinuousClock.now + duration + .seconds(5)
        while (sent < total || completed < sent) && ContinuousClock.now < deadline {
            let now = nowNanos()
            while sent < total {
                let due = startNanos + UInt64(Double(sent) * interval)
                guard due <= now else { break }
                try sockets[sent % clients].send(proto.request(sequence: sent, sentAt: due))
                sent += 1
            }
            let nextDue = sent < total ? startNanos + UInt64(Double(sent) * interval) : now + 10_000_000
            let wait = Duration.nanoseconds(Int64(nextDue > now ? nextDue - now : 0))
            let readable = try poller.poll(timeout: min(wait, .milliseconds(10)))
            for (index, ready) in readable.enumerated() where ready {
                while let reply = try sockets[index].receive(.nonBlocking) {
                    guard let stamp = proto.stamp(of: reply) else { continue }
                    completed += 1
                    _ = histogram.record(max(1, nowNanos() &- stamp))
                }
            }
        }
        sockets.forEach { $0.close() }
        return LoadResult(completed: completed, seconds: Double(nowNanos() - startNanos) / 1e9, histogram: histogram)
    }
}

/// Frames a 64-bit stamp in the first 8 bytes of a body of `size` bytes.
func stampedBody(_ stamp: UInt64, size: Int) -> Frame {
    var bytes = [UInt8](repeating: 0x2E, count: max(8, size))
    withUnsafeBytes(of: stamp.littleEndian) { bytes.replaceSubrange(0..<8, with: $0) }
    return Frame(bytes)
}

func readStamp(_ frame: Frame) -> UInt64? {
    guard frame.count >= 8 else { return nil }
    return frame.bytes.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
}
