import Foundation
import Logging
import SwitchboardCore
import SwitchboardProtocol
import SwitchboardStore
import ZeroMQ

/// A thread that answers agents' reads (`sb.agent.list`, `sb.agent.timeline`) and the
/// citizen services (`sb.citizen.*`, whose links are written to the store here) from the
/// projection, so a listing never holds up the engine thread. WAL lets these reads run
/// beside the projector's transactions. A read first waits until the projection holds
/// every batch that was durable when it was asked (``Job/after``): an agent who was
/// told a move is done sees it in the next listing. The engine sends each answer on
/// the ROUTER socket it owns.
final class ReadLane: Sendable {
    /// What a job asks.
    enum Service: Sendable {
        case agent(AgentService)
        /// With who asks: the key's name with CURVE, else the request's `agent` (links are audited by it).
        case citizen(CitizenService, actor: String)

        var name: String {
            switch self {
            case .agent(let service): service.rawValue
            case .citizen(let service, _): service.rawValue
            }
        }
    }

    struct Job: Sendable {
        var client: Frame
        var service: Service
        /// Decoded once by the engine (and, with CURVE, filled in from the key).
        var request: AgentRequest
        /// The key's role with CURVE: reads of one inquiry are checked against it.
        var role: Role?
        /// The configuration in force when the read was asked (a reload may change it).
        var configuration: SwitchboardConfiguration
        /// The journal position durable when it was asked: the read waits for the
        /// projection to hold it.
        var after: UInt64
    }

    struct Answer: Sendable {
        var client: Frame
        var service: String
        var frame: Frame
    }

    /// Reads waiting beyond this are refused at once: a flood of listings cannot grow
    /// the broker's memory.
    static let maxWaiting = 1_024

    /// How long a read waits for the projection before it answers from what it holds
    /// (the projector is failing; it is shown on `/stats` and the status page).
    static let projectionWait = Duration.seconds(5)

    private let store: any InquiryStore
    private let progress: ProjectionProgress
    private let hash: CitizenHash
    private let lane: Lane<Job, Answer>

    init(store: any InquiryStore, progress: ProjectionProgress, hash: CitizenHash, logger: Logger, notifyEndpoint: String) {
        self.store = store
        self.progress = progress
        self.hash = hash
        lane = Lane(name: "sb-reads", notifyEndpoint: notifyEndpoint, maxWaiting: Self.maxWaiting, logger: logger)
    }

    func start(context: Context) {
        lane.start(context: context) { [store, progress, hash] job, post in
            var job = job
            do throws(AgentError) {
                try job.request.resolveCase(job.configuration.caseNumbering, in: store, once: progress, holds: job.after)
            } catch {
                post(Answer(client: job.client, service: job.service.name, frame: InquiryReply.agentError(error).frame))
                return true
            }
            let answer = switch job.service {
            case .agent(let service): AgentReads(store: store, configuration: job.configuration).answer(service, job.request, role: job.role)
            case .citizen(let service, let actor):
                CitizenDesk(store: store, configuration: job.configuration, hash: hash, now: Date(), role: job.role)
                    .answer(service, job.request, actor: actor)
            }
            post(Answer(client: job.client, service: job.service.name, frame: answer.frame))
            return true
        }
    }

    /// Queues a read; false when too many are waiting (the caller answers "unavailable").
    func submit(_ job: Job) -> Bool { lane.submit(job) }

    func takeAnswers() -> [Answer] { lane.takeResults() }

    func stop() { lane.stop() }
}

extension AgentRequest {
    /// Waits until the projection holds `position` (what was durable when the request
    /// came: a case given a moment ago is then found, and an inquiry read is as new as
    /// what was acknowledged), at most ``ReadLane/projectionWait``; then replaces a case
    /// number in `id` by the id it names.
    mutating func resolveCase(_ numbering: CaseNumbering, in store: any InquiryStore, once progress: ProjectionProgress,
                              holds position: UInt64) throws(AgentError) {
        progress.wait(until: position, timeout: ReadLane.projectionWait)
        try resolveCaseNumber(numbering) { number in try store.inquiry(case: number) }
    }
}
