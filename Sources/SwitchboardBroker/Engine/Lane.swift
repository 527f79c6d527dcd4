import DequeModule
import Dispatch
import Foundation
import Logging
import Synchronization
import ZeroMQ

/// A helper thread of the engine: it works through the jobs the engine hands it, in
/// order, and posts each result to a mailbox, waking the engine with one byte on an
/// `inproc://` PAIR pipe that the engine polls with its other sockets. Like czmq's
/// `zactor`, but the jobs and results stay Swift values: nothing is encoded to cross.
final class Lane<Job: Sendable, Result: Sendable>: Sendable {
    private struct State {
        var jobs: Deque<Job> = []
        var results: [Result] = []
        var stopping = false
    }

    let name: String
    /// The endpoint the engine binds; the lane's thread connects its end.
    let notifyEndpoint: String
    /// Jobs waiting beyond this are refused by ``submit(_:)``.
    let maxWaiting: Int
    private let logger: Logger
    private let state = Mutex(State())
    private let wake = DispatchSemaphore(value: 0)
    private let finished = DispatchSemaphore(value: 0)

    init(name: String, notifyEndpoint: String, maxWaiting: Int = .max, logger: Logger) {
        self.name = name
        self.notifyEndpoint = notifyEndpoint
        self.maxWaiting = maxWaiting
        self.logger = logger
    }

    /// Starts the thread. `work` handles one job, posting results through its second
    /// argument; it returns false to end the thread early (when told to stop).
    func start(context: Context, work: @escaping @Sendable (Job, _ post: (Result) -> Void) -> Bool) {
        start(context: context, takingUpTo: 1) { jobs, post in work(jobs[0], post) }
    }

    /// Starts the thread with `work` handed up to `limit` waiting jobs at a time, oldest
    /// first (the projector applies several journal entries in one transaction). With a
    /// `gathering` interval, work runs at most once per interval unless `limit` jobs
    /// wait: fewer, larger turns (the projector's transactions share their index pages
    /// and their fsync).
    func start(context: Context, takingUpTo limit: Int, gathering: Duration = .zero,
               work: @escaping @Sendable ([Job], _ post: (Result) -> Void) -> Bool) {
        let thread = Thread { [self] in
            // Named from inside: on Linux only a thread's own name change reaches `top -H`.
            Thread.current.name = name
            run(context: context, limit: limit, gathering: gathering, work: work)
            finished.signal()
        }
        thread.start()
    }

    /// Jobs queued and not yet done.
    var waiting: Int { state.withLock { $0.jobs.count } }

    /// Queues a job; false when `maxWaiting` are already waiting.
    func submit(_ job: Job) -> Bool {
        let queued = state.withLock { state -> Bool in
            guard state.jobs.count < maxWaiting else { return false }
            state.jobs.append(job)
            return true
        }
        if queued { wake.signal() }
        return queued
    }

    /// The results posted since the last call, in order.
    func takeResults() -> [Result] {
        state.withLock { state in
            defer { state.results.removeAll(keepingCapacity: true) }
            return state.results
        }
    }

    /// Whether results wait to be taken.
    var hasResults: Bool { state.withLock { !$0.results.isEmpty } }

    /// Whether ``stop()`` was called: long work checks it.
    var isStopping: Bool { state.withLock { $0.stopping } }

    /// How ``retrying(_:failed:)`` ended.
    enum Retried {
        /// Done at the first attempt.
        case done
        /// Done after at least one failure.
        case recovered
        /// Told to stop while it was still failing.
        case stopped
    }

    /// Runs `attempt` until it succeeds, waiting 50 ms after the first failure and twice
    /// as long after each next one, up to 2 s; the wait is in short steps, so that a stop
    /// is not held up by it. `failed` hears each failure, whether it is the first, and
    /// how long until the next attempt.
    func retrying<Failure: Error>(_ attempt: () throws(Failure) -> Void,
                                  failed: (Failure, _ first: Bool, _ retryIn: Duration) -> Void) -> Retried {
        var backoff = Duration.milliseconds(50)
        var failures = 0
        while true {
            do {
                try attempt()
                return failures == 0 ? .done : .recovered
            } catch {
                failed(error, failures == 0, backoff)
                failures += 1
            }
            let until = ContinuousClock.now + backoff
            while ContinuousClock.now < until {
                if isStopping { return .stopped }
                Thread.sleep(forTimeInterval: 0.01)
            }
            backoff = min(backoff * 2, .seconds(2))
        }
    }

    /// Finishes the queued jobs (unless `work` gives up), then ends the thread.
    func stop() {
        state.withLock { $0.stopping = true }
        wake.signal()
        finished.wait()
    }

    private func run(context: Context, limit: Int, gathering: Duration, work: ([Job], (Result) -> Void) -> Bool) {
        let pipe: Socket
        do {
            pipe = try Socket(context, .pair)
            try pipe.connect(notifyEndpoint)
        } catch {
            logger.critical("helper thread cannot reach the engine", metadata: ["thread": "\(name)", "error": "\(error)"])
            return
        }
        defer { pipe.close() }
        let post: (Result) -> Void = { [self] result in
            state.withLock { $0.results.append(result) }
            // One byte wakes the engine; if its queue is full, a wake-up is pending anyway.
            _ = try? pipe.send([Frame([1])], dontWait: true)
        }
        var lastTurn = ContinuousClock.now - gathering
        while true {
            wake.wait()
            // A job leaves the queue only once done, so a retried one keeps its place.
            while true {
                let gatherUntil = lastTurn + gathering
                while ContinuousClock.now < gatherUntil, !isStopping, waiting < limit {
                    Thread.sleep(forTimeInterval: min(0.002, (gatherUntil - ContinuousClock.now).seconds))
                }
                let jobs = state.withLock { Array($0.jobs.prefix(limit)) }
                guard !jobs.isEmpty else { break }
                lastTurn = ContinuousClock.now
                guard work(jobs, post) else { return }
                state.withLock { $0.jobs.removeFirst(jobs.count) }
            }
            if isStopping { return }
        }
    }
}
