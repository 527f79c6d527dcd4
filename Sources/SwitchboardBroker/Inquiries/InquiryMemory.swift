import SwitchboardCore

/// The inquiries the broker is working on, held in memory: each one's record, its post's
/// key, and while it waits in a queue its envelope and routing decision for delivery.
///
/// **What it keeps.** An inquiry stays while something may happen to it without a person
/// asking (queued, held by a worker, waiting for the citizen), and until the projection
/// holds its last change: the engine then reads it back rather than keep every case ever
/// opened. Envelopes are kept within a byte budget; past it a delivery reads the body back.
///
/// **Stale reads.** A read of the projection made before an inquiry's last change was
/// projected must not replace what memory forgot; while such reads are on their way, the
/// batch that last changed each forgotten inquiry is remembered and an older copy refused.
///
/// A plain value: no store, no socket. The inquiry machine decides; this remembers.
struct InquiryMemory {
    /// An inquiry the broker is working on.
    struct Tracked {
        var record: LifecycleRecord
        var key: DeduplicationKey
        /// The envelope and routing decision as stored, kept for delivery while the
        /// inquiry waits in a queue (dropped past the budget).
        var envelope: String?
        var routing: String?
        /// The citizen's handle, to thread only their own follow-ups, and to name the
        /// recipient of a direct message.
        var author: String?
        /// The platform's conversation id (`source.thread`): a direct message, not a post.
        var thread: String?
        /// The batch that last wrote it: it may be forgotten once that one is projected.
        var writtenIn: UInt64
    }

    private var tracked: [InquiryID: Tracked] = [:]
    /// Bytes of envelopes held.
    private(set) var bodyBytes = 0
    let bodyBudget: Int
    /// Inquiries let go of, with the last batch that changed each: a read of the
    /// projection from before that batch is stale. Kept only while a read that may be
    /// that old is on its way.
    private var forgottenAt: [InquiryID: UInt64] = [:]
    private var readsOnTheirWay = false

    init(bodyBudget: Int) { self.bodyBudget = bodyBudget }

    subscript(id: InquiryID) -> Tracked? { tracked[id] }
    var count: Int { tracked.count }

    /// A new inquiry, written in batch `writtenIn`; its envelope is kept if the budget allows.
    mutating func track(_ record: LifecycleRecord, key: DeduplicationKey, envelope: String, routing: String, author: String, thread: String?,
                        writtenIn: UInt64) {
        let keep = bodyBytes < bodyBudget
        tracked[record.id] = Tracked(record: record, key: key, envelope: keep ? envelope : nil, routing: keep ? routing : nil,
                                     author: author, thread: thread, writtenIn: writtenIn)
        if keep { bodyBytes += envelope.utf8.count }
    }

    /// Adds what the engine read from the projection (`readThrough`: its position when
    /// read), unless it is older than memory: held, the inquiry keeps its record (the
    /// newer) and gains its envelope; forgotten after a change the read did not see, it
    /// is refused and the caller reads again. Returns whether it is now in memory.
    mutating func load(_ stored: StoredInquiry, author: String?, thread: String?, readThrough position: UInt64) -> Bool {
        if let forgotten = forgottenAt[stored.id], forgotten > position { return false }
        if var existing = tracked[stored.id] {
            if existing.envelope == nil {
                existing.envelope = stored.envelopeJSON
                existing.routing = stored.routingJSON
                bodyBytes += stored.envelopeJSON.utf8.count
                tracked[stored.id] = existing
            }
            return true
        }
        tracked[stored.id] = Tracked(record: stored.record, key: stored.key, envelope: stored.envelopeJSON,
                                     routing: stored.routingJSON, author: author, thread: thread, writtenIn: 0)
        bodyBytes += stored.envelopeJSON.utf8.count
        return true
    }

    /// A move changed the record in batch `writtenIn`.
    mutating func update(_ record: LifecycleRecord, writtenIn: UInt64) {
        tracked[record.id]?.record = record
        tracked[record.id]?.writtenIn = writtenIn
    }

    /// A timeline line or a message was written for the inquiry in batch `writtenIn`,
    /// its record unchanged: it stays until the projection holds that batch too, so that
    /// what comes next about that write (a platform's status for a reply just posted)
    /// finds it in memory.
    mutating func touch(_ id: InquiryID, writtenIn: UInt64) {
        tracked[id]?.writtenIn = writtenIn
    }

    /// Delivered: the envelope no longer needs to wait in memory.
    mutating func dropBody(of id: InquiryID) {
        guard let envelope = tracked[id]?.envelope else { return }
        tracked[id]?.envelope = nil
        tracked[id]?.routing = nil
        bodyBytes -= envelope.utf8.count
    }

    /// The store found the inquiry to repeat one it holds: it was never one.
    mutating func discard(_ id: InquiryID) -> Tracked? {
        guard let gone = tracked.removeValue(forKey: id) else { return nil }
        bodyBytes -= gone.envelope?.utf8.count ?? 0
        return gone
    }

    /// The projection holds batch `sequence`, which wrote `touched`: those at rest and not
    /// written again since are let go of.
    mutating func forgetSettled(_ touched: Set<InquiryID>, upTo sequence: UInt64) {
        for id in touched {
            guard let item = tracked[id], item.writtenIn <= sequence, Self.isAtRest(item.record) else { continue }
            bodyBytes -= tracked.removeValue(forKey: id)?.envelope?.utf8.count ?? 0
            if readsOnTheirWay { forgottenAt[id] = item.writtenIn }
        }
    }

    /// Neither waiting in a queue nor held by a worker: nothing happens to it until an
    /// agent, a timer or the citizen acts, and then it is read back.
    static func isAtRest(_ record: LifecycleRecord) -> Bool {
        switch record.lifecycle.state {
        case .queued: false
        case .inProgress: record.lifecycle.owner?.kind != .worker
        // Waiting for the citizen stays in memory: a follow-up is matched at ingest.
        case .awaitingCitizen: false
        case .answered, .closed, .parked: true
        }
    }

    /// The reads on their way all see at least the projection's `position` (nil: none is
    /// on its way): changes older than that need no guard.
    mutating func readsOnTheirWay(since position: UInt64?) {
        readsOnTheirWay = position != nil
        guard !forgottenAt.isEmpty else { return }
        guard let position else { return forgottenAt.removeAll(keepingCapacity: true) }
        forgottenAt = forgottenAt.filter { $0.value > position }
    }

    /// An erasure removed these inquiries' personal data from the store: memory drops its
    /// copies (envelope, handle, conversation), and while a read of the projection from
    /// before the erasure may be on its way, no copy it brings is taken in.
    mutating func erase(_ ids: [InquiryID]) {
        for id in ids {
            if readsOnTheirWay { forgottenAt[id] = .max - 1 }
            guard var item = tracked[id] else { continue }
            bodyBytes -= item.envelope?.utf8.count ?? 0
            item.envelope = nil
            item.routing = nil
            item.author = nil
            item.thread = nil
            tracked[id] = item
        }
    }

    /// The first record in memory that `matches` (no order).
    func first(where matches: (LifecycleRecord) -> Bool) -> LifecycleRecord? {
        tracked.values.lazy.map(\.record).first(where: matches)
    }
}
