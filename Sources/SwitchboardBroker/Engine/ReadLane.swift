import DequeModule
import Dispatch
import Foundation
import Logging
import Synchronization
import ZeroMQ

/// A thread that answers agents' reads (`sb.agent.list`, `sb.agent.timeline`) from the
/// store's read side, so a listing never holds up the engine thread. WAL lets these
/// reads run beside the writer's commits; they see what is durable, which is all any
/// client has been told about.
///
/// The engine hands it requests; each answer comes back through a mailbox, with one
/// byte on an `inproc://` PAIR pipe to wake the engine, which sends it on the ROUTER
/// socket it owns.
final class ReadLane: Sendable {
    struct Job: Sendable {
        var client: Frame
        var service: AgentService
        var body: [Frame]
    }

    struct Answer: Sendable {
        var client: Frame
        var service: String
        var frame: Frame
    }

    private struct State {
        var jobs: Deque<Job> = []
        var answers: [Answer] = []
        var stopping = false
    }

    /// Reads waiting beyond this are refused at once: a flood of listings cannot grow
    /// the broker's memory.
    static let maxWaiting = 1_024

    private let reads: AgentReads
    private let logger: Logger
    private let state = Mutex(State())
    private let wake = DispatchSemaphore(value: 0)
    private let finished = DispatchSemaphore(value: 0)
    let notifyEndpoint: String

    init(reads: AgentReads, logger: Logger, notifyEndpoint: String) {
        self.reads = reads
        self.logger = logger
        self.notifyEndpoint = notifyEndpoint
    }

    func start(context: Context) {
        let thread = Thread { [self] in
            run(context: context)
            finished.signal()
        }
        thread.name = "switchboard-reads"
        thread.start()
    }

    /// Queues a read; false when too many are waiting (the caller answers "unavailable").
    func submit(_ job: Job) -> Bool {
        let queued = state.withLock { state -> Bool in
            guard state.jobs.count < Self.maxWaiting else { return false }
            state.jobs.append(job)
            return true
        }
        if queued { wake.signal() }
        return queued
    }

    func takeAnswers() -> [Answer] {
        state.withLock { state in
            defer { state.answers.removeAll(keepingCapacity: true) }
            return state.answers
        }
    }

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
            logger.critical("read lane cannot reach the engine", metadata: ["error": "\(error)"])
            return
        }
        defer { pipe.close() }
        while true {
            wake.wait()
            while let job = state.withLock({ $0.jobs.popFirst() }) {
                let answer: InquiryReply
                do {
                    answer = reads.answer(job.service, try AgentRequest(job.body))
                } catch {
                    answer = .agentError(error)
                }
                state.withLock { $0.answers.append(Answer(client: job.client, service: job.service.rawValue, frame: answer.frame)) }
                _ = try? pipe.send([Frame([1])], dontWait: true)
            }
            if state.withLock({ $0.stopping }) { return }
        }
    }
}
