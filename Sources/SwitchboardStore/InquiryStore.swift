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
    /// in delivery order: in flight first, then by priority and arrival.
    func openInquiries() throws -> [OpenInquiry]
    /// The state of one inquiry, or nil if there is none with this id.
    func state(of id: InquiryID) throws -> InquiryState?
    /// How many inquiries are in each state.
    func countsByState() throws -> [InquiryState: Int]
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

/// Everything one turn of the broker loop changed: written in one transaction.
public struct StoreBatch: Sendable {
    public var accepted: [AcceptedInquiry] = []
    public var delivered: [(id: InquiryID, deliveries: UInt16)] = []
    public var acknowledged: [(id: InquiryID, at: String)] = []
    public var parked: [(id: InquiryID, reason: String)] = []
    public var requeued: [InquiryID] = []

    public init() {}

    public var isEmpty: Bool {
        accepted.isEmpty && delivered.isEmpty && acknowledged.isEmpty && parked.isEmpty && requeued.isEmpty
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
    public let operation: String
    public let underlying: String
    public var description: String { "store \(operation) failed: \(underlying)" }
}
