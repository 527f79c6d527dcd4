import Foundation
import SwitchboardCore

/// Where inquiries live. The broker writes through this protocol only, so a PostgreSQL
/// store can replace SQLite without touching the engine.
///
/// Contract: ``commit(_:)`` applies a whole batch in one transaction and returns only
/// once it is durable; the broker acknowledges nothing before that.
public protocol InquiryStore: Sendable {
    func commit(_ batch: StoreBatch) throws
    /// The inquiry already stored under this deduplication key, if any.
    func inquiryID(for key: DeduplicationKey) throws -> InquiryID?
    /// What a worker is sent: the stored envelope and routing decision.
    func delivery(_ id: InquiryID) throws -> StoredInquiry?
    /// Every inquiry not yet acknowledged, for restoring the queues at start-up,
    /// in delivery order: in flight first, then ready ones by priority and arrival, then
    /// parked ones.
    func openInquiries() throws -> [OpenInquiry]
    /// The state of one inquiry, or nil if there is none with this id.
    func state(of id: InquiryID) throws -> InquiryState?
    /// How many inquiries are in each state.
    func countsByState() throws -> [InquiryState: Int]

    /// An inquiry's lifecycle, SLA clocks and lease.
    func record(_ id: InquiryID) throws -> LifecycleRecord?
    /// Inquiries whose agent lease ran out before `date`.
    func expiredLeases(before date: Date, limit: Int) throws -> [InquiryID]
    /// Inquiries with an SLA alert due before `date`.
    func dueSLAAlerts(before date: Date, limit: Int) throws -> [InquiryID]
    /// Inquiry summaries for agents, newest last.
    func list(_ filter: InquiryFilter) throws -> [InquirySummary]
    /// The whole timeline of one inquiry, oldest first.
    func timeline(_ id: InquiryID) throws -> [TimelineEntry]
    /// Replies not yet confirmed sent by their publishing gateway.
    func pendingOutbound() throws -> [OutboundReply]
    func outbound(_ id: InquiryID) throws -> OutboundReply?
}

/// What the broker keeps about an inquiry's handling.
public struct LifecycleRecord: Sendable, Equatable {
    public var lifecycle: InquiryLifecycle
    public var priority: Priority
    public var sla: InquirySLA
    /// When an agent's claim runs out.
    public var leaseExpiresAt: Date?

    public init(lifecycle: InquiryLifecycle, priority: Priority, sla: InquirySLA, leaseExpiresAt: Date? = nil) {
        self.lifecycle = lifecycle
        self.priority = priority
        self.sla = sla
        self.leaseExpiresAt = leaseExpiresAt
    }
}

public struct InquiryFilter: Sendable, Equatable {
    public var department: String?
    public var state: LifecycleState?
    public var priority: Priority?
    public var limit: Int

    public init(department: String? = nil, state: LifecycleState? = nil, priority: Priority? = nil, limit: Int = 100) {
        self.department = department
        self.state = state
        self.priority = priority
        self.limit = limit
    }
}

/// One line of an agent's queue listing: no citizen text or handle.
public struct InquirySummary: Sendable, Equatable, Codable {
    public var id: InquiryID
    public var department: String
    public var state: LifecycleState
    public var priority: Priority
    public var owner: Actor?
    public var receivedAt: String
    public var platform: Platform
}

/// A reply to a citizen, queued for the platform's publishing gateway.
public struct OutboundReply: Sendable, Equatable {
    public var inquiry: InquiryID
    public var platform: Platform
    public var account: String
    /// The post being answered (the inquiry's `source.external_id`).
    public var inReplyTo: String
    public var text: String
    public var sent: Bool

    public init(inquiry: InquiryID, platform: Platform, account: String, inReplyTo: String, text: String, sent: Bool = false) {
        self.inquiry = inquiry
        self.platform = platform
        self.account = account
        self.inReplyTo = inReplyTo
        self.text = text
        self.sent = sent
    }

    /// The MDP service of the platform's publishing gateway.
    public var service: String { "outbound.\(platform.rawValue)" }
}

public enum InquiryState: String, Sendable, CaseIterable, Codable {
    case ready
    case inFlight = "in_flight"
    case parked
    case acknowledged
}

/// A newly accepted inquiry, ready to be written.
public struct AcceptedInquiry: Sendable {
    public var id: InquiryID
    public var key: DeduplicationKey
    public var department: String
    public var priority: Priority
    /// The envelope as JSON, with `id` and `received_at` filled in.
    public var envelopeJSON: String
    public var routingJSON: String
    public var receivedAt: String

    public init(id: InquiryID, key: DeduplicationKey, department: String, priority: Priority, envelopeJSON: String, routingJSON: String, receivedAt: String) {
        self.id = id
        self.key = key
        self.department = department
        self.priority = priority
        self.envelopeJSON = envelopeJSON
        self.routingJSON = routingJSON
        self.receivedAt = receivedAt
    }
}

/// Everything one turn of the broker loop changed, written in one transaction, in the
/// order it happened.
public struct StoreBatch: Sendable {
    public enum Change: Sendable {
        case accept(AcceptedInquiry)
        case delivered(InquiryID, deliveries: UInt16)
        /// Out of the delivery queue: acknowledged by a worker or held by an agent.
        case acknowledged(InquiryID, at: String)
        case parked(InquiryID, reason: String)
        /// Back in a queue with a fresh delivery count.
        case requeued(InquiryID)
        case record(InquiryID, LifecycleRecord)
        case timeline(TimelineEntry)
        case outbound(OutboundReply)
        case outboundSent(InquiryID, at: String)
    }

    public private(set) var changes: [Change] = []

    public init() {}

    public var isEmpty: Bool { changes.isEmpty }

    public mutating func append(_ change: Change) { changes.append(change) }

    /// Newly accepted inquiries in this batch.
    public var accepted: [AcceptedInquiry] {
        changes.compactMap { if case .accept(let inquiry) = $0 { inquiry } else { nil } }
    }

    public func isRequeued(_ id: InquiryID) -> Bool {
        changes.contains { if case .requeued(id) = $0 { true } else { false } }
    }
}

public struct StoredInquiry: Sendable, Equatable {
    public var id: InquiryID
    public var department: String
    public var priority: Priority
    public var envelopeJSON: String
    public var routingJSON: String
    public var deliveries: UInt16
}

public struct OpenInquiry: Sendable, Equatable {
    public var id: InquiryID
    public var department: String
    public var priority: Priority
    public var state: InquiryState
    public var deliveries: UInt16
}

/// A store failure, naming the operation so the operator knows what did not happen.
public struct StoreError: Error, CustomStringConvertible {
    public init(operation: String, underlying: String) {
        self.operation = operation
        self.underlying = underlying
    }

    public let operation: String
    public let underlying: String
    public var description: String { "store \(operation) failed: \(underlying)" }
}
