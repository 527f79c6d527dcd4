import DequeModule
import Foundation
import Logging
import Synchronization
import SwitchboardCore
import SwitchboardStore
import ZeroMQ

/// The one thread that makes batches durable: one journal append per sealed batch, so
/// the engine goes on reading and deciding while the disk syncs (pipelined group commit).
///
/// Before appending it checks the batch's new deduplication keys against those the
/// journal holds beyond the projection and against the projection itself (the engine's
/// memory of keys is bounded), and leaves out every inquiry that repeats a stored one.
/// Once an entry is durable, its outcome goes to the engine and the entry to the
/// ``Projector``. An append that fails is reported once and then retried, with back-off,
/// until it succeeds: batches after it wait, so the journal never holds a later batch
/// without an earlier one.
final class JournalWriter: Sendable {
    enum Outcome: Sendable {
        case committed(sequence: UInt64, result: CommitResult, rows: Int, duration: Duration)
        case failed(sequence: UInt64, error: String)
    }

    struct Job: Sendable {
        /// The batch's journal position.
        var sequence: UInt64
        var batch: JournalBatch
    }

    private let journal: any InquiryJournal
    private let store: any InquiryStore
    private let projector: Projector
    private let logger: Logger
    private let lane: Lane<Job, Outcome>
    /// Keys appended to the journal and not yet in the projection.
    private let unprojectedKeys = Mutex(UnprojectedKeys())
    /// The position entries were last trimmed through: trims come in bulk (every
    /// ``trimEvery`` projected entries), not with every append.
    private let trimmedThrough = Mutex<UInt64>(0)
    static let trimEvery: UInt64 = 64

    init(journal: any InquiryJournal, store: any InquiryStore, projector: Projector, logger: Logger, notifyEndpoint: String) {
        self.journal = journal
        self.store = store
        self.projector = projector
        self.logger = logger
        lane = Lane(name: "sb-journal", notifyEndpoint: notifyEndpoint, logger: logger)
    }

    /// Starts the thread; the engine must have bound the notify endpoint first.
    func start(context: Context) {
        lane.start(context: context) { [self] job, post in append(job, post: post) }
    }

    func submit(_ sequence: UInt64, _ batch: JournalBatch) {
        _ = lane.submit(Job(sequence: sequence, batch: batch))
    }

    func takeOutcomes() -> [Outcome] { lane.takeResults() }

    /// Whether an outcome waits to be taken (the writer may be idle).
    var hasOutcomes: Bool { lane.hasResults }

    /// Appends what is queued, then ends the thread. A batch still failing is given up:
    /// nobody was told it was stored.
    func stop() { lane.stop() }

    /// Appends one batch, retrying until it is durable; false if told to stop first.
    private func append(_ job: Job, post: (Outcome) -> Void) -> Bool {
        let retried = lane.retrying({ () throws(StoreError) in
            let start = ContinuousClock.now
            let projected = projector.progress.projected
            let duplicates = try repeatedKeys(in: job.batch, projected: projected)
            let batch = duplicates.isEmpty ? job.batch : job.batch.leavingOut(Set(duplicates.keys))
            let lastTrim = trimmedThrough.withLock { $0 }
            let trim = projected >= lastTrim + Self.trimEvery ? projected : 0
            try journal.append(JournalEntry.encode(batch), at: job.sequence, trimmingThrough: trim)
            if trim > 0 { trimmedThrough.withLock { $0 = trim } }
            remember(batch, at: job.sequence)
            projector.progress.committed(through: job.sequence)
            projector.submit(job.sequence, batch)
            post(.committed(sequence: job.sequence, result: CommitResult(duplicates: duplicates), rows: job.batch.count,
                            duration: ContinuousClock.now - start))
        }, failed: { error, first, retryIn in
            logger.critical("journal append failed; retrying", metadata: [
                "batch": "\(job.sequence)", "rows": "\(job.batch.count)", "error": "\(error.underlying)", "retry.in": "\(retryIn)",
            ])
            if first { post(.failed(sequence: job.sequence, error: "\(error.underlying)")) }
        })
        if retried == .recovered { logger.notice("journal writable again; the batch was appended", metadata: ["batch": "\(job.sequence)"]) }
        return retried != .stopped
    }

    /// The batch's accepted inquiries whose key the journal or the projection already holds.
    /// Keys the projection now holds are forgotten first: a key is always in one or the other.
    private func repeatedKeys(in batch: JournalBatch, projected: UInt64) throws(StoreError) -> [InquiryID: DuplicateOf] {
        guard !batch.inserts.isEmpty else { return [:] }
        var found: [InquiryID: DuplicateOf] = [:]
        var unknown: [AcceptedInquiry] = []
        unprojectedKeys.withLock { keys in
            keys.forget(through: projected)
            for inquiry in batch.inserts {
                if let held = keys.byKey[inquiry.key] {
                    found[inquiry.id] = held
                } else if !inquiry.knownNew {
                    unknown.append(inquiry)
                }
            }
        }
        let stored = try store.stored(unknown.map(\.key))
        for inquiry in unknown { if let original = stored[inquiry.key] { found[inquiry.id] = original } }
        return found
    }

    private func remember(_ batch: JournalBatch, at position: UInt64) {
        guard !batch.inserts.isEmpty else { return }
        unprojectedKeys.withLock { keys in
            for inquiry in batch.inserts {
                keys.byKey[inquiry.key] = DuplicateOf(id: inquiry.id, department: inquiry.record.lifecycle.department, priority: inquiry.record.priority)
            }
            keys.appended.append((position, batch.inserts.map(\.key)))
        }
    }
}

/// The deduplication keys of journal entries the projection does not hold yet, in the
/// order they were appended, so that those it now holds are dropped from the front.
struct UnprojectedKeys {
    var byKey: [DeduplicationKey: DuplicateOf] = [:]
    var appended: Deque<(position: UInt64, keys: [DeduplicationKey])> = []

    mutating func forget(through projected: UInt64) {
        while let first = appended.first, first.position <= projected {
            for key in first.keys { byKey[key] = nil }
            appended.removeFirst()
        }
    }
}
