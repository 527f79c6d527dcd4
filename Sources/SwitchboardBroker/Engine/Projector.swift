import Foundation
import SwitchboardCore
import Logging
import SwitchboardStore
import ZeroMQ

/// The thread that brings the projection up to date from the journal, off the hot path.
///
/// The journal writer hands it each entry once it is durable; it applies every entry
/// waiting (up to ``maxEntriesPerTransaction``) in one transaction, together with the
/// position they reach, so an inquiry accepted, delivered and acknowledged within one
/// window is one row written once. Nothing waits for it to acknowledge: a projector
/// that falls behind (a slow disk, a long read) costs memory, never an acknowledgement,
/// and catches up with larger transactions. A failed transaction is retried with
/// back-off until it succeeds; nothing of it is applied meanwhile.
final class Projector: Sendable {
    enum Outcome: Sendable {
        case projected(through: UInt64, entries: Int, rows: Int, duration: Duration)
        case failed(error: String)
        case recovered
    }

    struct Job: Sendable {
        var position: UInt64
        var batch: JournalBatch
    }

    /// Entries applied in one transaction at most.
    static let maxEntriesPerTransaction = 256
    /// A transaction at most this often (unless the most entries wait): under load each
    /// holds many batches, so their rows share index pages and one fsync. It is also
    /// about the most a read waits for what was acknowledged just before it.
    static let window = Duration.milliseconds(25)

    let progress: ProjectionProgress
    private let store: any InquiryStore
    private let logger: Logger
    private let lane: Lane<Job, Outcome>

    init(store: any InquiryStore, projected: UInt64, logger: Logger, notifyEndpoint: String) {
        self.store = store
        self.logger = logger
        progress = ProjectionProgress(projected: projected)
        lane = Lane(name: "sb-projector", notifyEndpoint: notifyEndpoint, logger: logger)
    }

    func start(context: Context) {
        lane.start(context: context, takingUpTo: Self.maxEntriesPerTransaction, gathering: Self.window) { [self] jobs, post in
            project(jobs, post: post)
        }
    }

    func submit(_ position: UInt64, _ batch: JournalBatch) {
        _ = lane.submit(Job(position: position, batch: batch))
    }

    func takeOutcomes() -> [Outcome] { lane.takeResults() }

    /// Projects what is queued, then ends the thread.
    func stop() { lane.stop() }

    private func project(_ jobs: [Job], post: (Outcome) -> Void) -> Bool {
        let through = jobs[jobs.count - 1].position
        let retried = lane.retrying({ () throws(StoreError) in
            let start = ContinuousClock.now
            let result = try store.project(jobs.map { ($0.position, $0.batch) })
            if !result.duplicates.isEmpty {
                logger.error("the projection already held inquiries the journal accepted; they were left out of it",
                             metadata: ["inquiries": "\(result.duplicates.count)", "position": "\(through)"])
            }
            progress.projected(through: through)
            post(.projected(through: through, entries: jobs.count, rows: jobs.reduce(0) { $0 + $1.batch.count },
                            duration: ContinuousClock.now - start))
        }, failed: { error, first, retryIn in
            logger.critical("projection failed; acknowledgements go on, reads fall behind; retrying", metadata: [
                "position": "\(through)", "error": "\(error.underlying)", "retry.in": "\(retryIn)",
            ])
            if first { post(.failed(error: "\(error.underlying)")) }
        })
        if retried == .recovered {
            logger.notice("projection writable again; it is catching up", metadata: ["position": "\(through)"])
            post(.recovered)
        }
        return retried != .stopped
    }
}

/// How far the journal and the projection have come, shared by the threads that wait on
/// it: a read waits until the projection holds every batch acknowledged before it was
/// asked (read-your-writes for the agent who just claimed), an erasure until it holds all.
final class ProjectionProgress: @unchecked Sendable {
    private let condition = NSCondition()
    private var projectedPosition: UInt64
    private var committedPosition: UInt64

    init(projected: UInt64) {
        projectedPosition = projected
        committedPosition = projected
    }

    /// The last position the projection holds.
    var projected: UInt64 { condition.withLock { projectedPosition } }
    /// The last position the journal holds (durable, perhaps acknowledged).
    var committed: UInt64 { condition.withLock { committedPosition } }

    func committed(through position: UInt64) {
        condition.withLock { committedPosition = max(committedPosition, position) }
    }

    func projected(through position: UInt64) {
        condition.withLock {
            projectedPosition = max(projectedPosition, position)
            condition.broadcast()
        }
    }

    /// Waits until the projection holds `position`, or `timeout` passes; whether it does.
    @discardableResult
    func wait(until position: UInt64, timeout: Duration) -> Bool {
        let deadline = Date().addingTimeInterval(timeout.seconds)
        return condition.withLock {
            while projectedPosition < position {
                guard condition.wait(until: deadline) else { return projectedPosition >= position }
            }
            return true
        }
    }
}
