import Foundation

// The changes the inquiry side decides, as the journal records them and the projection
// applies them. They are domain values: the broker's machines build them, the store
// writes them, and neither needs the other's module to do so.

/// A newly accepted inquiry, ready to be written with its first lifecycle record.
public struct AcceptedInquiry: Sendable {
    public var key: DeduplicationKey
    /// The envelope as received, with `id` and `received_at` spliced in.
    public var envelopeJSON: String
    public var routingJSON: String
    public var receivedAt: String
    public var record: LifecycleRecord
    /// The citizen's handle, to find their inquiries for an erasure request.
    public var author: String?
    /// The broker's memory of keys held every stored key when it accepted this one, so
    /// the journal writer need not look the key up in the store. Not journaled.
    public var knownNew: Bool

    public init(key: DeduplicationKey, envelopeJSON: String, routingJSON: String, receivedAt: String, record: LifecycleRecord, author: String? = nil,
                knownNew: Bool = false) {
        self.knownNew = knownNew
        self.key = key
        self.envelopeJSON = envelopeJSON
        self.routingJSON = routingJSON
        self.receivedAt = receivedAt
        self.record = record
        self.author = author
    }

    public var id: InquiryID { record.id }
}

/// Everything one turn of the broker loop changed, written in one transaction.
///
/// Records are kept whole and last-write-wins: an inquiry delivered and acknowledged in
/// the same turn costs one UPDATE, not two.
public struct JournalBatch: Sendable {
    public private(set) var inserts: [AcceptedInquiry] = []
    public private(set) var records: [InquiryID: LifecycleRecord] = [:]
    public private(set) var timeline: [TimelineEntry] = []
    public private(set) var outbound: [OutboundMessage] = []
    public private(set) var outboundSent: [(id: InquiryID, at: String, postedAs: String?)] = []
    /// What the platform said later of posted messages: delivered, read, or failed.
    public private(set) var outboundStatuses: [(id: InquiryID, status: String, at: String, code: String?, reason: String?)] = []
    /// Messages that ended without being posted: failed (with a code) or cancelled.
    public private(set) var outboundEnded: [(id: InquiryID, status: MessageStatus, at: String, code: String?, reason: String)] = []
    public private(set) var inbound: [InboundMessage] = []
    /// Registry entries to write whole (new or changed).
    public private(set) var channels: [ChannelEntry] = []
    /// A rough size in bytes, to bound batches.
    public private(set) var bytes = 0

    public init() {}

    public var isEmpty: Bool {
        inserts.isEmpty && records.isEmpty && timeline.isEmpty && outbound.isEmpty && outboundSent.isEmpty && outboundEnded.isEmpty && outboundStatuses.isEmpty
            && inbound.isEmpty && channels.isEmpty
    }

    /// Rows the batch writes.
    public var count: Int {
        inserts.count + records.count + timeline.count + outbound.count + outboundSent.count + outboundEnded.count + outboundStatuses.count
            + inbound.count + channels.count
    }

    public mutating func insert(_ inquiry: AcceptedInquiry) {
        inserts.append(inquiry)
        bytes += inquiry.envelopeJSON.utf8.count + inquiry.routingJSON.utf8.count + 256
    }

    public mutating func update(_ record: LifecycleRecord) {
        if records.updateValue(record, forKey: record.id) == nil { bytes += 256 }
    }

    public mutating func append(_ entry: TimelineEntry) {
        timeline.append(entry)
        bytes += 192 + (entry.note?.utf8.count ?? 0)
    }

    public mutating func queue(_ message: OutboundMessage) {
        outbound.append(message)
        bytes += message.text.utf8.count + 128
    }

    /// The gateway posted message `id`, as `postedAs` on the platform when it says.
    public mutating func markSent(_ id: InquiryID, at: String, postedAs: String? = nil) {
        outboundSent.append((id, at, postedAs))
        bytes += 64
    }

    /// The gateway could not post message `id` (`code` and `reason` as the platform gave
    /// them), or the broker cancelled it before it was posted.
    public mutating func markEnded(_ id: InquiryID, _ status: MessageStatus, at: String, code: String? = nil, reason: String) {
        outboundEnded.append((id, status, at, code, reason))
        bytes += 64 + reason.utf8.count
    }

    /// The platform's later word on a posted message.
    public mutating func markStatus(_ id: InquiryID, _ status: String, at: String, code: String? = nil, reason: String? = nil) {
        outboundStatuses.append((id, status, at, code, reason))
        bytes += 64 + (reason?.utf8.count ?? 0)
    }

    public mutating func save(_ channel: ChannelEntry) {
        channels.append(channel)
        bytes += 512
    }

    public mutating func receive(_ message: InboundMessage) {
        inbound.append(message)
        bytes += message.text.utf8.count + 128
    }

    /// The batch without anything about `ids` (accepted inquiries that turned out to repeat
    /// stored ones): their rows, records, timeline entries and messages.
    public func leavingOut(_ ids: Set<InquiryID>) -> JournalBatch {
        var copy = self
        copy.inserts.removeAll { ids.contains($0.id) }
        for id in ids { copy.records[id] = nil }
        copy.timeline.removeAll { ids.contains($0.inquiry) }
        copy.outbound.removeAll { ids.contains($0.inquiry) }
        return copy
    }
}

/// What a commit found: accepted inquiries that turned out to repeat a stored one.
public struct CommitResult: Sendable, Equatable {
    /// New id → the inquiry it duplicates.
    public var duplicates: [InquiryID: DuplicateOf]

    public init(duplicates: [InquiryID: DuplicateOf] = [:]) {
        self.duplicates = duplicates
    }
}

/// One stored inquiry: its envelope, routing decision and lifecycle record.
public struct StoredInquiry: Sendable, Equatable {
    public var id: InquiryID
    public var key: DeduplicationKey
    public var envelopeJSON: String
    public var routingJSON: String
    public var receivedAt: String
    public var record: LifecycleRecord

    public init(id: InquiryID, key: DeduplicationKey, envelopeJSON: String, routingJSON: String, receivedAt: String, record: LifecycleRecord) {
        self.id = id
        self.key = key
        self.envelopeJSON = envelopeJSON
        self.routingJSON = routingJSON
        self.receivedAt = receivedAt
        self.record = record
    }
}

/// One inquiry put back in a delivery queue at start-up.
public struct RestorableInquiry: Sendable, Equatable {
    public var id: InquiryID
    public var department: String
    public var priority: Priority
    public var deliveries: UInt16
    /// A worker held it when the broker stopped: it is redelivered first.
    public var wasInFlight: Bool

    public init(id: InquiryID, department: String, priority: Priority, deliveries: UInt16, wasInFlight: Bool) {
        self.id = id
        self.department = department
        self.priority = priority
        self.deliveries = deliveries
        self.wasInFlight = wasInFlight
    }
}

/// Open inquiries of one department in one state, held by one kind of owner.
public struct StateCount: Sendable, Equatable {
    public var department: String
    public var state: LifecycleState
    public var ownerKind: Actor.Kind?
    public var count: Int

    public init(department: String, state: LifecycleState, ownerKind: Actor.Kind?, count: Int) {
        self.department = department
        self.state = state
        self.ownerKind = ownerKind
        self.count = count
    }
}
