import Foundation
import SwitchboardCore
import SwitchboardProtocol

/// The projection: the tables listings, `show`, timelines, exports, erasure, retention
/// and the figures read, brought up to date from the ``InquiryJournal`` off the hot path.
/// The broker writes through this protocol only, so a PostgreSQL store can replace
/// SQLite without touching the engine.
///
/// Contract: ``project(_:through:)`` applies consecutive journal entries in one
/// transaction together with the position they reach, so a projector killed mid-way
/// leaves none of them half applied. One thread projects (the broker's projector); any
/// thread may read.
public protocol InquiryStore: CitizenDirectory {
    /// Applies consecutive journal entries atomically, with the last one's position;
    /// entries at or before the position already held are skipped.
    /// Each inquiry row is written once, in its latest state. An accepted inquiry whose
    /// deduplication key is already stored is not written, and neither is anything else
    /// about it: the result names the inquiry it duplicates (the journal writer checks
    /// keys before appending, so this only happens to a store written behind its back).
    func project(_ entries: [(position: UInt64, batch: JournalBatch)]) throws(StoreError) -> CommitResult
    /// Applies the journal's entries after ``projectedPosition()``: after a crash, before
    /// the broker reads anything. Returns how many it applied.
    @discardableResult
    func catchUp(from journal: any InquiryJournal, perTransaction: Int) throws(StoreError) -> Int
    /// The last journal position the projection holds (0 before the first).
    func projectedPosition() throws(StoreError) -> UInt64
    /// Applies one batch outside the journal (tests, imports of a store's own rows).
    func commit(_ batch: JournalBatch) throws(StoreError) -> CommitResult
    /// The stored inquiries under these deduplication keys: the journal writer's check
    /// for keys older than the engine's memory.
    func stored(_ keys: [DeduplicationKey]) throws(StoreError) -> [DeduplicationKey: DuplicateOf]

    /// Everything the broker needs to deliver or decide about one inquiry, or nil.
    func inquiry(_ id: InquiryID) throws(StoreError) -> StoredInquiry?
    /// The inquiry stored under a deduplication key, if any.
    func inquiry(for key: DeduplicationKey) throws(StoreError) -> DuplicateOf?
    /// The most recently accepted deduplication keys, newest first, to warm the
    /// broker's in-memory index at start-up.
    func recentKeys(limit: Int) throws(StoreError) -> [(key: DeduplicationKey, original: DuplicateOf)]
    /// What goes back into the delivery queues at start-up, in delivery order: those a
    /// worker held when the broker stopped first, then queued ones by priority and
    /// arrival. Parked inquiries stay parked and are only counted.
    func restorable() throws(StoreError) -> (queue: [RestorableInquiry], parked: Int)

    /// An inquiry's lifecycle, SLA clocks, lease and delivery count.
    func record(_ id: InquiryID) throws(StoreError) -> LifecycleRecord?
    /// Inquiries whose agent lease ran out before `date`.
    func expiredLeases(before date: Date, limit: Int) throws(StoreError) -> [InquiryID]
    /// Inquiries with an SLA alert due before `date`.
    func dueSLAAlerts(before date: Date, limit: Int) throws(StoreError) -> [InquiryID]
    /// One page of inquiry summaries for agents, in the order the queue is served.
    func list(_ filter: InquiryFilter) throws(StoreError) -> InquiryPage
    /// What may be published of inquiries (Open311's request list), newest first.
    func publicStatuses(_ query: PublicStatusQuery) throws(StoreError) -> [PublicStatus]
    /// The inquiries received at or after `from` and before `before` (timestamps as the
    /// store writes them), of one department or all, with their timelines: what the
    /// manager's report counts. A page of at most `limit`, in id (arrival) order, after
    /// the inquiry `after`.
    func reportInquiries(receivedFrom from: String, before: String, department: String?, after: InquiryID?,
                         limit: Int) throws(StoreError) -> [ReportInquiry]
    /// The ids of stored inquiries that start with `prefix` (at most `limit`).
    func ids(withPrefix prefix: String, limit: Int) throws(StoreError) -> [InquiryID]
    /// The whole timeline of one inquiry, oldest first.
    func timeline(_ id: InquiryID) throws(StoreError) -> [TimelineEntry]
    /// Messages not yet confirmed sent by their publishing gateway, oldest first.
    func pendingOutbound() throws(StoreError) -> [OutboundMessage]
    /// One message by its id.
    func outbound(_ id: InquiryID) throws(StoreError) -> OutboundMessage?
    /// A posted message by the id the platform gave its post.
    func outbound(platform: Platform, postedAs externalID: String) throws(StoreError) -> OutboundMessage?
    /// The posted messages to `recipient` on `platform` sent up to `sentBy` (a timestamp
    /// as the store writes them) that are not yet known to be `status` (delivered, read).
    func outbound(platform: Platform, recipient: String, sentBy: String, notYet status: String) throws(StoreError) -> [OutboundMessage]
    /// Every message of an inquiry's conversation after the citizen's first post, oldest first.
    func conversation(_ id: InquiryID) throws(StoreError) -> [ConversationMessage]
    /// The inquiry a case number names, if any.
    func inquiry(case number: Int) throws(StoreError) -> InquiryID?
    /// The highest case number ever given, removed rows included: numbering resumes after it.
    func lastCaseNumber() throws(StoreError) -> Int
    /// The installation's id, made once when the store was created.
    func installationID() throws(StoreError) -> String
    /// Inquiries waiting for the citizen, and the posts that continue each: its own, and
    /// those the gateway posted for it.
    func awaitingCitizen() throws(StoreError) -> (inquiries: [StoredInquiry], threads: [ThreadKey])
    /// Every entry of the channel registry, archived ones included.
    func channels() throws(StoreError) -> [ChannelEntry]
    /// How many open (not closed) inquiries stand where, for statistics at start-up.
    func stateCounts() throws(StoreError) -> [StateCount]

    // Data protection (see Protocols/7-data-protection.md)

    /// Looks at up to `limit` closed, not yet anonymised inquiries after `cursor` (oldest
    /// close first), and removes the personal data of those whose retention period has
    /// passed at `now`; the anonymised records stay. A run calls it again with the cursor
    /// it returns until a batch looks at fewer than `limit`.
    func purgeExpired(_ policy: RetentionPolicy, now: Date, limit: Int, after cursor: RetentionCursor?) throws(StoreError) -> RetentionBatch
    /// Every inquiry `handle` wrote on `platform`, open or closed, and their messages.
    func citizenRecords(platform: Platform, handle: String) throws(StoreError) -> CitizenRecords
    /// Removes the personal data of `ids` (closed inquiries), the links touching
    /// `identities` and the notes of the link audit entries naming the audits' hashes, and
    /// writes the audit entries (one per identity), in one transaction; then checkpoints
    /// and truncates the WAL so that no copy of the removed data stays in the files.
    func erase(_ ids: [InquiryID], audits: [ErasureAudit], identities: [CitizenIdentity]) throws(StoreError) -> ErasureOutcome
    /// Checkpoints the WAL into the database and truncates it (after removing data).
    func truncateLog() throws(StoreError)
    /// When earlier erasures for the citizen with this hash were carried out, oldest first.
    func erasures(citizenHash: String) throws(StoreError) -> [Date]
    /// How many closed inquiries an export with these bounds holds.
    func countClosed(before: Date, department: String?, after: InquiryID?) throws(StoreError) -> Int
    /// The official record of closed inquiries, in id order, after `after`.
    func exportClosed(before: Date, department: String?, after: InquiryID?, limit: Int) throws(StoreError) -> [ExportRecord]
}

extension InquiryStore {
    /// Every inquiry of a report's window at once (tests, small windows).
    public func reportInquiries(receivedFrom from: String, before: String, department: String?) throws(StoreError) -> [ReportInquiry] {
        try reportInquiries(receivedFrom: from, before: before, department: department, after: nil, limit: Int.max)
    }

    /// Erases one identity's inquiries, with one audit entry.
    public func erase(_ ids: [InquiryID], audit: ErasureAudit) throws(StoreError) -> ErasureOutcome {
        try erase(ids, audits: [audit], identities: [])
    }
}

/// Where a retention run has looked so far: the close time and row of the last inquiry.
public struct RetentionCursor: Sendable, Equatable {
    public var closedAt: Double
    public var row: Int64
}

/// What one retention transaction did.
public struct RetentionBatch: Sendable, Equatable {
    /// Anonymised, by department.
    public var purged: [String: Int]
    /// Inquiries looked at (due or not).
    public var examined: Int
    /// Where the next batch goes on from.
    public var cursor: RetentionCursor?

    public init(purged: [String: Int], examined: Int, cursor: RetentionCursor?) {
        self.purged = purged
        self.examined = examined
        self.cursor = cursor
    }
}

/// What an erasure request would touch.
public struct CitizenRecords: Sendable, Equatable {
    /// Closed inquiries, with the deduplication keys that name the citizen's posts.
    public var closed: [(id: InquiryID, key: DeduplicationKey)]
    /// Inquiries still being handled: they must be closed before an erasure.
    public var open: [InquiryID]
    /// Messages (the citizen's follow-ups, replies to them) on the closed inquiries.
    public var messages: Int
    /// Closed inquiries already anonymised by retention or an earlier erasure.
    public var alreadyAnonymised: Int
    /// The citizen's follow-up posts threaded into those inquiries: their keys too name them.
    public var followUps: [DeduplicationKey]

    public init(closed: [(id: InquiryID, key: DeduplicationKey)], open: [InquiryID], messages: Int, alreadyAnonymised: Int,
                followUps: [DeduplicationKey] = []) {
        self.closed = closed
        self.open = open
        self.messages = messages
        self.alreadyAnonymised = alreadyAnonymised
        self.followUps = followUps
    }

    public static func == (lhs: CitizenRecords, rhs: CitizenRecords) -> Bool {
        lhs.closed.map(\.id) == rhs.closed.map(\.id) && lhs.open == rhs.open && lhs.messages == rhs.messages
            && lhs.alreadyAnonymised == rhs.alreadyAnonymised
    }
}

/// What an erasure did: the inquiries it anonymised (those still closed when it ran), and
/// whether the WAL was truncated after it (a reader holding an old snapshot can prevent
/// it for a while; the broker tries again after its next retention run).
public struct ErasureOutcome: Sendable, Equatable {
    public var erased: [InquiryID]
    public var logTruncated: Bool

    public init(erased: [InquiryID], logTruncated: Bool) {
        self.erased = erased
        self.logTruncated = logTruncated
    }
}

/// The audit entry an erasure leaves: who asked, when, how much, and a keyed hash of the
/// handle (so a repeated request is recognised), never the handle itself.
public struct ErasureAudit: Sendable, Equatable {
    public var at: Date
    public var actor: String
    public var platform: Platform
    public var citizenHash: String
    public var inquiries: Int
    public var messages: Int

    public init(at: Date, actor: String, platform: Platform, citizenHash: String, inquiries: Int, messages: Int) {
        self.at = at
        self.actor = actor
        self.platform = platform
        self.citizenHash = citizenHash
        self.inquiries = inquiries
        self.messages = messages
    }
}

/// One closed inquiry as the city's records system receives it: the envelope, the
/// routing decision, the lifecycle record, the timeline and the messages, each as stored.
public struct ExportRecord: Sendable {
    public var id: InquiryID
    public var department: String
    public var envelopeJSON: String
    public var routingJSON: String
    public var lifecycleJSON: String?
    public var closedAt: Date?
    public var anonymisedAt: Date?
    /// Timeline entries, oldest first, as stored.
    public var timelineJSON: [String]
    /// Messages, oldest first.
    public var messages: [ExportMessage]
}

public struct ExportMessage: Sendable {
    public var id: String
    public var direction: String
    public var kind: String
    public var platform: String
    public var account: String?
    public var text: String
    public var sentAt: String?
}

public struct InquiryFilter: Sendable, Equatable {
    public var department: String?
    public var state: LifecycleState?
    /// Without a state: leave out closed inquiries (the work still to do).
    public var openOnly = false
    public var priority: Priority?
    public var owner: Actor?
    public var limit: Int
    public var offset: Int

    public init(department: String? = nil, state: LifecycleState? = nil, priority: Priority? = nil, owner: Actor? = nil,
                limit: Int = 100, offset: Int = 0) {
        self.department = department
        self.state = state
        self.priority = priority
        self.owner = owner
        self.limit = limit
        self.offset = offset
    }
}

/// The condition on `id` that finds the inquiries received in a window through the id's
/// index (ids are made at arrival, in time order), for a store to add to the exact one
/// on `received_at`; nil when a bound is not a timestamp.
func receivedIDRange(from: String?, before: String?) -> (low: String?, high: String?) {
    (from.flatMap(CalendarDate.parse).map(InquiryID.lowerBound), before.flatMap(CalendarDate.parse).map(InquiryID.lowerBound))
}

/// Which inquiries a public status list shows (Open311 GeoReport v2, read side).
public struct PublicStatusQuery: Sendable, Equatable {
    /// Case numbers; when any are given, the other conditions are not applied.
    public var caseNumbers: [Int] = []
    /// Departments; none means every department.
    public var departments: [String] = []
    /// Only closed inquiries (true), only open ones (false), or both (nil).
    public var closed: Bool?
    /// Received at or after `receivedFrom` and before `receivedBefore` (timestamps as
    /// the store writes them: `Timestamp.format`).
    public var receivedFrom: String?
    public var receivedBefore: String?
    public var limit: Int

    public init(caseNumbers: [Int] = [], departments: [String] = [], closed: Bool? = nil, receivedFrom: String? = nil,
                receivedBefore: String? = nil, limit: Int = 1_000) {
        self.caseNumbers = caseNumbers
        self.departments = departments
        self.closed = closed
        self.receivedFrom = receivedFrom
        self.receivedBefore = receivedBefore
        self.limit = limit
    }
}

/// What may be published of one inquiry: its case number, where it stands and when it
/// moved, never its text, its author or the channel it came through.
public struct PublicStatus: Sendable, Equatable {
    public var caseNumber: Int
    /// The lifecycle (state, department, resolution) and the SLA clocks.
    public var record: LifecycleRecord
    public var receivedAt: String
    /// When its timeline last moved.
    public var updatedAt: Date?

    public init(caseNumber: Int, record: LifecycleRecord, receivedAt: String, updatedAt: Date?) {
        self.caseNumber = caseNumber
        self.record = record
        self.receivedAt = receivedAt
        self.updatedAt = updatedAt
    }
}

/// One page of a listing, and how many match in all.
public struct InquiryPage: Sendable, Equatable {
    public var items: [InquirySummary]
    public var total: Int

    public init(items: [InquirySummary], total: Int) {
        self.items = items
        self.total = total
    }
}

/// One line of an agent's queue listing: no citizen text or handle.
public struct InquirySummary: Sendable, Equatable {
    public var id: InquiryID
    public var department: String
    public var state: LifecycleState
    public var priority: Priority
    public var owner: Actor?
    public var receivedAt: String
    public var platform: Platform
    /// The start of the citizen's text, on one line, for an agent's queue.
    public var preview: String?
    /// The tightest SLA clock: seconds left (negative when breached) and its state.
    public var slaSecondsLeft: Double?
    public var slaState: String?
    /// The case number people quote.
    public var caseNumber: Int = 0
    /// Messages to the citizen not yet posted (waiting for their gateway).
    public var unsent: Int = 0
    /// The routing decision flagged the account it came through as not official.
    public var unofficialChannel: String?
}

/// A store failure, naming the operation so the operator knows what did not happen,
/// with the database's own error kept underneath.
public struct StoreError: Error, CustomStringConvertible {
    public let operation: String
    public let underlying: any Error

    public init(operation: String, underlying: any Error) {
        self.operation = operation
        self.underlying = underlying
    }

    public var description: String { "store \(operation) failed: \(underlying)" }
}
