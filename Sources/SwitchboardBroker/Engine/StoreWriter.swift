import Foundation
import Logging
import SwitchboardStore
import ZeroMQ

/// The one thread that makes batches durable, so the engine goes on reading and
/// deciding while SQLite waits on fsync (pipelined group commit).
///
/// The engine hands it sealed batches in order; it commits them one by one and posts
/// each outcome. A commit that fails is reported once and then retried, with back-off,
/// until it succeeds: batches after it wait, so the store never holds a later batch
/// without an earlier one.
final class StoreWriter: Sendable {
    enum Outcome: Sendable {
        case committed(sequence: UInt64, result: CommitResult, rows: Int, duration: Duration)
        case failed(sequence: UInt64, error: String)
    }

    struct Job: Sendable {
        var sequence: UInt64
        var batch: StoreBatch
    }

    private let store: any InquiryStore
    private let logger: Logger
    private let lane: Lane<Job, Outcome>

    init(store: any InquiryStore, logger: Logger, notifyEndpoint: String) {
        self.store = store
        self.logger = logger
        lane = Lane(name: "switchboard-store", notifyEndpoint: notifyEndpoint, logger: logger)
    }

    /// Starts the thread; the engine must have bound the notify endpoint first.
    func start(context: Context) {
        lane.start(context: context) { [self] job, post in commit(job, post: post) }
    }

    func submit(_ sequence: UInt64, _ batch: StoreBatch) {
        _ = lane.submit(Job(sequence: sequence, batch: batch))
    }

    func takeOutcomes() -> [Outcome] { lane.takeResults() }

    /// Whether an outcome waits to be taken (the writer may be idle).
    var hasOutcomes: Bool { lane.hasResults }

    /// Commits what is queued, then ends the thread. A batch still failing is given up:
    /// nobody was told it was stored.
    func stop() { lane.stop() }

    /// Commits one batch, retrying until it is durable; false if told to stop first.
    private func commit(_ job: Job, post: (Outcome) -> Void) -> Bool {
        var backoff = Duration.milliseconds(50)
        var reported = false
        while true {
            let start = ContinuousClock.now
            do {
                let result = try store.commit(job.batch)
                post(.committed(sequence: job.sequence, result: result, rows: job.batch.count, duration: ContinuousClock.now - start))
                if reported { logger.notice("store writable again; the batch was committed", metadata: ["batch": "\(job.sequence)"]) }
                return true
            } catch {
                logger.critical("commit failed; retrying", metadata: [
                    "batch": "\(job.sequence)", "rows": "\(job.batch.count)", "error": "\(error.underlying)", "retry.in": "\(backoff)",
                ])
                if !reported {
                    post(.failed(sequence: job.sequence, error: "\(error.underlying)"))
                    reported = true
                }
            }
            // Wait out the back-off in short steps, so a stop is not held up by it.
            let retryAt = ContinuousClock.now + backoff
            while ContinuousClock.now < retryAt {
                if lane.isStopping { return false }
                Thread.sleep(forTimeInterval: 0.01)
            }
            backoff = min(backoff * 2, .seconds(2))
        }
    }
}
