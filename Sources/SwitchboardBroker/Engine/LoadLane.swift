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
///   due, with the inquiries themselves;
/// - for a gateway, the inquiry an edited or deleted post became, and the posted messages
///   a platform's later status names, with their inquiries;
/// - for an operator's requeue, the parked inquiry it names;
/// - for a delivery, the inquiry a worker was handed whose envelope memory does not hold
///   (restored after a restart, or past the memory's budget);
/// - for a publishing gateway's answer, the inquiry of the reply it posted (answered, and
///   so let go of, by then).
///
/// Every read but the timers' first waits until the projection holds what was durable
/// when the request came (a post accepted or confirmed a moment ago is found).
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
        /// The inquiry the post `key` became (`known` when memory still knew its id), for
        /// an edit or deletion that is then ingested again.
        case original(key: DeduplicationKey, known: InquiryID?, client: Frame, body: [Frame])
        /// The posted messages a platform's status names (`sb.outbound.status`).
        case messages(OutboundMessageQuery, status: StatusReport)
        /// The parked inquiry an operator requeues (`sb.admin.requeue`); `sender` is who
        /// asked (with CURVE), whose role is checked against the inquiry's department.
        case requeue(client: Frame, request: AgentRequest, numbering: CaseNumbering, sender: KeyHolder?)
        /// The inquiry of a queue entry handed to `worker`, with its envelope; the
        /// delivery is made once it is read, if the worker still holds the entry.
        case delivery(worker: Frame, department: String, entry: QueueEntry)
        /// The inquiry of an outbound message a publishing gateway answered for (`reply`),
        /// whose timeline records that it was posted, or why not.
        case outboundAnswer(worker: Frame, entry: QueueEntry, reply: [Frame], inquiry: InquiryID, at: Date)
    }

    /// A gateway's `sb.outbound.status` request, checked, waiting for its messages.
    struct StatusReport: Sendable {
        var client: Frame
        var status: OutboundStatusRequest.Status
        var code: String?
        var reason: String?
        var gateway: String
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
        /// For an edit: the inquiry the post became, when the store knows it.
        var original: DuplicateOf? = nil
        /// For a status: the messages it names.
        var messages: [OutboundMessage] = []
        /// Set when the store could not be read (a move is answered `store_unavailable`).
        var failure: String? = nil
        /// The case number names no case.
        var refusal: AgentError? = nil
    }

    /// Moves waiting beyond this are refused at once.
    static let maxWaiting = 1_024
    /// How many of an agent's claims are read back for a claim sent again; an agent
    /// holds a handful at a time.
    static let heldClaimsRead = 200

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
        do {
            try fill(&result, from: store, progress: progress)
        } catch let error as AgentError {
            result.refusal = error
        } catch {
            result.failure = "\(error)"
        }
        return result
    }

    private static func fill(_ result: inout Result, from store: any InquiryStore, progress: ProjectionProgress) throws {
        let after = result.job.after
        switch result.job.work {
        case .move(let client, let service, var request, let numbering):
            // Resolved here, the request goes on with the id in place of the case number.
            try request.resolveCase(numbering, in: store, once: progress, holds: after)
            result.job.work = .move(client: client, service: service, request: request, numbering: numbering)
            // A merge points to another inquiry: it must be one, and not itself merged
            // (a chain, or a cycle, of duplicates would point nowhere).
            if let other = try request.duplicateOf() {
                guard let target = try store.record(other) else { throw AgentError.notFound(other) }
                if let further = target.lifecycle.duplicateOf {
                    let named = numbering.format(target.caseNumber)
                    if further == (try? request.id()) {
                        throw AgentError.invalid(field: "duplicate_of", "\(named) is already merged into this inquiry; answer the citizen here")
                    }
                    let end = try store.record(further).map { numbering.format($0.caseNumber) } ?? further.description
                    throw AgentError.invalid(field: "duplicate_of", "\(named) is itself merged into \(end); merge into \(end)")
                }
            }
            var ids = (try? request.id()).map { [$0] } ?? []
            // A claim of "the next one" that may have been made: the agent's claims.
            if service == .claim, ids.isEmpty, let agent = request.agent, let department = request.department {
                progress.wait(until: after, timeout: ReadLane.projectionWait)
                let held = try store.list(InquiryFilter(department: department, state: .inProgress, owner: agent, limit: Self.heldClaimsRead))
                ids = held.items.map(\.id)
            }
            try read(ids, into: &result, from: store, progress: progress)
        case .requeue(let client, var request, let numbering, let sender):
            try request.resolveCase(numbering, in: store, once: progress, holds: after)
            result.job.work = .requeue(client: client, request: request, numbering: numbering, sender: sender)
            try read((try? request.id()).map { [$0] } ?? [], into: &result, from: store, progress: progress)
        case .timers(let before, let limit):
            result.expiredLeases = try store.expiredLeases(before: before, limit: limit)
            result.dueAlerts = try store.dueSLAAlerts(before: before, limit: limit)
            try read(result.expiredLeases + result.dueAlerts, into: &result, from: store, progress: progress)
        case .original(let key, let known, _, _):
            progress.wait(until: after, timeout: ReadLane.projectionWait)
            result.original = try store.inquiry(for: key)
            try read([known ?? result.original?.id].compactMap { $0 }, into: &result, from: store, progress: progress)
        case .delivery(_, _, let entry):
            try read([entry.id], into: &result, from: store, progress: progress)
            // Accepted a moment ago past the memory's budget: its row is on its way to the
            // projection (the projector is usually a few milliseconds behind).
            if result.stored.isEmpty, progress.projected < after {
                progress.wait(until: after, timeout: ReadLane.projectionWait)
                try read([entry.id], into: &result, from: store, progress: progress)
            }
        case .outboundAnswer(_, _, _, let inquiry, _):
            // Let go of only once projected: no wait.
            try read([inquiry], into: &result, from: store, progress: progress)
        case .messages(let query, _):
            progress.wait(until: after, timeout: ReadLane.projectionWait)
            switch query {
            case .posted(let platform, let externalID):
                result.messages = try store.outbound(platform: platform, postedAs: externalID).map { [$0] } ?? []
            case .watermark(let platform, let recipient, let sentBy, let notYet):
                result.messages = try store.outbound(platform: platform, recipient: recipient, sentBy: sentBy, notYet: notYet)
            }
            try read(Array(Set(result.messages.map(\.inquiry))), into: &result, from: store, progress: progress)
        }
    }

    /// Reads these inquiries, and notes the projection position they are at least as new as.
    private static func read(_ ids: [InquiryID], into result: inout Result, from store: any InquiryStore, progress: ProjectionProgress) throws(StoreError) {
        result.readThrough = progress.projected
        for id in ids {
            if let stored = try store.inquiry(id) { result.stored.append(stored) }
        }
    }
    /// Queues a job; false when too many are waiting (a move is answered "unavailable").
    func submit(_ job: Job) -> Bool { lane.submit(job) }

    func takeResults() -> [Result] { lane.takeResults() }

    func stop() { lane.stop() }
}
