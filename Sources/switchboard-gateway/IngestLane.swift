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
        let thread = Thread { [self] in run() }
        thread.name = "switchboard-gateway-ingest"
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

    private func run() {
        var client: MajordomoClient?
        while true {
            wake.wait()
            guard let job = jobs.withLock({ $0.isEmpty ? nil : $0.removeFirst() }) else { continue }
            do {
                if client == nil { client = try connect() }
                let (outcome, clean) = try send(job, through: client!)
                if !clean {
                    // Answers still on their way would be taken for the next delivery's.
                    client?.close()
                    client = nil
                }
                job.done.resume(returning: outcome)
            } catch {
                logger.error("cannot reach the broker", metadata: ["error": "\(error)"])
                client?.close()
                client = nil
                job.done.resume(returning: Outcome(unanswered: job.envelopes.count))
            }
        }
    }

    /// - Returns: the outcome, and whether every answer came (the socket holds no late one).
    private func send(_ job: Job, through client: MajordomoClient) throws -> (Outcome, Bool) {
        var pending: [String: Int] = [:]          // deduplication key → envelopes waiting on it
        var order: [String] = []
        if job.service != ServiceName.ingest { return try count(job, through: client) }
        for envelope in job.envelopes {
            try client.send(ServiceName.ingest, body: [Frame(envelope)])
            let key = Self.key(of: envelope)
            pending[key, default: 0] += 1
            order.append(key)
        }
        var outcome = Outcome()
        var waiting = job.envelopes.count
        while waiting > 0 {
            let left = job.deadline - .now
            guard left > .zero, let reply = try client.receive(timeout: left) else { break }
            let answer = (try? JSONDecoder().decode(IngestAnswer.self, from: Data(reply.body.first?.bytes ?? [])))
                ?? IngestAnswer(status: .error, error: ErrorDetail(code: .invalidJSON, message: "not an ingest answer"))
            var key = "\(answer.platform ?? "")\u{1F}\(answer.externalID ?? "")"
            // A rejection may name no key: it is charged to the oldest envelope waiting.
            if pending[key] == nil, let oldest = order.first(where: { pending[$0] != nil }) { key = oldest }
            guard let count = pending[key] else { continue }
            pending[key] = count > 1 ? count - 1 : nil
            waiting -= 1
            switch answer.status {
            case .accepted where answer.threadOf != nil: outcome.threaded += 1
            case .accepted: outcome.accepted += 1
            case .duplicate: outcome.duplicate += 1
            case .rejected: outcome.rejected[answer.error?.code.rawValue ?? "rejected", default: 0] += 1
            case .error: outcome.unanswered += 1
            }
        }
        outcome.unanswered += waiting
        return (outcome, waiting == 0)
    }

    /// Sends a job's requests and counts the answers that say `ok`.
    private func count(_ job: Job, through client: MajordomoClient) throws -> (Outcome, Bool) {
        for body in job.envelopes { try client.send(job.service, body: [Frame(body)]) }
        var outcome = Outcome(), waiting = job.envelopes.count
        while waiting > 0 {
            let left = job.deadline - .now
            guard left > .zero, let reply = try client.receive(timeout: left) else { break }
            guard reply.service == job.service else { continue }
            waiting -= 1
            let ok = (try? JSONValue.parse(reply.body.first?.bytes ?? []))?["status"]?.stringValue == "ok"
            if ok { outcome.accepted += 1 } else { outcome.rejected["refused", default: 0] += 1 }
        }
        outcome.unanswered = waiting
        return (outcome, waiting == 0)
    }

    /// The envelope's deduplication key as the broker's answer names it.
    static func key(of envelope: [UInt8]) -> String {
        let value = try? JSONValue.parse(envelope)
        let platform = value?["source"]?["platform"]?.stringValue ?? ""
        let id = value?["source"]?["external_id"]?.stringValue ?? ""
        return "\(platform)\u{1F}\(id)"
    }
}
