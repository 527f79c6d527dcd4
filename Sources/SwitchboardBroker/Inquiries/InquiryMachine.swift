import Foundation
import Majordomo
import SwitchboardCore
import SwitchboardProtocol
import ZeroMQ

/// Everything the broker decides about inquiries, as a pure state machine: events in
/// (an ingest, a delivery, a worker's reply, an agent's command, a timer, a commit that
/// became durable or failed), actions out. It touches no socket and no store; the
/// engine carries out its actions, and hands it what it must read from the store.
///
/// **Durability.** Each decision lands in the open batch: the rows to write, and the
/// replies, queue entries and events that may only be released once those rows are on
/// disk. The engine seals the batch (``sealBatch()``), the store writer commits it, and
/// ``committed(_:result:)`` releases what waited for it.
///
/// **One representation.** An inquiry's state is its ``LifecycleRecord``: in memory
/// while the broker works on it, as one row in the store otherwise. The delivery
/// queues only hold ids, and an entry whose record no longer says "queued here" is
/// dropped when it comes up.
struct InquiryMachine {
    enum Action {
        /// Send now (a delivery to a worker, a refusal that changed nothing).
        case send(peer: Frame, frames: [Frame])
        /// Answer an ingest that names `department` (accepted, duplicate or threaded),
        /// unless that department's workers are behind (see ``IngestFlowControl``).
        case answerIngest(client: Frame, frames: [Frame], department: String)
        /// Put an entry in a delivery queue (released after its commit).
        case enqueue(department: String, entry: QueueEntry)
        /// Take an entry out of a delivery queue now, wherever it stands (queued at
        /// `priority`, when known: then nothing is searched).
        case dequeue(id: InquiryID, department: String, priority: Priority?)
        /// A worker was handed an entry that is stale: give its credit back.
        case forgetHeld(id: InquiryID, worker: Frame)
        /// Publish on the event stream (released after its commit).
        case publish(BrokerStreamEvent)
        /// Something for the log: ids, departments and codes only.
        case log(InquiryLogEvent)
        /// An edit or deletion names a post whose inquiry is not in memory: the load lane
        /// finds it in the projection (by its key, or `known` id), the engine loads it and
        /// ingests the envelope again with `lookedUp`.
        case findOriginal(key: DeduplicationKey, known: InquiryID?, client: Frame, body: [Frame])
    }

    /// What waits for a batch to be durable.
    private enum AfterCommit {
        case reply(client: Frame, service: String, InquiryReply, inquiry: InquiryID?)
        case enqueue(department: String, entry: QueueEntry)
        case publish(BrokerStreamEvent, inquiry: InquiryID)
    }


    /// An inquiry the broker is working on.
    private struct Tracked {
        var record: LifecycleRecord
        var key: DeduplicationKey
        /// The envelope and routing decision as stored, kept for delivery while the
        /// inquiry waits in a queue (dropped past ``bodyBudget``).
        var envelope: String?
        var routing: String?
        /// The citizen's handle, to thread only their own follow-ups, and to name the
        /// recipient of a direct message.
        var author: String?
        /// The platform's conversation id (`source.thread`): a direct message, not a post.
        var thread: String?
        /// The batch that last wrote it: it may be forgotten once that one is durable.
        var writtenIn: UInt64
    }

    private(set) var configuration: SwitchboardConfiguration
    /// Reads envelopes and makes new inquiries of them.
    private var intake: Intake
    private var departments: Set<String>

    private var tracked: [InquiryID: Tracked] = [:]
    private var bodyBytes = 0
    /// Bytes of envelopes kept in memory for queued inquiries.
    let bodyBudget: Int
    /// The posts that became inquiries, and those that continue a conversation; older
    /// keys are caught by the store.
    private var posts: PostMemory
    var keyCapacity: Int { posts.capacity }
    /// The memory of keys holds every key the store holds: a key not in it is new, and the
    /// journal writer skips its store lookup.
    var keysComplete: Bool { posts.isComplete }
    /// Replies and questions waiting for their publishing gateway.
    private var outbound = OutboundDesk()
    var gatewaysOnline: Set<Platform> {
        get { outbound.gatewaysOnline }
        set { outbound.gatewaysOnline = newValue }
    }
    /// The message the current agent move queued, for its answer.
    private var queuedByMove: InquiryMove.QueuedMessage?
    /// The highest case number given so far (see ``CaseNumbering``).
    private var lastCaseNumber = 0
    /// The central registry of official accounts (the store is its record), with its
    /// answers to staff and to the other decisions.
    private(set) var desk: RegistryDesk
    var registry: ChannelRegistry { desk.registry }

    /// Batches on their way to the journal and the projection. The inquiries a batch
    /// wrote stay in memory until the projection holds it, so that what the engine reads
    /// back from the store is never older than what it acknowledged.
    private var pipeline: CommitPipeline<AfterCommit>
    /// A read of the projection is on its way for the engine (see ``load(_:readThrough:)``).
    private var readsOnTheirWay = false
    /// A commit failed and has not yet succeeded on retry: new writes are refused.
    var storeUnavailable: Bool { pipeline.storeUnavailable }
    /// Ingest outcomes so far, for statistics.
    private(set) var ingestCounts = BrokerStats.Ingest(accepted: 0, duplicate: 0, threaded: 0, rejected: [:], unofficialChannel: 0)
    /// Where open inquiries stand and what happened to them, per department.
    private(set) var figures = InquiryFigures()

    /// - Parameter after: the journal's last position: batches are numbered on from it.
    init(configuration: SwitchboardConfiguration, after position: UInt64 = 0, bodyBudget: Int = 64 << 20, keyCapacity: Int = 200_000) {
        self.configuration = configuration
        pipeline = CommitPipeline(after: position)
        desk = RegistryDesk(configuration: configuration)
        intake = Intake(configuration: configuration)
        departments = configuration.departmentIDs
        self.bodyBudget = bodyBudget
        posts = PostMemory(capacity: keyCapacity)
    }

    /// A reloaded configuration: new routing, limits and targets for what comes next.
    /// Inquiries already routed keep their department; SLA clocks already running keep
    /// their targets.
    mutating func reconfigure(_ fresh: SwitchboardConfiguration) {
        configuration = fresh
        intake = Intake(configuration: fresh)
        departments = fresh.departmentIDs
        desk.reconfigure(fresh)
    }

    // MARK: Queries

    /// Whether the engine must load this inquiry from the store before an event about it.
    func needsLoad(_ id: InquiryID) -> Bool { tracked[id] == nil }
    /// Whether a delivery needs the envelope read back (after a restart, or past the budget).
    func needsBody(_ id: InquiryID) -> Bool { tracked[id]?.envelope == nil }
    func record(_ id: InquiryID) -> LifecycleRecord? { tracked[id]?.record }
    var pendingBatches: Int { pipeline.pending }
    var hasOpenBatch: Bool { pipeline.hasOpenBatch }
    /// Rows and bytes in the open batch, to bound it.
    var openBatchSize: (rows: Int, bytes: Int) { pipeline.openSize }

    // MARK: Loading

    /// Adds what the engine read from the store, unless it is older than memory: held in
    /// memory, the inquiry keeps its record (the newer) and gains its envelope; let go of
    /// after a change the read did not see (`readThrough`, the projection's position when
    /// it was read, is before that change's batch), it is refused, and the caller reads
    /// again. Returns whether the inquiry is now in memory.
    @discardableResult
    mutating func load(_ stored: StoredInquiry, readThrough position: UInt64 = .max) -> Bool {
        if let forgotten = forgottenAt[stored.id], forgotten > position { return false }
        if var existing = tracked[stored.id] {
            if existing.envelope == nil {
                existing.envelope = stored.envelopeJSON
                existing.routing = stored.routingJSON
                bodyBytes += stored.envelopeJSON.utf8.count
                tracked[stored.id] = existing
            }
            return true
        }
        let party = Intake.party(of: stored.envelopeJSON)
        tracked[stored.id] = Tracked(record: stored.record, key: stored.key, envelope: stored.envelopeJSON,
                                     routing: stored.routingJSON, author: party.author, thread: party.thread, writtenIn: 0)
        bodyBytes += stored.envelopeJSON.utf8.count
        return true
    }

    /// Inquiries let go of, with the last batch that changed each: a read of the projection
    /// from before that batch is stale. Kept only while a read that may be that old is on
    /// its way (see ``pruneForgotten(readsSince:)``).
    private var forgottenAt: [InquiryID: UInt64] = [:]

    /// The reads on their way all see at least the projection's `position` (nil: none is
    /// on its way): changes older than that need no guard.
    mutating func readsOnTheirWay(since position: UInt64?) {
        readsOnTheirWay = position != nil
        guard !forgottenAt.isEmpty else { return }
        guard let position else { return forgottenAt.removeAll(keepingCapacity: true) }
        forgottenAt = forgottenAt.filter { $0.value > position }
    }

    /// Starts the figures from the store's counts of open inquiries.
    mutating func restoreFigures(_ counts: [StateCount]) {
        figures.restore(counts)
    }

    /// An erasure removed these inquiries' personal data from the store: drop what memory
    /// still holds of them (their posts' keys, a cached envelope, the author's handle).
    /// Replies still waiting for their gateway are dropped (the store deleted them): the
    /// returned actions take them out of the outbound queues.
    mutating func forget(erased ids: [InquiryID], keys erasedKeys: [DeduplicationKey]) -> [Action] {
        posts.forget(Set(erasedKeys))
        // A read of the projection on its way may hold their data from before the erasure:
        // no copy a lane read is taken in until none is on its way.
        if readsOnTheirWay { for id in ids { forgottenAt[id] = .max - 1 } }
        let inquiries = Set(ids)
        var actions: [Action] = []
        for message in outbound.forget(inquiries: inquiries) {
            actions.append(.dequeue(id: message.id, department: message.service, priority: nil))
        }
        for id in ids {
            guard var item = tracked[id] else { continue }
            bodyBytes -= item.envelope?.utf8.count ?? 0
            item.envelope = nil
            item.routing = nil
            item.author = nil
            item.thread = nil
            tracked[id] = item
        }
        return actions
    }

    /// Case numbers resume after the highest one the store ever gave.
    mutating func restoreCaseNumbers(last: Int) {
        lastCaseNumber = max(lastCaseNumber, last)
    }

    /// Messages waiting for their gateway, per platform: how many, and since when the
    /// oldest waits (for `/metrics`, `/stats` and the status page).
    func unsentMessages() -> [Platform: (count: Int, oldest: Date)] { outbound.unsent() }

    /// Warms the deduplication index at start-up (newest first).
    mutating func rememberKeys(_ recent: [(key: DeduplicationKey, original: DuplicateOf)]) {
        posts.warm(recent)
    }

    /// Messages that were queued for a gateway and not yet confirmed sent.
    mutating func restoreOutbound(_ messages: [OutboundMessage]) -> [Action] {
        outbound.restore(messages).map { .enqueue(department: $0.service, entry: $0.entry) }
    }

    /// The registry as stored; on first start (nothing stored) it is seeded from the
    /// configuration's accounts, each obeying the same rules, and the seed is stored.
    mutating func restoreRegistry(_ entries: [ChannelEntry], now: Date) -> [Action] {
        let (seeded, refused) = desk.restore(entries, now: now)
        seeded.forEach { pipeline.open.store.save($0) }
        return refused.map { .log(.seedRefused(platform: $0.platform, code: $0.code)) }
    }

    /// Conversations that wait for the citizen, and the posts that continue them.
    mutating func restoreAwaiting(_ inquiries: [StoredInquiry], threads keys: [ThreadKey]) {
        inquiries.forEach { load($0) }
        for thread in keys { posts.await(thread.inquiry, at: thread.key) }
    }

    // MARK: The batch pipeline

    /// Closes the open batch and hands its rows to the store writer.
    mutating func sealBatch() -> (sequence: UInt64, batch: JournalBatch)? { pipeline.seal() }

    /// A batch is on disk: release its replies, queue entries and events. An accepted
    /// inquiry the store found to be a duplicate is answered as one, and nothing else of
    /// it is released.
    mutating func committed(_ sequence: UInt64, result: CommitResult) -> [Action] {
        guard let batch = pipeline.committed(sequence) else { return [] }
        for (id, original) in result.duplicates {
            if let gone = tracked.removeValue(forKey: id) {
                figures.discarded(gone.record)
                bodyBytes -= gone.envelope?.utf8.count ?? 0
                posts.remember(gone.key, original)
            }
        }
        var actions: [Action] = []
        for pending in batch.held {
            switch pending {
            case .reply(let client, let service, let reply, let inquiry):
                guard !batch.repliesSent else { continue }
                var answer = reply
                if let inquiry, let original = result.duplicates[inquiry], case .accepted(_, let key, _, _) = reply {
                    answer = .duplicate(of: original, key: key)
                }
                // A duplicate answered from memory names the original as known now: an
                // earlier batch's commit may have found that one to repeat a stored inquiry.
                if case .duplicate(_, let key) = reply, let known = posts.original(of: key) { answer = .duplicate(of: known, key: key) }
                count(answer)
                let frames = ClientMessage(service: service, body: [answer.frame]).frames
                if let department = answer.department {
                    actions.append(.answerIngest(client: client, frames: frames, department: department))
                } else {
                    actions.append(.send(peer: client, frames: frames))
                }
            case .enqueue(let department, let entry):
                if result.duplicates[entry.id] == nil { actions.append(.enqueue(department: department, entry: entry)) }
            case .publish(let event, let inquiry):
                if result.duplicates[inquiry] == nil { actions.append(.publish(event)) }
            }
        }
        return actions
    }

    /// The projection holds every batch through `position`: inquiries at rest whose last
    /// change it holds are forgotten.
    mutating func projected(through position: UInt64) {
        for batch in pipeline.projected(through: position) { forgetSettled(batch.touched, upTo: batch.sequence) }
    }

    private mutating func count(_ reply: InquiryReply) {
        switch reply {
        case .accepted: ingestCounts.accepted += 1
        case .duplicate: ingestCounts.duplicate += 1
        case .threaded, .changed: ingestCounts.threaded += 1
        default: break
        }
    }

    /// A commit attempt failed; the writer retries it. Nobody waiting on this batch is
    /// told "done": they hear `unavailable` now, and until a commit succeeds again new
    /// writes are refused at once. Its queue entries and events wait for the retry.
    mutating func commitFailed(_ sequence: UInt64) -> [Action] {
        guard let batch = pipeline.failed(sequence) else { return [] }
        var actions: [Action] = [.log(.commitFailed(batch: sequence, rows: batch.store.count))]
        for case .reply(let client, let service, _, _) in batch.held {
            actions.append(.send(peer: client, frames: ClientMessage(service: service, body: [InquiryReply.unavailable.frame]).frames))
        }
        return actions
    }

    /// Forgets inquiries at rest whose last change the projection holds, so memory holds
    /// only what the broker is working on.
    /// Only the inquiries the projected batch wrote are looked at, and only those not
    /// written again since (a later save moves `writtenIn` on).
    private mutating func forgetSettled(_ touched: Set<InquiryID>, upTo sequence: UInt64) {
        for id in touched {
            guard let item = tracked[id], item.writtenIn <= sequence, isAtRest(item.record) else { continue }
            bodyBytes -= tracked.removeValue(forKey: id)?.envelope?.utf8.count ?? 0
            if readsOnTheirWay { forgottenAt[id] = item.writtenIn }
        }
    }

    /// Neither waiting in a queue nor held by a worker: nothing happens to it until an
    /// agent, a timer or the citizen acts, and then it is read back.
    private func isAtRest(_ record: LifecycleRecord) -> Bool {
        switch record.lifecycle.state {
        case .queued: false
        case .inProgress: record.lifecycle.owner?.kind != .worker
        // Waiting for the citizen stays in memory: a follow-up is matched at ingest.
        case .awaitingCitizen: false
        case .answered, .closed, .parked: true
        }
    }

    // MARK: Ingest

    mutating func ingest(client: Frame, body: [Frame], now: Date, lookedUp: Bool = false) -> [Action] {
        let service = InquiryService.ingest
        guard !storeUnavailable else { return [refuse(client, service, .unavailable)] }
        let inquiry: Inquiry
        do {
            inquiry = try intake.read(body.map(\.bytes))
        } catch {
            ingestCounts.rejected[error.code.rawValue, default: 0] += 1
            return [refuse(client, service, .rejected(error)), .log(.rejected(code: error.code.rawValue))]
        }
        if let change = inquiry.change {
            return self.change(inquiry, change, client: client, body: body, now: now, lookedUp: lookedUp)
        }
        let key = inquiry.deduplicationKey
        if let original = posts.original(of: key) {
            // Answered after the open batch, which follows the original's.
            pipeline.open.held.append(.reply(client: client, service: service, .duplicate(of: original, key: key), inquiry: nil))
            return []
        }
        if let parent = inquiry.source.inReplyTo, let target = posts.conversation(continuedBy: DeduplicationKey(platform: key.platform, externalID: parent)),
           var record = tracked[target]?.record, record.lifecycle.state == .awaitingCitizen,
           tracked[target]?.author?.lowercased() == inquiry.author.handle.lowercased() {
            // Only the citizen who asked continues the conversation: anyone may reply to a
            // public post, and a stranger's reply is a new inquiry.
            return thread(inquiry, into: &record, client: client, now: now)
        }
        lastCaseNumber += 1
        let new = intake.accept(inquiry, bytes: body[0].bytes, channel: desk.verdict(for: inquiry.source), caseNumber: lastCaseNumber,
                                knownNew: keysComplete, now: now)
        let id = new.id, decision = new.decision
        if let unofficial = new.unofficial {
            ingestCounts.unofficialChannel += 1
            ingestCounts.unofficialByPlatform[key.platform.rawValue, default: 0] += 1
            pipeline.open.held.append(.publish(.unofficialActivity(inquiry: id, platform: key.platform, reason: unofficial.reason,
                                                                  imitates: unofficial.imitates?.id, at: now), inquiry: id))
        }
        pipeline.open.store.insert(new.inquiry)
        track(new.inquiry.record, key: key, envelope: new.inquiry.envelopeJSON, routing: new.inquiry.routingJSON,
              author: inquiry.author.handle, thread: new.thread)
        figures.accepted(department: decision.department)
        pipeline.open.touched.insert(id)
        appendTimeline(InquiryLifecycle.routedEntry(id: id, department: decision.department, at: now), priority: decision.priority)
        pipeline.open.held.append(.enqueue(department: decision.department, entry: QueueEntry(id: id, priority: decision.priority)))
        pipeline.open.held.append(.reply(client: client, service: service,
                                       .accepted(id: id, key: key, department: decision.department, priority: decision.priority), inquiry: id))
        posts.remember(key, DuplicateOf(id: id, department: decision.department, priority: decision.priority))
        return []
    }

    /// The citizen answered a question: the follow-up joins the conversation, and the
    /// inquiry resumes with its owner (or in its queue).
    private mutating func thread(_ inquiry: Inquiry, into record: inout LifecycleRecord, client: Frame, now: Date) -> [Action] {
        let key = inquiry.deduplicationKey
        pipeline.open.store.receive(InboundMessage(id: InquiryID.generate(at: now), inquiry: record.id, key: key,
                                          inReplyTo: inquiry.source.inReplyTo ?? "", text: inquiry.text))
        do {
            // An agent who asked gets the inquiry back with a fresh lease; a worker's
            // hold ended with its reply, so the lifecycle queues it (see InquiryLifecycle).
            let lease = record.lifecycle.owner?.kind == .agent ? now.addingTimeInterval(configuration.claimLease) : nil
            try move(&record, .citizenReplied, by: .system, at: now, lease: lease)
        } catch {
            return [refuse(client, InquiryService.ingest, .lifecycleError(error, allowed: nil))]
        }
        let original = DuplicateOf(id: record.id, department: record.lifecycle.department, priority: record.priority)
        posts.remember(key, original)
        pipeline.open.held.append(.reply(client: client, service: InquiryService.ingest, .threaded(into: original, key: key), inquiry: nil))
        return []
    }

    /// A citizen edited or deleted a post: the inquiry it became records the new version
    /// (or that it was withdrawn) in its conversation and timeline; never a new inquiry.
    /// Only the post's author changes it, and the same revision is recorded once.
    private mutating func change(_ inquiry: Inquiry, _ change: Inquiry.Change, client: Frame, body: [Frame], now: Date, lookedUp: Bool) -> [Action] {
        let service = InquiryService.ingest
        let key = inquiry.deduplicationKey
        let revision = DeduplicationKey(platform: key.platform, externalID: "\(key.externalID)#\(change.kind.rawValue):\(change.revision)")
        if let seen = posts.original(of: revision) {
            pipeline.open.held.append(.reply(client: client, service: service, .duplicate(of: seen, key: key), inquiry: nil))
            return []
        }
        guard let original = posts.original(of: key), tracked[original.id] != nil else {
            guard lookedUp else { return [.findOriginal(key: key, known: posts.original(of: key)?.id, client: client, body: body)] }
            return [refuse(client, service, .rejected(IngestError(.invalidValue, field: "source.external_id",
                "source.external_id names no post taken in as an inquiry: an edit or deletion changes the inquiry its post became")))]
        }
        guard tracked[original.id]?.author?.lowercased() == inquiry.author.handle.lowercased() else {
            return [refuse(client, service, .rejected(IngestError(.invalidValue, field: "author.handle",
                "only the post's author edits or deletes it: author.handle is not the author of that post")))]
        }
        let edited = change.kind == .edited
        pipeline.open.store.receive(InboundMessage(id: InquiryID.generate(at: now), inquiry: original.id, key: revision, inReplyTo: key.externalID,
                                          text: edited ? inquiry.text : "", kind: edited ? "edit" : "deleted"))
        note(original.id, event: edited ? "inquiry.edited" : "inquiry.withdrawn", actor: .system,
             note: edited ? "the citizen edited the post" : "the citizen deleted the post", at: now)
        posts.remember(revision, original)
        pipeline.open.held.append(.reply(client: client, service: service, .changed(of: original, key: key), inquiry: nil))
        return []
    }

    /// An original found in the store for an edit or deletion.
    mutating func rememberOriginal(_ key: DeduplicationKey, _ original: DuplicateOf) {
        posts.remember(key, original)
    }

    private mutating func track(_ record: LifecycleRecord, key: DeduplicationKey, envelope: String, routing: String, author: String, thread: String?) {
        let keep = bodyBytes < bodyBudget
        tracked[record.id] = Tracked(record: record, key: key, envelope: keep ? envelope : nil, routing: keep ? routing : nil,
                                     author: author, thread: thread, writtenIn: pipeline.nextSequence)
        if keep { bodyBytes += envelope.utf8.count }
    }

    // MARK: Delivery to department workers

    /// The delivery queue handed `entry` to `worker`. The engine has loaded the
    /// inquiry if it was not in memory.
    mutating func deliver(_ entry: QueueEntry, department: String, to worker: Frame, now: Date) -> [Action] {
        guard let item = tracked[entry.id], let envelope = item.envelope, let routing = item.routing else {
            return [.forgetHeld(id: entry.id, worker: worker), .log(.missing(entry.id))]
        }
        // A stale entry (the inquiry was handed off, claimed or closed meanwhile) is
        // dropped here rather than delivered to a department that no longer has it.
        guard item.record.lifecycle.state == .queued, item.record.lifecycle.department == department else {
            return [.forgetHeld(id: entry.id, worker: worker), .log(.staleEntry(entry.id, department: department))]
        }
        var record = item.record
        record.deliveries = entry.deliveries
        guard apply(.deliver, to: &record, by: .worker(Self.workerName(worker)), at: now) != nil else {
            return [.forgetHeld(id: entry.id, worker: worker)]
        }
        // Delivered: its envelope no longer needs to wait in memory.
        tracked[entry.id]?.envelope = nil
        tracked[entry.id]?.routing = nil
        bodyBytes -= envelope.utf8.count
        // Spliced as bytes around the stored envelope and routing (already JSON): one
        // buffer, no String in between. Department ids and priorities need no escaping.
        var body = [UInt8]()
        body.reserveCapacity(envelope.utf8.count + routing.utf8.count + 160)
        body.append(contentsOf: #"{"delivery":{"case":""#.utf8)
        body.append(contentsOf: configuration.caseNumbering.format(record.caseNumber).utf8)
        body.append(contentsOf: #"","count":"#.utf8)
        body.append(contentsOf: String(entry.deliveries).utf8)
        body.append(contentsOf: #","department":""#.utf8)
        body.append(contentsOf: department.utf8)
        body.append(contentsOf: #"","inquiry_id":""#.utf8)
        body.append(contentsOf: entry.id.description.utf8)
        body.append(contentsOf: #"","priority":""#.utf8)
        body.append(contentsOf: record.priority.rawValue.utf8)
        body.append(contentsOf: #"","reply_accounts":"#.utf8)
        body.append(contentsOf: desk.replyAccountsJSON(platform: item.key.platform, department: department).utf8)
        body.append(contentsOf: #"},"inquiry":"#.utf8)
        body.append(contentsOf: envelope.utf8)
        body.append(contentsOf: #","routing":"#.utf8)
        body.append(contentsOf: routing.utf8)
        body.append(UInt8(ascii: "}"))
        let command = WorkerCommand.request(client: MajordomoBrokerMachine.deliveryAddress(entry.id), body: [Frame(body)])
        return [.send(peer: worker, frames: command.frames)]
    }

    /// A department worker replied to a delivered inquiry. An outcome document moves it
    /// on; any other reply means the department has accepted it.
    mutating func workerReplied(_ entry: QueueEntry, department: String, worker: Frame, reply: [Frame], now: Date) -> [Action] {
        let actor = Actor.worker(Self.workerName(worker))
        guard var record = tracked[entry.id]?.record else { return [.log(.missing(entry.id))] }
        guard record.lifecycle.owner == actor else {
            // Handed off or taken over while the worker held it: the reply changes nothing.
            note(entry.id, event: "inquiry.outcome_refused", actor: actor, note: "the worker no longer owns this inquiry", at: now)
            return [.log(.staleReply(entry.id, department: department))]
        }
        var actions: [Action] = []
        let outcome = reply.count == 1 ? WorkerOutcome(reply[0].bytes) : nil
        do {
            switch outcome {
            case .answered(let text, let account):
                try answer(&record, text: text, account: account, moveID: nil, by: actor, actingFor: department, at: now)
            case .handoff(let target, let note):
                try move(&record, .handoff(to: target, note: note), by: actor, at: now)
            case .returned(let note):
                try move(&record, .returnToFrontOffice(note: note), by: actor, at: now)
            case .awaitingCitizen(let note, let question, let account):
                try ask(&record, question: question, account: account, note: note, by: actor, actingFor: department, at: now)
            case .close(let resolution, let note):
                try move(&record, .close(resolution, note: note), by: actor, at: now)
            case nil:
                try move(&record, .accept, by: actor, at: now)
            }
        } catch {
            actions.append(.log(.outcomeRefused(entry.id, department: department, code: Self.code(of: error))))
            note(entry.id, event: "inquiry.outcome_refused", actor: actor, note: Self.code(of: error), at: now)
            try? move(&record, .accept, by: actor, at: now)
        }
        return actions
    }

    /// A worker left holding `entry`; the delivery queue put it back at the front.
    mutating func workerLeft(holding entry: QueueEntry, department: String, now: Date) -> [Action] {
        guard var record = tracked[entry.id]?.record,
              record.lifecycle.state == .inProgress, record.lifecycle.owner?.kind == .worker,
              record.lifecycle.department == department else {
            return [.dequeue(id: entry.id, department: department, priority: entry.priority)]
        }
        _ = try? move(&record, .release(reason: "worker gone before replying"), by: .system, at: now, keepQueued: true)
        return [.log(.redelivery(entry.id, department: department, deliveries: entry.deliveries))]
    }

    /// `entry` failed its last allowed delivery: it is parked, visible and requeueable.
    mutating func park(_ entry: QueueEntry, department: String, reason: String, now: Date) -> [Action] {
        guard var record = tracked[entry.id]?.record,
              record.lifecycle.state == .inProgress, record.lifecycle.owner?.kind == .worker else { return [] }
        record.deliveries = entry.deliveries
        _ = apply(.park(reason: reason), to: &record, by: .system, at: now)
        return [.log(.parked(entry.id, department: department, deliveries: entry.deliveries))]
    }

    // MARK: Outbound messages

    mutating func deliverOutbound(_ entry: QueueEntry, service: String, to worker: Frame) -> [Action] {
        guard let post = outbound.post(entry.id) else { return [.forgetHeld(id: entry.id, worker: worker)] }
        let command = WorkerCommand.request(client: MajordomoBrokerMachine.deliveryAddress(entry.id), body: [Frame(post)])
        return [.send(peer: worker, frames: command.frames)]
    }

    /// The inquiry an outbound message belongs to, if the message is pending.
    func inquiry(ofMessage id: InquiryID) -> InquiryID? { outbound.inquiry(ofMessage: id) }

    /// The publishing gateway answered for the message: it posted it, or it could not
    /// (`{"status": "failed", "code": …, "reason": …}`), and the agent must see why. If a
    /// posted message's REPLY names the post (`{"external_id": …}`), a citizen's answer to
    /// that post threads back.
    mutating func outboundSent(_ entry: QueueEntry, worker: Frame, reply: [Frame], now: Date) -> [Action] {
        guard let message = outbound.answered(entry.id) else { return [] }
        let answer = OutboundDesk.GatewayAnswer(reply.map(\.bytes))
        guard case .posted(let posted) = answer else {
            if case .failed(let code, let reason) = answer {
                pipeline.open.store.markEnded(message.id, .failed, at: Timestamp.format(now), code: code, reason: reason)
                notDelivered(message, code: code, reason: reason, by: .worker(Self.workerName(worker)), at: now)
            }
            return []
        }
        pipeline.open.store.markSent(message.id, at: Timestamp.format(now), postedAs: posted)
        if let posted, tracked[message.inquiry]?.record.lifecycle.state == .awaitingCitizen {
            posts.await(message.inquiry, at: DeduplicationKey(platform: message.platform, externalID: posted))
        }
        note(message.inquiry, event: message.kind == .answer ? "reply.sent" : "question.sent", actor: .worker(Self.workerName(worker)), note: nil, at: now)
        return []
    }

    /// The citizen was not answered: the timeline says why, and the inquiry does not count
    /// as answered (nor as waiting for the citizen): it goes back to its queue for a person.
    private mutating func notDelivered(_ message: OutboundMessage, code: String, reason: String, by actor: Actor, at now: Date) {
        note(message.inquiry, event: message.kind == .answer ? "reply.failed" : "question.failed",
             actor: actor, note: "not delivered (\(code)): \(reason)", at: now)
        if var record = tracked[message.inquiry]?.record, [.answered, .closed, .awaitingCitizen].contains(record.lifecycle.state) {
            _ = try? move(&record, .reopen(note: "the \(message.kind == .answer ? "reply" : "question") was not delivered (\(code))"),
                          by: .system, at: now)
        }
    }

    /// `sb.outbound.status`: a platform's later word on a posted message (the engine found
    /// it by the post's id, and loaded its inquiry). Delivered and read show in the
    /// timeline once each; a failure after all is handled as a failure document is.
    mutating func outboundStatus(client: Frame, status: OutboundStatusRequest.Status, code: String?, reason: String?,
                                 messages: [OutboundMessage], by gateway: String, now: Date) -> [Action] {
        let service = InquiryService.outboundStatus
        guard !storeUnavailable else { return [refuse(client, service, .unavailable)] }
        guard let first = messages.first else { return [refuse(client, service, .model(OutboundStatusAnswer(messageID: nil)))] }
        for message in messages { mark(message, status, code: code, reason: reason, by: gateway, now: now) }
        pipeline.open.held.append(.reply(client: client, service: service, .model(OutboundStatusAnswer(messageID: first.id.description)),
                                       inquiry: nil))
        return []
    }

    /// One message's later status, once.
    private mutating func mark(_ message: OutboundMessage, _ status: OutboundStatusRequest.Status, code: String?, reason: String?,
                               by gateway: String, now: Date) {
        if outbound.isFirst(status, of: message.id) {
            let at = Timestamp.format(now)
            switch status {
            case .delivered, .read:
                pipeline.open.store.markStatus(message.id, status.rawValue, at: at)
                note(message.inquiry, event: "\(message.kind == .answer ? "reply" : "question").\(status.rawValue)", actor: .system, note: nil, at: now)
            case .failed:
                let code = code ?? ErrorCode.rejectedByPlatform.rawValue, reason = reason ?? "the platform did not say why"
                pipeline.open.store.markStatus(message.id, "failed", at: at, code: code, reason: reason)
                notDelivered(message, code: code, reason: reason, by: .worker(gateway), at: now)
            }
        }
    }

    // MARK: Operators

    /// `sb.admin.requeue`: a parked inquiry goes back to its queue with a fresh count.
    mutating func requeue(client: Frame, request: AgentRequest, by actor: Actor, now: Date) -> [Action] {
        let service = InquiryService.requeue
        guard !storeUnavailable else { return [refuse(client, service, .unavailable)] }
        do {
            let id = try request.id()
            guard var record = tracked[id]?.record else { throw AgentError.notFound(id) }
            guard record.lifecycle.state == .parked else { throw AgentError.notParked(id, record.lifecycle.state) }
            record.deliveries = 0
            try move(&record, .requeue, by: actor, at: now)
            pipeline.open.held.append(.reply(client: client, service: service, .model(RequeueAnswer(id: id.description, department: record.lifecycle.department)), inquiry: id))
            return []
        } catch let error as AgentError {
            return [refuse(client, service, .agentError(error))]
        } catch {
            return [refuse(client, service, .lifecycleError(error as? LifecycleError ?? .unknownInquiry(InquiryID(high: 0, low: 0)), allowed: nil))]
        }
    }

    // MARK: Agents

    /// An agent's command (every `sb.agent.*` service but the reads). The engine has
    /// loaded the inquiry the request names, and for a claim of "the next one" passes
    /// the id at the head of the department's queue.
    mutating func agent(client: Frame, service: AgentService, request: AgentRequest, next: InquiryID?, now: Date) -> [Action] {
        guard !storeUnavailable else { return [refuse(client, service.rawValue, .unavailable)] }
        let actor = request.agent
        let actingFor = request.department
        do {
            guard let actor else { throw AgentError.missing("agent") }
            if let department = actingFor, !departments.contains(department) { throw AgentError.unknownDepartment(department, known: departments.sorted()) }
            queuedByMove = nil
            let record = try perform(service, request, actor: actor, actingFor: actingFor, next: next, now: now)
            // A claim shows the agent the envelope and routing decision, when in memory.
            let item = service == .claim ? tracked[record.id] : nil
            var answer = InquiryReply.MoveAnswer(record, for: actor, actingFor: actingFor, envelope: item?.envelope, routing: item?.routing)
            answer.caseNumber = configuration.caseNumbering.format(record.caseNumber)
            answer.message = queuedByMove
            pipeline.open.held.append(.reply(client: client, service: service.rawValue, .move(answer), inquiry: record.id))
            return []
        } catch let error as AgentError {
            return [refuse(client, service.rawValue, .agentError(error))]
        } catch let error as LifecycleError {
            return [refuse(client, service.rawValue, .lifecycleError(error, allowed: nil))]
        } catch {
            return [refuse(client, service.rawValue, .unavailable)]
        }
    }

    private mutating func perform(
        _ service: AgentService, _ request: AgentRequest, actor: Actor, actingFor: String?, next: InquiryID?, now: Date
    ) throws -> LifecycleRecord {
        guard let agentMove = try AgentMove.read(service, request) else { throw AgentError.invalid(field: "service", "\(service.rawValue) is a read") }
        let moveID = try AgentMove.moveID(request, service: service, actor: actor)
        if case .claim(let named) = agentMove {
            guard let team = actingFor else { throw AgentError.missing("department") }
            // A claim of "the next one" sent again: the inquiry it took, not another.
            if named == nil, let requestID = try AgentMove.requestID(request), let claimed = claim(madeBy: requestID, actor: actor, department: team) {
                return claimed
            }
            guard let id = named ?? next else { throw AgentError.emptyQueue(team) }
            var record = try current(id)
            // A retried claim by the agent who holds it renews it.
            if record.lifecycle.state == .inProgress && record.lifecycle.owner == actor {
                record.leaseExpiresAt = now.addingTimeInterval(configuration.claimLease)
                save(record)
                return record
            }
            // Someone else holds it: say who, and until when.
            if record.lifecycle.state == .inProgress, let owner = record.lifecycle.owner, owner.kind == .agent || owner.kind == .worker {
                throw LifecycleError.heldBy(owner, until: record.leaseExpiresAt.map(Timestamp.format))
            }
            try move(&record, .claim, by: actor, actingFor: team, at: now, lease: now.addingTimeInterval(configuration.claimLease), moveID: moveID)
            return record
        }
        guard let id = agentMove.inquiry else { throw AgentError.missing("id") }
        var record = try current(id)
        // The same move sent again (its answer was lost, or the broker that made it
        // died before answering): made once, answered as it stands.
        if let moveID, record.lifecycle.lastMoveID == moveID { return record }
        // An agent acts for one department: moves that need no ownership (reopen) are
        // checked here, the others by the lifecycle too.
        if let actingFor, record.lifecycle.department != actingFor, service != .renew {
            throw LifecycleError.wrongDepartment(actingFor: actingFor, department: record.lifecycle.department)
        }
        switch agentMove {
        case .claim:
            break
        case .renew:
            guard record.lifecycle.state == .inProgress, record.lifecycle.owner == actor else {
                throw LifecycleError.notOwner(actor: actor, owner: record.lifecycle.owner)
            }
            record.leaseExpiresAt = now.addingTimeInterval(configuration.claimLease)
            save(record)
        case .release(_, let note):
            try move(&record, .release(reason: note), by: actor, actingFor: actingFor, at: now, moveID: moveID)
        case .reply(_, let text, let account):
            try answer(&record, text: text, account: account, moveID: moveID, by: actor, actingFor: actingFor, at: now)
        case .handoff(_, let department, let note):
            try move(&record, .handoff(to: department, note: note), by: actor, actingFor: actingFor, at: now, moveID: moveID)
        case .returnToFrontOffice(_, let note):
            try move(&record, .returnToFrontOffice(note: note), by: actor, actingFor: actingFor, at: now, moveID: moveID)
        case .requestInformation(_, let question, let account, let note):
            try ask(&record, question: question, account: account, note: note, by: actor, actingFor: actingFor, at: now, moveID: moveID)
        case .close(_, let resolution, let note, let other):
            try move(&record, .close(resolution, note: note, duplicateOf: other), by: actor, actingFor: actingFor, at: now, moveID: moveID)
        case .reopen(_, let note):
            try move(&record, .reopen(note: note), by: actor, actingFor: actingFor, at: now, moveID: moveID)
        }
        return record
    }

    /// The inquiry a claim of "the next one" with this id took, while `actor` holds it
    /// for `department`. Agents' claims are read back by the load lane before such a
    /// claim is made (see ``EngineLoop``), so this holds after a takeover too.
    func claim(madeBy requestID: String, actor: Actor, department: String) -> LifecycleRecord? {
        let moveID = AgentMove.scoped(requestID, service: .claim, actor: actor)
        return tracked.values.lazy.map(\.record).first { record in
            record.lifecycle.lastMoveID == moveID && record.lifecycle.state == .inProgress && record.lifecycle.owner == actor
                && record.lifecycle.department == department
        }
    }

    private func current(_ id: InquiryID) throws(AgentError) -> LifecycleRecord {
        guard let record = tracked[id]?.record else { throw .notFound(id) }
        return record
    }

    /// Answers the citizen: only through a registered official account, once per
    /// citizen message (a retry with the same id is recognised before this).
    private mutating func answer(
        _ record: inout LifecycleRecord, text: String, account: String, moveID: String?, by actor: Actor, actingFor: String?, at now: Date
    ) throws {
        guard let key = tracked[record.id]?.key else { throw LifecycleError.unknownInquiry(record.id) }
        try desk.checkReplyAccount(account, platform: key.platform, department: record.lifecycle.department)
        guard !text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else { throw AgentError.missing("text") }
        try move(&record, .reply(account: account), by: actor, actingFor: actingFor, at: now, moveID: moveID)
        send(.answer, text: text, account: account, for: record, key: key, by: actor, at: now)
    }

    /// Asks the citizen for more: the question goes out like an answer, through an
    /// official account, and the post it is published as continues the conversation.
    private mutating func ask(
        _ record: inout LifecycleRecord, question: String?, account: String?, note: String, by actor: Actor, actingFor: String?, at now: Date,
        moveID: String? = nil
    ) throws {
        guard let key = tracked[record.id]?.key else { throw LifecycleError.unknownInquiry(record.id) }
        if let account { try desk.checkReplyAccount(account, platform: key.platform, department: record.lifecycle.department) }
        try move(&record, .requestInformation(note: note), by: actor, actingFor: actingFor, at: now, moveID: moveID)
        posts.await(record.id, at: key)
        if let question, let account { send(.question, text: question, account: account, for: record, key: key, by: actor, at: now) }
    }

    /// Queues a message for the platform's publishing gateway. With no gateway connected it
    /// is held, and says so at once: in the move's answer, the timeline and the stream.
    private mutating func send(_ kind: OutboundMessage.Kind, text: String, account: String, for record: LifecycleRecord, key: DeduplicationKey,
                               by actor: Actor, at now: Date) {
        // `{case}` in a reply or question is the case number, for the citizen to quote.
        let text = text.replacingOccurrences(of: "{case}", with: configuration.caseNumbering.format(record.caseNumber))
        var message = OutboundMessage(id: InquiryID.generate(at: now), inquiry: record.id, kind: kind, platform: key.platform,
                                      account: account, inReplyTo: key.externalID, text: text, author: "\(actor)")
        // Whom a direct message goes to, and in which conversation.
        message.recipient = tracked[record.id]?.author
        message.thread = tracked[record.id]?.thread
        pipeline.open.store.queue(message)
        pipeline.open.held.append(.enqueue(department: message.service, entry: QueueEntry(id: message.id, priority: record.priority)))
        let queued = outbound.queue(message)
        queuedByMove = queued
        if let held = queued.note {
            note(record.id, event: kind == .answer ? "reply.held" : "question.held", actor: .system, note: held, at: now)
        }
    }

    /// Questions not yet posted when the conversation moved on (the citizen wrote, or the
    /// inquiry was closed) are cancelled: a gateway that connects later must not ask a
    /// question nobody waits for.
    private mutating func cancelUnsentQuestions(of id: InquiryID, because reason: String, at now: Date) {
        for message in outbound.cancelQuestions(of: id) {
            pendingDequeues.append((message.id, message.service, nil))
            pipeline.open.store.markEnded(message.id, .cancelled, at: Timestamp.format(now), reason: reason)
            note(id, event: "question.cancelled", actor: .system, note: "not posted: \(reason)", at: now)
        }
    }

    // MARK: Explaining routes

    /// `sb.route.explain`: where the broker's rules would send an envelope, and why,
    /// with what the registry says of the account. Nothing is stored.
    mutating func explain(client: Frame, body: [Frame]) -> [Action] {
        let service = InquiryService.explain
        let inquiry: Inquiry
        do {
            inquiry = try intake.read(body.map(\.bytes))
        } catch {
            return [refuse(client, service, .rejected(error))]
        }
        var answer = RouteExplanation(decision: intake.explain(inquiry), configuration: configuration)
        if let unofficial = Intake.unofficialReason(desk.verdict(for: inquiry.source)) {
            answer.unofficialChannel = .init(reason: unofficial.reason, imitatesHandle: unofficial.imitates?.handle)
            answer.department = configuration.frontOffice
            answer.departmentName = configuration.department(configuration.frontOffice)?.name
        }
        return [refuse(client, service, .model(answer))]
    }

    // MARK: The channel registry

    /// A `sb.channels.*` request by `actor` (the key's name with CURVE).
    mutating func channels(client: Frame, service: ChannelService, request: AgentRequest, actor: String, now: Date) -> [Action] {
        if service.isWrite, storeUnavailable { return [refuse(client, service.rawValue, .unavailable)] }
        switch desk.handle(service, request: request, actor: actor, now: now) {
        case .answer(let reply):
            return [refuse(client, service.rawValue, reply)]
        case .changed(let entry, let reply):
            pipeline.open.store.save(entry)
            pipeline.open.held.append(.reply(client: client, service: service.rawValue, reply, inquiry: nil))
            return []
        }
    }

    /// Accounts the configuration names that the registry does not hold as active.
    func configuredAccountsNotActive() -> [ConfiguredAccount] { desk.configuredAccountsNotActive() }

    /// The same, as log lines for start-up and reloads.
    func unregisteredAccounts() -> [String] { desk.unregisteredAccounts() }

    // MARK: Timers

    /// Releases claims whose lease ran out and raises due SLA alerts, escalating
    /// breaches. The engine has loaded every inquiry named.
    mutating func timers(now: Date, expiredLeases: [InquiryID], dueAlerts: [InquiryID]) -> [Action] {
        guard !storeUnavailable else { return [] }
        var actions: [Action] = []
        for (entry, overdue) in desk.reviewsDue(at: now) {
            actions.append(.publish(.channelReview(entry, overdue: overdue, at: now)))
        }
        for id in expiredLeases {
            guard var record = tracked[id]?.record, let expiry = record.leaseExpiresAt, expiry <= now,
                  record.lifecycle.state == .inProgress else { continue }
            try? move(&record, .release(reason: "claim lease expired"), by: .system, at: now)
        }
        for id in dueAlerts {
            guard var record = tracked[id]?.record else { continue }
            let alerts = record.sla.check(at: now, in: configuration.sla.calendar(department: record.sla.department, priority: record.priority))
            save(record)
            for alert in alerts {
                figures.alerted(alert, inquiry: id, at: now)
                let number = configuration.caseNumbering.format(record.caseNumber)
                pipeline.open.held.append(.publish(.sla(alert, inquiry: id, caseNumber: number, at: now), inquiry: id))
                actions.append(.log(.sla(id, alert)))
                if alert.level == .breach && alert.scope == .department {
                    actions += escalate(id, at: now)
                }
            }
        }
        return actions
    }

    private mutating func escalate(_ id: InquiryID, at now: Date) -> [Action] {
        guard var record = tracked[id]?.record, record.lifecycle.state != .closed else { return [] }
        switch configuration.sla.escalation {
        case .none:
            return []
        case .raisePriority:
            let queuedAt = record.priority, raised = record.priority.raised
            guard raised != queuedAt else { return [] }
            record.priority = raised
            record.sla.priorityChanged(from: queuedAt, to: raised, policy: configuration.sla, at: now)
            save(record)
            note(id, event: "inquiry.escalated", actor: .system, note: "priority raised to \(raised.rawValue) after an SLA breach", at: now)
            guard record.lifecycle.state == .queued else { return [] }
            pipeline.open.held.append(.enqueue(department: record.lifecycle.department, entry: QueueEntry(id: id, priority: raised, deliveries: record.deliveries)))
            return [.dequeue(id: id, department: record.lifecycle.department, priority: queuedAt)]
        case .moveTo(let desk):
            guard record.lifecycle.state == .queued, record.lifecycle.department != desk else { return [] }
            let from = record.lifecycle.department
            guard (try? move(&record, .handoff(to: desk, note: "escalated after an SLA breach"), by: .system, at: now)) != nil else { return [] }
            return [.dequeue(id: id, department: from, priority: record.priority)]
        }
    }

    // MARK: Moves

    /// Applies a lifecycle command, follows the SLA clocks, records it, and queues the
    /// inquiry where the move put it.
    /// - Parameters:
    ///   - keepQueued: the delivery queue already holds the entry (a worker left and the
    ///     MDP machine put it back, or a restart restored it): do not queue it twice.
    ///   - moveID: the id the client chose for the move, kept with the record.
    private mutating func move(
        _ record: inout LifecycleRecord, _ command: LifecycleCommand, by actor: Actor, actingFor: String? = nil,
        at now: Date, lease: Date? = nil, keepQueued: Bool = false, moveID: String? = nil
    ) throws(LifecycleError) {
        let wasQueuedAt = record.lifecycle.state == .queued ? record.lifecycle.department : nil
        let wasAwaiting = record.lifecycle.state == .awaitingCitizen
        let before = record
        let entry = try record.lifecycle.apply(command, by: actor, actingFor: actingFor, at: now,
                                               frontOffice: configuration.frontOffice, departments: departments, moveID: moveID)
        record.sla.follow(entry, priority: record.priority, policy: configuration.sla)
        record.leaseExpiresAt = lease
        if case .requeue = command { record.deliveries = 0 }
        if case .release = command {} else if record.lifecycle.state == .queued { record.deliveries = 0 }
        figures.moved(from: before, to: record, entry: entry, policy: configuration.sla)
        save(record)
        appendTimeline(entry, priority: record.priority)
        if wasAwaiting && record.lifecycle.state != .awaitingCitizen {
            let id = record.id
            posts.stopAwaiting(id)
            cancelUnsentQuestions(of: id, because: record.lifecycle.state == .closed ? "the inquiry was closed first"
                                      : "the conversation moved on (\(entry.event)) before a gateway posted it", at: now)
        }
        if record.lifecycle.state == .queued, wasQueuedAt != record.lifecycle.department, !keepQueued {
            pipeline.open.held.append(.enqueue(department: record.lifecycle.department,
                                             entry: QueueEntry(id: record.id, priority: record.priority, deliveries: record.deliveries)))
        }
        // A delivery was handed out by the delivery queue itself: it is in no line to take
        // it from (looking for it scanned the whole line, more the longer the backlog).
        if let wasQueuedAt, command != .deliver, record.lifecycle.state != .queued || record.lifecycle.department != wasQueuedAt {
            pendingDequeues.append((record.id, wasQueuedAt, before.priority))
        }
    }

    /// Queue entries a move took out of a queue; drained into actions by each event.
    private var pendingDequeues: [(InquiryID, String, Priority?)] = []

    /// Applies a move the broker makes itself; nil when it is not allowed now.
    private mutating func apply(_ command: LifecycleCommand, to record: inout LifecycleRecord, by actor: Actor, at now: Date) -> LifecycleRecord? {
        guard (try? move(&record, command, by: actor, at: now)) != nil else { return nil }
        return record
    }

    private mutating func save(_ record: LifecycleRecord) {
        tracked[record.id]?.record = record
        tracked[record.id]?.writtenIn = pipeline.nextSequence
        pipeline.open.store.update(record)
        pipeline.open.touched.insert(record.id)
    }

    private mutating func appendTimeline(_ entry: TimelineEntry, priority: Priority) {
        pipeline.open.store.append(entry)
        let number = tracked[entry.inquiry]?.record.caseNumber ?? 0
        let reference = number > 0 ? configuration.caseNumbering.format(number) : nil
        pipeline.open.held.append(.publish(.timeline(entry, priority: priority, caseNumber: reference), inquiry: entry.inquiry))
    }

    /// A timeline line that is not a transition (a refused outcome, a sent reply).
    private mutating func note(_ id: InquiryID, event: String, actor: Actor, note: String?, at now: Date) {
        guard let record = tracked[id]?.record else { return }
        let role = actor.kind == .system ? "system" : (record.lifecycle.department == configuration.frontOffice ? "front_office" : "back_office")
        appendTimeline(TimelineEntry(inquiry: id, event: event, at: now, actor: actor, role: role, from: record.lifecycle.state,
                                     to: record.lifecycle.state, department: record.lifecycle.department, note: note),
                       priority: record.priority)
    }

    /// Moves that took entries out of a queue, as actions for the engine.
    mutating func takeDequeues() -> [Action] {
        defer { pendingDequeues.removeAll(keepingCapacity: true) }
        return pendingDequeues.map { .dequeue(id: $0.0, department: $0.1, priority: $0.2) }
    }

    private func refuse(_ client: Frame, _ service: String, _ reply: InquiryReply) -> Action {
        .send(peer: client, frames: ClientMessage(service: service, body: [reply.frame]).frames)
    }

    /// How a worker is named in timelines, events and answers to agents: an opaque name
    /// for its connection, never its routing id, which a peer may choose and which
    /// libzmq derives from a counter. Stable for the life of the broker process.
    static func workerName(_ peer: Frame) -> String {
        var hasher = Hasher()
        hasher.combine(peer.bytes)
        return "w-" + String(UInt64(bitPattern: Int64(hasher.finalize())), radix: 16)
    }

    static func code(of error: any Error) -> String {
        switch error {
        case let error as LifecycleError: error.code.rawValue
        case let error as AgentError: error.code.rawValue
        default: "internal"
        }
    }
}

/// What the inquiry side logs: ids, departments and codes, never citizen text.
enum InquiryLogEvent {
    case rejected(code: String)
    case missing(InquiryID)
    case staleEntry(InquiryID, department: String)
    case staleReply(InquiryID, department: String)
    case outcomeRefused(InquiryID, department: String, code: String)
    case redelivery(InquiryID, department: String, deliveries: UInt16)
    case parked(InquiryID, department: String, deliveries: UInt16)
    case sla(InquiryID, SLAAlert)
    case commitFailed(batch: UInt64, rows: Int)
    case seedRefused(platform: String, code: String)
}
