import Foundation
import Logging
import Majordomo
import SwitchboardCore
import SwitchboardStore
import ZeroMQ

/// The broker's durable side: takes `sb.ingest` and `sb.admin.*` requests, validates,
/// routes and deduplicates inquiries, and collects one loop turn's changes into a
/// single ``StoreBatch``. Replies wait until that batch is committed: **nothing is
/// acknowledged before it is on disk.**
///
/// Owned by the engine thread, like the sockets.
struct InquiryDesk {
    static let ingestService = "sb.ingest"
    static let requeueService = "sb.admin.requeue"
    static let services: Set<String> = Set([ingestService, requeueService] + AgentService.allCases.map(\.rawValue))

    let store: any InquiryStore
    let decoder: EnvelopeDecoder
    let router: Router
    let configuration: SwitchboardConfiguration
    let logger: Logger

    var batch = StoreBatch()
    /// Replies to send once the batch is durable: (client, service, JSON body).
    var pendingReplies: [(client: Frame, service: String, body: IngestReply)] = []
    /// Inquiries to queue once the batch is durable.
    var pendingQueue: [(department: String, entry: QueueEntry)] = []
    /// Lifecycle records changed this turn (newer than the store's) and, after the
    /// commit, a cache of recent ones, so that a delivery and its acknowledgement do
    /// not each read and decode the record again.
    var records: [InquiryID: LifecycleRecord] = [:]
    static let recordCacheLimit = 20_000
    /// Events to publish once the batch is durable.
    var events: [BrokerStreamEvent] = []
    /// Deduplication keys accepted in this turn, not yet in the store.
    private var batchKeys: [DeduplicationKey: IngestReply] = [:]

    private let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()

    init(store: any InquiryStore, configuration: SwitchboardConfiguration, logger: Logger) {
        self.store = store
        decoder = configuration.envelopeDecoder
        router = configuration.router
        self.configuration = configuration
        self.logger = logger
    }

    var hasPendingWork: Bool { !batch.isEmpty || !pendingReplies.isEmpty || !events.isEmpty }

    mutating func append(_ change: StoreBatch.Change) { batch.append(change) }

    // MARK: Requests

    mutating func handle(client: Frame, service: String, body: [Frame], now: Date) {
        let reply: IngestReply
        switch service {
        case Self.ingestService: reply = ingest(body, now: now)
        case Self.requeueService: reply = requeue(body, now: now)
        default: reply = .rejected(IngestError(.invalidValue, field: nil, "unknown service \(service)"))
        }
        pendingReplies.append((client, service, reply))
    }

    /// Keeps the record cache bounded: past the limit it starts again empty, which
    /// costs one read per record and never a scan per turn.
    mutating func trimRecordCache() {
        if records.count > Self.recordCacheLimit { records = [:] }
    }

    mutating func reply(to client: Frame, service: String, _ reply: IngestReply) {
        pendingReplies.append((client, service, reply))
    }

    private mutating func ingest(_ body: [Frame], now: Date) -> IngestReply {
        guard body.count == 1 else {
            return .rejected(IngestError(.invalidJSON, field: nil, "the request body must be exactly one frame holding the JSON envelope; got \(body.count)"))
        }
        var inquiry: Inquiry
        do {
            inquiry = try decoder.decode(body[0].bytes)
        } catch {
            return .rejected(error)
        }
        let key = inquiry.deduplicationKey
        if let earlier = batchKeys[key] { return earlier.asDuplicate }
        do {
            if let existing = try store.inquiryID(for: key) {
                let stored = try store.delivery(existing)
                return .duplicate(of: existing, key: key, department: stored?.department, priority: stored?.priority)
            }
        } catch {
            logger.error("deduplication lookup failed", metadata: ["error": "\(error)"])
            return .unavailable
        }
        let decision = router.route(inquiry)
        let id = InquiryID.generate(at: now)
        inquiry.id = id
        inquiry.receivedAt = Self.timestamp(now)
        guard let envelope = try? String(decoding: encoder.encode(inquiry), as: UTF8.self),
              let routing = try? String(decoding: encoder.encode(decision), as: UTF8.self)
        else { return .unavailable }
        batch.append(.accept(AcceptedInquiry(
            id: id, key: key, department: decision.department, priority: decision.priority,
            envelopeJSON: envelope, routingJSON: routing, receivedAt: inquiry.receivedAt!
        )))
        let routed = InquiryLifecycle.routedEntry(id: id, department: decision.department, at: now)
        save(LifecycleRecord(
            lifecycle: InquiryLifecycle(id: id, department: decision.department), priority: decision.priority,
            sla: InquirySLA(department: decision.department, priority: decision.priority, policy: configuration.sla, at: now)
        ), entry: routed)
        pendingQueue.append((decision.department, QueueEntry(id: id, priority: decision.priority)))
        let reply = IngestReply.accepted(id: id, key: key, department: decision.department, priority: decision.priority)
        batchKeys[key] = reply
        return reply
    }

    private mutating func requeue(_ body: [Frame], now: Date) -> IngestReply {
        guard body.count == 1, let object = try? JSONSerialization.jsonObject(with: Data(body[0].bytes)) as? [String: Any],
              let text = object["id"] as? String else {
            return .rejected(IngestError(.invalidJSON, field: "id", "send {\"id\": \"<inquiry id>\"}"))
        }
        guard let id = InquiryID(text) else { return .rejected(IngestError(.invalidValue, field: "id", "\(text) is not an inquiry id")) }
        do {
            guard let stored = try store.delivery(id), try store.state(of: id) == .parked else {
                return .rejected(IngestError(.invalidValue, field: "id", "inquiry \(id) is not parked; only parked inquiries can be requeued"))
            }
            guard !batch.isRequeued(id) else { return .requeued(id: id, department: stored.department) }
            _ = try? transition(id, .requeue, by: .system, at: now)
            batch.append(.requeued(id))
            pendingQueue.append((stored.department, QueueEntry(id: id, priority: stored.priority)))
            return .requeued(id: id, department: stored.department)
        } catch {
            logger.error("requeue lookup failed", metadata: ["error": "\(error)"])
            return .unavailable
        }
    }

    // MARK: Changes from deliveries

    mutating func recordDelivery(_ entry: QueueEntry) {
        batch.append(.delivered(entry.id, deliveries: entry.deliveries))
    }

    mutating func recordAcknowledgement(_ entry: QueueEntry, now: Date) {
        batch.append(.acknowledged(entry.id, at: Self.timestamp(now)))
    }

    mutating func recordParked(_ entry: QueueEntry, reason: String, now: Date) {
        batch.append(.parked(entry.id, reason: reason))
        _ = try? transition(entry.id, .park(reason: reason), by: .system, at: now)
    }

    /// What a worker receives for a stored inquiry: one JSON frame with the envelope,
    /// the routing decision and the delivery metadata.
    func deliveryBody(_ entry: QueueEntry, department: String) throws -> Frame? {
        guard let stored = try store.delivery(entry.id) else { return nil }
        let delivery = #"{"count":\#(entry.deliveries),"department":"\#(department)","inquiry_id":"\#(entry.id)","priority":"\#(entry.priority.rawValue)"}"#
        return Frame(#"{"delivery":\#(delivery),"inquiry":\#(stored.envelopeJSON),"routing":\#(stored.routingJSON)}"#)
    }

    // MARK: The end of a turn

    /// Commits the turn's batch in one transaction. On success returns the replies to
    /// send and the inquiries to queue; on failure, every accepted inquiry of the turn
    /// is answered `rejected` with `store_unavailable`, so no gateway is told "accepted"
    /// for something not on disk.
    mutating func commitTurn() -> (replies: [(Frame, [Frame])], queue: [(department: String, entry: QueueEntry)], events: [BrokerStreamEvent]) {
        defer {
            batch = StoreBatch()
            pendingReplies = []
            pendingQueue = []
            batchKeys = [:]
            events = []
        }
        var queue = pendingQueue
        var published = events
        trimRecordCache()
        var committed = true
        do {
            try store.commit(batch)
        } catch {
            committed = false
            queue = []
            published = []
            records = [:]   // the cache held changes that never reached the disk
            logger.critical("commit failed; this turn's inquiries were not accepted", metadata: [
                "error": "\(error)", "inquiries": "\(batch.accepted.count)",
            ])
        }
        let replies = pendingReplies.map { pending -> (Frame, [Frame]) in
            let reply = committed || !pending.body.needsCommit ? pending.body : .unavailable
            return (pending.client, ClientMessage(service: pending.service, body: [reply.json]).frames)
        }
        return (replies, queue, published)
    }

    /// ISO 8601 with milliseconds, through a value-type format style (cheap, and safe
    /// when several engines share a process).
    static func timestamp(_ date: Date) -> String {
        timestampStyle.format(date)
    }

    private static let timestampStyle = Date.ISO8601FormatStyle(includingFractionalSeconds: true)
}

/// The JSON reply to `sb.ingest` (and `sb.admin.requeue`).
enum IngestReply {
    case accepted(id: InquiryID, key: DeduplicationKey, department: String, priority: Priority)
    case duplicate(of: InquiryID, key: DeduplicationKey, department: String?, priority: Priority?)
    case rejected(IngestError)
    case requeued(id: InquiryID, department: String)
    /// An agent service's answer, as a JSON object.
    case agent(ok: Bool, [String: Any])
    /// The store could not be written or read: try again later.
    case unavailable

    var asDuplicate: IngestReply {
        if case .accepted(let id, let key, let department, let priority) = self {
            return .duplicate(of: id, key: key, department: department, priority: priority)
        }
        return self
    }

    var needsCommit: Bool {
        switch self {
        case .accepted, .requeued, .duplicate: true
        case .agent(let ok, _): ok
        case .rejected, .unavailable: false
        }
    }

    var json: Frame {
        var writer = JSONWriter()
        switch self {
        case .accepted(let id, let key, let department, let priority):
            writer.add("status", "accepted")
            writer.add("id", id.description)
            writer.add("department", department)
            writer.add("priority", priority.rawValue)
            writer.add("platform", key.platform.rawValue)
            writer.add("external_id", key.externalID)
        case .duplicate(let original, let key, let department, let priority):
            writer.add("status", "duplicate")
            writer.add("id", original.description)
            writer.add("duplicate_of", original.description)
            writer.add("department", department)
            writer.add("priority", priority?.rawValue)
            writer.add("platform", key.platform.rawValue)
            writer.add("external_id", key.externalID)
        case .rejected(let error):
            var detail = JSONWriter()
            detail.add("code", error.code.rawValue)
            detail.add("message", error.message)
            detail.add("field", error.field)
            writer.add("status", "rejected")
            writer.add("error", object: detail)
        case .requeued(let id, let department):
            writer.add("status", "requeued")
            writer.add("id", id.description)
            writer.add("department", department)
        case .unavailable:
            var detail = JSONWriter()
            detail.add("code", "store_unavailable")
            detail.add("message", "the broker could not write to its store; retry later")
            writer.add("status", "rejected")
            writer.add("error", object: detail)
        case .agent(_, let object):
            // Agent answers nest lists and timelines; they are rare enough for Foundation.
            let data = (try? JSONSerialization.data(withJSONObject: object, options: [.withoutEscapingSlashes])) ?? Data()
            return Frame(bytes: data)
        }
        return Frame(writer.result)
    }
}
