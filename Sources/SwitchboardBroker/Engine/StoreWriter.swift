import DequeModule
import Dispatch
import Foundation
import Logging
import Synchronization
import SwitchboardStore
import ZeroMQ

/// The one thread that makes batches durable, so the engine goes on reading and
/// deciding while SQLite waits on fsync (pipelined group commit).
///
/// The engine hands it sealed batches in order; it commits them one by one and, for
/// each, posts the outcome and wakes the engine through an `inproc://` PAIR pipe. A
/// commit that fails is reported once and then retried, with back-off, until it
/// succeeds: batches after it wait, so the store never holds a later batch without an
/// earlier one.
final class StoreWriter: Sendable {
    enum Outcome: Sendable {
        case committed(sequence: UInt64, result: CommitResult, rows: Int, duration: Duration)
        case failed(sequence: UInt64, error: String)
    }

    private struct Job: Sendable {
        var sequence: UInt64
        var batch: StoreBatch
    }

    private struct State {
        var jobs: Deque<Job> = []
        var outcomes: [Outcome] = []
        var stopping = false
    }

    private let store: any InquiryStore
    private let logger: Logger
    private let state = Mutex(State())
    private let wake = DispatchSemaphore(value: 0)
    private let finished = DispatchSemaphore(value: 0)
    /// The inproc endpoint the engine binds; the writer's thread connects its end.
    let notifyEndpoint: String

    init(store: any InquiryStore, logger: Logger, notifyEndpoint: String) {
        self.store = store
        self.logger = logger
        self.notifyEndpoint = notifyEndpoint
    }

    /// Starts the thread; the engine must have bound `notifyEndpoint` first.
    func start(context: Context) {
        let thread = Thread { [self] in
            run(context: context)
            finished.signal()
        }
        thread.name = "switchboard-store"
        thread.start()
    }

    /// Queues a sealed batch.
    func submit(_ sequence: UInt64, _ batch: StoreBatch) {
        state.withLock { $0.jobs.append(Job(sequence: sequence, batch: batch)) }
        wake.signal()
    }

    /// What finished since the last call, in order.
    func takeOutcomes() -> [Outcome] {
        state.withLock { state in
            defer { state.outcomes.removeAll(keepingCapacity: true) }
            return state.outcomes
        }
    }

    /// Commits what is queued, then ends the thread. A batch still failing is given up:
    /// nobody was told it was stored.
    func stop() {
        state.withLock { $0.stopping = true }
        wake.signal()
        finished.wait()
    }

    private func run(context: Context) {
        let pipe: Socket
        do {
            pipe = try Socket(context, .pair)
            try pipe.connect(notifyEndpoint)
        } catch {
            logger.critical("store writer cannot reach the engine", metadata: ["error": "\(error)"])
            return
        }
        defer { pipe.close() }
        while true {
            wake.wait()
            while let job = state.withLock({ $0.jobs.first }) {
                guard commit(job, pipe: pipe) else { return }
                state.withLock { _ = $0.jobs.popFirst() }
            }
            if state.withLock({ $0.stopping && $0.jobs.isEmpty }) { return }
        }
    }

    /// Commits one batch, retrying until it is durable; false if told to stop first.
    private func commit(_ job: Job, pipe: Socket) -> Bool {
        var backoff = Duration.milliseconds(50)
        var reported = false
        while true {
            let start = ContinuousClock.now
            do {
                let result = try store.commit(job.batch)
                post(.committed(sequence: job.sequence, result: result, rows: job.batch.count, duration: ContinuousClock.now - start), pipe)
                if reported { logger.notice("store writable again; the batch was committed", metadata: ["batch": "\(job.sequence)"]) }
                return true
            } catch {
                logger.critical("commit failed; retrying", metadata: [
                    "batch": "\(job.sequence)", "rows": "\(job.batch.count)", "error": "\(error.underlying)",
                    "retry.in": "\(backoff)",
                ])
                if !reported {
                    post(.failed(sequence: job.sequence, error: "\(error.underlying)"), pipe)
                    reported = true
                }
            }
            // Wait out the back-off in short steps, so a stop is not held up by it.
            let retryAt = ContinuousClock.now + backoff
            while ContinuousClock.now < retryAt {
                if state.withLock({ $0.stopping }) { return false }
                Thread.sleep(forTimeInterval: 0.01)
            }
            backoff = min(backoff * 2, .seconds(2))
        }
    }

    private func post(_ outcome: Outcome, _ pipe: Socket) {
        state.withLock { $0.outcomes.append(outcome) }
        // One byte wakes the engine; if its queue is full, a wake-up is already pending.
        _ = try? pipe.send([Frame([1])], dontWait: true)
    }
}
