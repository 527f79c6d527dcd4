import Foundation
import Logging
import SwitchboardCore
import SwitchboardProtocol
import SwitchboardStore
import ZeroMQ

/// A thread that reads from the projection the inquiries an agent's move needs and the
/// engine does not hold (claimed long ago, answered, closed, parked), so that the engine
/// thread never waits on the disk for them. The move waits here, with its request, and
/// goes on in the engine once its inquiry is read; moves for one inquiry come back in the
/// order they came.
///
/// An inquiry is out of the engine's memory only once the projection holds its last
/// change, so what is read here is never older than what was acknowledged.
final class LoadLane: Sendable {
    struct Job: Sendable {
        var client: Frame
        var service: AgentService
        var request: AgentRequest
        var id: InquiryID
    }

    struct Result: Sendable {
        var job: Job
        /// Nil when the store holds no such inquiry (the machine answers `not_found`).
        var stored: StoredInquiry?
        /// Set when the store could not be read (the move is answered `store_unavailable`).
        var failure: String?
    }

    /// Moves waiting beyond this are refused at once.
    static let maxWaiting = 1_024

    private let store: any InquiryStore
    private let lane: Lane<Job, Result>

    init(store: any InquiryStore, logger: Logger, notifyEndpoint: String) {
        self.store = store
        lane = Lane(name: "sb-loads", notifyEndpoint: notifyEndpoint, maxWaiting: Self.maxWaiting, logger: logger)
    }

    func start(context: Context) {
        lane.start(context: context) { [store] job, post in
            do {
                post(Result(job: job, stored: try store.inquiry(job.id), failure: nil))
            } catch {
                post(Result(job: job, stored: nil, failure: "\(error)"))
            }
            return true
        }
    }

    /// Queues a move; false when too many are waiting (the caller answers "unavailable").
    func submit(_ job: Job) -> Bool { lane.submit(job) }

    func takeResults() -> [Result] { lane.takeResults() }

    func stop() { lane.stop() }
}
