import Dispatch
import Foundation
import Logging
import Majordomo
import Synchronization
import SwitchboardCore
import SwitchboardProtocol
import ZeroMQ

/// The gateway's one connection to the broker's `sb.ingest`, on a thread of its own (a
/// ZeroMQ socket belongs to one thread). A webhook hands it the envelopes of one delivery
/// and waits: the platform is answered 200 only once the broker has answered every one of
/// them, and 503 (so it delivers again) if the broker is down, slower than the platform
/// waits, or could not store them. Sending again is harmless: the broker answers what it
/// has as `duplicate`.
final class IngestLane: Sendable {
    /// What became of one delivery's envelopes.
    struct Outcome: Sendable {
        var accepted = 0
        var duplicate = 0
        var threaded = 0
        /// Refused for what they are (sending again will not help), by error code.
        var rejected: [String: Int] = [:]
        /// Not answered in time, or answered `store_unavailable`: the delivery must come again.
        var unanswered = 0
        /// The requests went out (the lane's own bookkeeping).
        var sent = false

        var stored: Bool { unanswered == 0 }
    }

    private struct Job: Sendable {
        /// `sb.ingest` (answers matched by deduplication key) or another broker service
        /// (answers counted).
        var service = ServiceName.ingest
        var envelopes: [[UInt8]]
        var deadline: ContinuousClock.Instant
        var done: CheckedContinuation<Outcome, Never>
    }

    private let jobs = Mutex<[Job]>([])
    private let wake = DispatchSemaphore(value: 0)
    private let connect: @Sendable () throws -> MajordomoClient
    private let logger: Logger

    init(logger: Logger, connect: @escaping @Sendable () throws -> MajordomoClient) {
        self.logger = logger
        self.connect = connect
    }

    func start() {
        let thread = Thread { [self] in
            Thread.current.name = "sb-gw-ingest"
            run()
        }
        thread.start()
    }

    /// Sends the envelopes and waits for the broker's answers, until `timeout`.
    func ingest(_ envelopes: [[UInt8]], timeout: TimeInterval) async -> Outcome {
        await submit(ServiceName.ingest, envelopes, timeout: timeout)
    }

    /// Sends requests to another broker service (`sb.outbound.status`) and waits until
    /// each is answered; `unanswered` counts those that were not.
    func request(_ service: String, _ bodies: [[UInt8]], timeout: TimeInterval) async -> Outcome {
        await submit(service, bodies, timeout: timeout)
    }

    private func submit(_ service: String, _ bodies: [[UInt8]], timeout: TimeInterval) async -> Outcome {
        guard !bodies.isEmpty else { return Outcome() }
        return await withCheckedContinuation { continuation in
            jobs.withLock {
                $0.append(Job(service: service, envelopes: bodies, deadline: .now + .milliseconds(Int64(timeout * 1_000)), done: continuation))
            }
            wake.signal()
        }
    }

    /// A delivery (or a batch of status reports) whose requests are out, waiting for
    /// their answers.
    private struct Active {
        var job: Job
        var waiting: Int
        var outcome = Outcome()
    }

    /// Deliveries are pipelined: each one's envelopes go out as it comes, whatever is
    /// still waiting, and answers are matched to deliveries by deduplication key (the
    /// broker's answer names it); status reports (which name none) to the oldest batch
    /// waiting. A late answer for a delivery already answered 503 may be taken for the
    /// platform's second try of the same post: it says the truth about that post either way.
    private func run() {
        var client: MajordomoClient?
        var active: [Int: Active] = [:]
        var pending: [String: [Int]] = [:]     // deduplication key → deliveries waiting on it, oldest first
        var nextID = 0
        var redirectsInARow = 0
        /// After a switch of broker: every delivery in flight goes again, whole (what the
        /// first broker stored comes back as duplicates).
        func sendAgain() {
            pending = [:]
            for (id, delivery) in active {
                active[id]?.outcome = Outcome()
                active[id]?.waiting = delivery.job.envelopes.count
            }
        }
        while true {
            if active.isEmpty { wake.wait() }
            for job in jobs.withLock({ queued -> [Job] in defer { queued.removeAll() }; return queued }) {
                active[nextID] = Active(job: job, waiting: job.envelopes.count)
                nextID += 1
            }
            do {
                if client == nil { client = try connect() }
                guard let client else { continue }
                for (id, delivery) in active where delivery.outcome.sent == false {
                    for envelope in delivery.job.envelopes {
                        try client.send(delivery.job.service, body: [Frame(envelope)])
                        if delivery.job.service == ServiceName.ingest { pending[Self.key(of: envelope), default: []].append(id) }
                    }
                    active[id]?.outcome.sent = true
                }
                // Answers for a millisecond, then a look at new deliveries and deadlines.
                var redirected = false
                while let reply = try client.receive(timeout: .milliseconds(1)) {
                    if client.isRedirect(reply) {
                        redirected = true
                        break
                    }
                    if reply.service == ServiceName.ingest {
                        take(reply, active: &active, pending: &pending)
                    } else if let oldest = active.filter({ $0.value.job.service == reply.service && $0.value.waiting > 0 }).keys.min() {
                        let ok = (try? JSONValue.parse(reply.body.first?.bytes ?? []))?["status"]?.stringValue == "ok"
                        active[oldest]?.waiting -= 1
                        if ok { active[oldest]?.outcome.accepted += 1 } else { active[oldest]?.outcome.rejected["refused", default: 0] += 1 }
                    }
                }
                if redirected {
                    // A standby: nothing was stored there. When every broker said so (a
                    // takeover under way, or none can reach the database), wait a little
                    // before the next round; the deliveries' deadlines still run out below.
                    redirectsInARow += 1
                    if redirectsInARow >= client.endpoints.count { Thread.sleep(forTimeInterval: 0.1) }
                    try client.failOver()
                    logger.notice("the broker is a standby; switched", metadata: ["mdp.endpoint": "\(client.endpoint)"])
                    sendAgain()
                } else if !active.isEmpty {
                    redirectsInARow = 0
                }
                let now = ContinuousClock.now
                var silent = false
                for (id, delivery) in active where delivery.waiting == 0 || delivery.job.deadline <= now {
                    var outcome = delivery.outcome
                    silent = silent || delivery.waiting > 0
                    outcome.unanswered += delivery.waiting
                    active[id] = nil
                    for (key, owners) in pending where owners.contains(id) {
                        let left = owners.filter { $0 != id }
                        pending[key] = left.isEmpty ? nil : left
                    }
                    delivery.job.done.resume(returning: outcome)
                }
                // The broker let a delivery run out: with standbys, the next one may serve.
                if silent, client.endpoints.count > 1 {
                    try client.failOver()
                    logger.warning("no answer from the broker in time; switched", metadata: ["mdp.endpoint": "\(client.endpoint)"])
                    sendAgain()
                }
            } catch {
                logger.error("cannot reach the broker", metadata: ["error": "\(error)"])
                client?.close()
                client = nil
                for delivery in active.values { delivery.job.done.resume(returning: Outcome(unanswered: delivery.job.envelopes.count)) }
                active = [:]
                pending = [:]
            }
        }
    }

    /// One answer of `sb.ingest`, to the delivery waiting on its key.
    private func take(_ reply: ClientMessage, active: inout [Int: Active], pending: inout [String: [Int]]) {
        let answer = (try? JSONDecoder().decode(IngestAnswer.self, from: Data(reply.body.first?.bytes ?? [])))
            ?? IngestAnswer(status: .error, error: ErrorDetail(code: .invalidJSON, message: "not an ingest answer"))
        var key = "\(answer.platform ?? "")\u{1F}\(answer.externalID ?? "")"
        // A rejection may name no key: it is charged to the oldest delivery waiting.
        if pending[key] == nil, let oldest = pending.values.compactMap(\.first).min() {
            key = pending.first { $0.value.first == oldest }?.key ?? key
        }
        guard var owners = pending[key], let owner = owners.first else { return }
        owners.removeFirst()
        pending[key] = owners.isEmpty ? nil : owners
        guard var delivery = active[owner] else { return }
        delivery.waiting -= 1
        switch answer.status {
        case .accepted where answer.threadOf != nil || answer.changeOf != nil: delivery.outcome.threaded += 1
        case .accepted: delivery.outcome.accepted += 1
        case .duplicate: delivery.outcome.duplicate += 1
        case .rejected: delivery.outcome.rejected[answer.error?.code.rawValue ?? "rejected", default: 0] += 1
        case .error: delivery.outcome.unanswered += 1
        }
        active[owner] = delivery
    }

    /// The envelope's deduplication key as the broker's answer names it.
    static func key(of envelope: [UInt8]) -> String {
        let value = try? JSONValue.parse(envelope)
        let platform = value?["source"]?["platform"]?.stringValue ?? ""
        let id = value?["source"]?["external_id"]?.stringValue ?? ""
        return "\(platform)\u{1F}\(id)"
    }
}
