import Foundation

/// What the broker keeps about an inquiry's handling: the one representation of its
/// state, written whole on every move.
public struct LifecycleRecord: Sendable, Equatable {
    public var lifecycle: InquiryLifecycle
    public var priority: Priority
    public var sla: InquirySLA
    /// When an agent's claim runs out.
    public var leaseExpiresAt: Date?
    /// How many times it has been handed to a department worker since it was last queued.
    public var deliveries: UInt16
    /// The short sequential number people quote (`R-4821`): assigned once at ingest, the
    /// row's own sequence, never reused (see ``CaseNumber``).
    public var caseNumber: Int

    public init(lifecycle: InquiryLifecycle, priority: Priority, sla: InquirySLA, leaseExpiresAt: Date? = nil, deliveries: UInt16 = 0,
                caseNumber: Int = 0) {
        self.lifecycle = lifecycle
        self.priority = priority
        self.sla = sla
        self.leaseExpiresAt = leaseExpiresAt
        self.deliveries = deliveries
        self.caseNumber = caseNumber
    }

    public var id: InquiryID { lifecycle.id }
}

/// The stored inquiry a duplicate repeats.
public struct DuplicateOf: Sendable, Equatable {
    public var id: InquiryID
    public var department: String
    public var priority: Priority

    public init(id: InquiryID, department: String, priority: Priority) {
        self.id = id
        self.department = department
        self.priority = priority
    }
}
