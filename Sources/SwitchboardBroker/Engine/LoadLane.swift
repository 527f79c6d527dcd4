import Foundation
import Logging
import SwitchboardCore
import SwitchboardProtocol
import SwitchboardStore
import ZeroMQ

/// A thread that reads from the projection what an agent's move needs and the engine does
/// not hold: the inquiry a case number (`R-4821`) names, and an inquiry the engine let go
/// (claimed long ago, answered, closed, parked), so that the engine thread never waits on
/// the disk for them. The move waits here, with its request, and goes on in the engine
/// once read; moves come back in the order they came. A case number given a moment ago is
/// found: the read first waits until the projection holds what was durable when the move
/// arrived.
///
/// An inquiry is out of the engine's memory only once the projection holds its last
/// change, so what is read here is never older than what was acknowledged.
final class LoadLane: Sendable {
    struct Job: Sendable {
        var client: Frame
        var service: AgentService
        var request: AgentRequest
        /// Its case number is resolved here with this numbering.
        var numbering: CaseNumbering
        /// The journal position durable when the move arrived.
        var after: UInt64
    }

    struct Result: Sendable {
        var job: Job
        /// Nil when the store holds no such inquiry (the machine answers `not_found`).
        var stored: StoredInquiry? = nil
        /// Set when the store could not be read (the move is answered `store_unavailable`).
        var failure: String? = nil
        /// The case number names no case.
        var refusal: AgentError? = nil
    }

    /// Moves waiting beyond this are refused at once.
    static let maxWaiting = 1_024

    private let store: any InquiryStore
    private let progress: ProjectionProgress
    private let lane: Lane<Job, Result>

    init(store: any InquiryStore, progress: ProjectionProgress, logger: Logger, notifyEndpoint: String) {
        self.store = store
        self.progress = progress
        lane = Lane(name: "sb-loads", notifyEndpoint: notifyEndpoint, maxWaiting: Self.maxWaiting, logger: logger)
    }

    func start(context: Context) {
        lane.start(context: context) { [store, progress] job, post in
            var job = job
            do throws(AgentError) {
                try job.request.resolveCase(job.numbering, in: store, once: progress, holds: job.after)
            } catch {
                post(Result(job: job, refusal: error))
                return true
            }
            guard let id = try? job.request.id() else {
                post(Result(job: job))
                return true
            }
            do {
                post(Result(job: job, stored: try store.inquiry(id)))
            } catch {
                post(Result(job: job, failure: "\(error)"))
            }
            return true
        }
    }

    /// Queues a move; false when too many are waiting (the caller answers "unavailable").
    func submit(_ job: Job) -> Bool { lane.submit(job) }

    func takeResults() -> [Result] { lane.takeResults() }

    func stop() { lane.stop() }
}
