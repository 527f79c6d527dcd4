import Foundation
import Logging
import SwitchboardCore
import SwitchboardProtocol
import SwitchboardStore
import ZeroMQ

/// A thread that reads from the projection what the engine needs and does not hold, so
/// that the engine thread never waits on the disk for it:
/// - for an agent's move, the inquiry a case number (`R-4821`) names, and an inquiry the
///   engine let go (claimed long ago, answered, closed, parked). The move waits here, with
///   its request, and goes on in the engine once read; moves come back in the order they
///   came. A case number given a moment ago is found: the read first waits until the
///   projection holds what was durable when the move arrived;
/// - for the timers, the claims whose lease expired and the inquiries whose SLA alert is
///   due, with the inquiries themselves.
///
/// An inquiry is out of the engine's memory only once the projection holds its last
/// change. Each result says which projection position it read (``Result/readThrough``):
/// the engine refuses a copy older than a change it has let go of since (see
/// ``InquiryMachine/load(_:readThrough:)``) and asks again.
final class LoadLane: Sendable {
    enum Work: Sendable {
        /// An agent's move, whose case number is resolved here with this numbering.
        case move(client: Frame, service: AgentService, request: AgentRequest, numbering: CaseNumbering)
        /// Expired claims and due SLA alerts before this time, at most `limit` of each.
        case timers(before: Date, limit: Int)
    }

    struct Job: Sendable {
        var work: Work
        /// The journal position durable when the job was submitted.
        var after: UInt64
    }

    struct Result: Sendable {
        var job: Job
        /// The projection's position before the read: it holds at least this.
        var readThrough: UInt64 = 0
        /// The inquiries read (for a move: the one it names, none when the store holds no
        /// such inquiry, and the machine answers `not_found`).
        var stored: [StoredInquiry] = []
        /// For timers: claims whose lease expired, and inquiries whose SLA alert is due.
        var expiredLeases: [InquiryID] = []
        var dueAlerts: [InquiryID] = []
        /// Set when the store could not be read (a move is answered `store_unavailable`).
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
            post(Self.read(job, in: store, progress: progress))
            return true
        }
    }

    private static func read(_ job: Job, in store: any InquiryStore, progress: ProjectionProgress) -> Result {
        var result = Result(job: job)
        switch job.work {
        case .move(let client, let service, var request, let numbering):
            do throws(AgentError) {
                try request.resolveCase(numbering, in: store, once: progress, holds: job.after)
            } catch {
                result.refusal = error
                return result
            }
            result.job.work = .move(client: client, service: service, request: request, numbering: numbering)
            guard let id = try? request.id() else { return result }
            result.readThrough = progress.projected
            do {
                result.stored = try store.inquiry(id).map { [$0] } ?? []
            } catch {
                result.failure = "\(error)"
            }
        case .timers(let before, let limit):
            result.readThrough = progress.projected
            do {
                result.expiredLeases = try store.expiredLeases(before: before, limit: limit)
                result.dueAlerts = try store.dueSLAAlerts(before: before, limit: limit)
                for id in result.expiredLeases + result.dueAlerts {
                    if let stored = try store.inquiry(id) { result.stored.append(stored) }
                }
            } catch {
                result.failure = "\(error)"
            }
        }
        return result
    }

    /// Queues a job; false when too many are waiting (a move is answered "unavailable").
    func submit(_ job: Job) -> Bool { lane.submit(job) }

    func takeResults() -> [Result] { lane.takeResults() }

    func stop() { lane.stop() }
}
