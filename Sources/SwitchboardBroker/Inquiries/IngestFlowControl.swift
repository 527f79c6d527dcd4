import DequeModule
import ZeroMQ

/// Slows a gateway that outruns a department's workers, as RabbitMQ's flow control
/// slows a publisher: the answer to an ingest for a department whose ready backlog is
/// over ``maxReadyBacklog`` waits until the workers have taken enough of it.
///
/// **Why answers, not reads.** The broker reads gateways and workers from one ROUTER
/// socket, which fair-queues its peers: with more gateways than workers, deliveries ran
/// at ingests × workers ÷ gateways and the backlog grew without bound. A gateway waits
/// for its answers (it keeps a bounded number outstanding), so holding them stops it
/// sending, and the socket is left to the workers' replies. The inquiries are already
/// on disk: a gateway that gives up and sends again is answered `duplicate`, and a
/// crash while answers are held loses nothing.
///
/// **Only departments being served.** A department with no worker connected (the front
/// office, whose agents claim; a department at night) is never throttled: its queue is
/// where inquiries wait for it, and holding answers for it would stop ingest for no
/// gain.
///
/// Pure: the engine passes each department's ready count and worker count, and sends
/// what comes back.
struct IngestFlowControl {
    /// An answer waiting for its department's workers.
    struct Answer: Equatable {
        var client: Frame
        var frames: [Frame]
    }

    /// A department's ready (undelivered) inquiries above which answers wait; 0 never
    /// holds one.
    var maxReadyBacklog: Int
    /// Most answers held in all. Past it the oldest of the department is sent, so that a
    /// gateway that does not wait for its answers cannot grow the broker's memory.
    let maxHeld: Int

    private var held: [String: Deque<Answer>] = [:]
    /// Answers waiting now, in all.
    private(set) var heldCount = 0
    /// Answers ever held, since the broker started.
    private(set) var heldTotal = 0

    init(maxReadyBacklog: Int, maxHeld: Int = 100_000) {
        self.maxReadyBacklog = maxReadyBacklog
        self.maxHeld = maxHeld
    }

    /// Answers waiting for `department` now.
    func held(for department: String) -> Int { held[department]?.count ?? 0 }

    /// The departments with answers waiting.
    var throttledDepartments: [String] { Array(held.keys) }

    /// An ingest was answered for `department` (accepted, a duplicate, or a follow-up
    /// threaded into one of its inquiries), whose queue now holds `ready` inquiries and
    /// which `workers` workers serve.
    /// - Returns: the answers to send now, in the order they came.
    mutating func answered(_ answer: Answer, department: String, ready: Int, workers: Int) -> [Answer] {
        guard maxReadyBacklog > 0, workers > 0, ready > maxReadyBacklog || held[department] != nil else { return [answer] }
        held[department, default: []].append(answer)
        heldCount += 1
        heldTotal += 1
        var sendable = release(department, ready: ready, workers: workers)
        if heldCount > maxHeld, let oldest = held[department]?.popFirst() {
            heldCount -= 1
            if held[department]?.isEmpty == true { held[department] = nil }
            sendable.append(oldest)
        }
        return sendable
    }

    /// The department's queue or workers changed: the answers that may go now. All of
    /// them once no worker serves it; otherwise one for each inquiry the backlog is
    /// below its bound, so that gateways are answered as fast as workers take work.
    mutating func release(_ department: String, ready: Int, workers: Int) -> [Answer] {
        guard var waiting = held[department] else { return [] }
        let room = workers == 0 ? waiting.count : min(waiting.count, max(0, maxReadyBacklog + 1 - ready))
        guard room > 0 else { return [] }
        let sendable = Array(waiting.prefix(room))
        waiting.removeFirst(room)
        heldCount -= room
        held[department] = waiting.isEmpty ? nil : waiting
        return sendable
    }

    /// Every answer held, for a broker that is stopping: its inquiries are durable.
    mutating func releaseAll() -> [Answer] {
        let all = held.values.flatMap { $0 }
        held = [:]
        heldCount = 0
        return all
    }
}
