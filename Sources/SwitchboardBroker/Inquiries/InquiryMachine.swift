import Foundation
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
///
/// **Its parts.** The machine coordinates small ones, each a plain value tested on its
/// own: ``Intake`` reads and routes envelopes, ``PostMemory`` knows posts and
/// conversations, ``InquiryMemory`` holds the inquiries being worked on, ``CommitPipeline``
/// the batches on their way, ``OutboundDesk`` the messages for gateways, ``RegistryDesk``
/// the official accounts, ``AgentMove`` reads agents' requests and ``InquiryFigures``
/// counts. This file holds the state, loading and the batch pipeline, and the one way a
/// record changes (``move(_:_:by:actingFor:at:lease:keepQueued:moveID:)``); each concern
/// is in its own file (`InquiryMachine+Ingest`, `+Delivery`, `+Outbound`, `+Agents`,
/// `+Timers`). Its state is internal so that those files reach it: nothing outside
/// them touches it.
struct InquiryMachine {
    enum Action {
        /// Answer a client now (a refusal that changed nothing, or what a commit released).
        case reply(client: Frame, service: String, InquiryReply)
        /// Answer an ingest that names `department` (accepted, duplicate or threaded),
        /// unless that department's workers are behind (see ``IngestFlowControl``).
        case answerIngest(client: Frame, service: String, InquiryReply, department: String)
        /// Hand a worker (or a publishing gateway) the document for queue entry `id`: the
        /// engine wraps it in a 7/MDP request whose return address names the entry.
        case deliver(worker: Frame, id: InquiryID, body: [UInt8])
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
    enum AfterCommit {
        case reply(client: Frame, service: String, InquiryReply, inquiry: InquiryID?)
        case enqueue(department: String, entry: QueueEntry)
        case publish(BrokerStreamEvent, inquiry: InquiryID)
    }


    private(set) var configuration: SwitchboardConfiguration
    /// Reads envelopes and makes new inquiries of them.
    var intake: Intake
    var departments: Set<String>

    /// The inquiries being worked on, and their envelopes while they wait.
    var memory: InquiryMemory
    /// Bytes of envelopes kept in memory for queued inquiries.
    var bodyBudget: Int { memory.bodyBudget }
    /// The posts that became inquiries, and those that continue a conversation; older
    /// keys are caught by the store.
    var posts: PostMemory
    var keyCapacity: Int { posts.capacity }
    /// The memory of keys holds every key the store holds: a key not in it is new, and the
    /// journal writer skips its store lookup.
    var keysComplete: Bool { posts.isComplete }
    /// Replies and questions waiting for their publishing gateway.
    var outbound = OutboundDesk()
    var gatewaysOnline: Set<Platform> {
        get { outbound.gatewaysOnline }
        set { outbound.gatewaysOnline = newValue }
    }
    /// What the event stream's subscribers asked for: timeline events nobody would
    /// receive are not written (the engine follows the publishing socket; a machine on
    /// its own publishes everything).
    var subscriptions = StreamSubscriptions.everything
    /// The message the current agent move queued, for its answer.
    var queuedByMove: InquiryMove.QueuedMessage?
    /// The highest case number given so far (see ``CaseNumbering``).
    var lastCaseNumber = 0
    /// The central registry of official accounts (the store is its record), with its
    /// answers to staff and to the other decisions.
    var desk: RegistryDesk
    var registry: ChannelRegistry { desk.registry }

    /// Batches on their way to the journal and the projection. The inquiries a batch
    /// wrote stay in memory until the projection holds it, so that what the engine reads
    /// back from the store is never older than what it acknowledged.
    var pipeline: CommitPipeline<AfterCommit>
    /// A commit failed and has not yet succeeded on retry: new writes are refused.
    var storeUnavailable: Bool { pipeline.storeUnavailable }
    /// Ingest outcomes so far, for statistics.
    var ingestCounts = BrokerStats.Ingest(accepted: 0, duplicate: 0, threaded: 0, rejected: [:], unofficialChannel: 0)
    /// Where open inquiries stand and what happened to them, per department.
    var figures = InquiryFigures()

    /// - Parameter after: the journal's last position: batches are numbered on from it.
    init(configuration: SwitchboardConfiguration, after position: UInt64 = 0, bodyBudget: Int = 64 << 20, keyCapacity: Int = 200_000) {
        self.configuration = configuration
        pipeline = CommitPipeline(after: position)
        desk = RegistryDesk(configuration: configuration)
        intake = Intake(configuration: configuration)
        departments = configuration.departmentIDs
        memory = InquiryMemory(bodyBudget: bodyBudget)
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
    func needsLoad(_ id: InquiryID) -> Bool { memory[id] == nil }
    /// Whether a delivery needs the envelope read back (after a restart, or past the budget).
    func needsBody(_ id: InquiryID) -> Bool { memory[id]?.envelope == nil }
    func record(_ id: InquiryID) -> LifecycleRecord? { memory[id]?.record }
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
        let party = memory[stored.id] == nil ? Intake.party(of: stored.envelopeJSON) : (author: nil, thread: nil)
        return memory.load(stored, author: party.author, thread: party.thread, readThrough: position)
    }

    /// The reads on their way all see at least the projection's `position` (nil: none is
    /// on its way): changes older than that need no guard (see ``InquiryMemory``).
    mutating func readsOnTheirWay(since position: UInt64?) {
        memory.readsOnTheirWay(since: position)
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
        memory.erase(ids)
        let inquiries = Set(ids)
        var actions: [Action] = []
        for message in outbound.forget(inquiries: inquiries) {
            actions.append(.dequeue(id: message.id, department: message.service, priority: nil))
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
            if let gone = memory.discard(id) {
                figures.discarded(gone.record)
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
                if let department = answer.department {
                    actions.append(.answerIngest(client: client, service: service, answer, department: department))
                } else {
                    actions.append(.reply(client: client, service: service, answer))
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
        for batch in pipeline.projected(through: position) { memory.forgetSettled(batch.touched, upTo: batch.sequence) }
        outbound.projected(through: position)
    }

    mutating func count(_ reply: InquiryReply) {
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
            actions.append(.reply(client: client, service: service, .unavailable))
        }
        return actions
    }

    // MARK: Moves

    /// Applies a lifecycle command, follows the SLA clocks, records it, and queues the
    /// inquiry where the move put it.
    /// - Parameters:
    ///   - keepQueued: the delivery queue already holds the entry (a worker left and the
    ///     MDP machine put it back, or a restart restored it): do not queue it twice.
    ///   - moveID: the id the client chose for the move, kept with the record.
    mutating func move(
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
    var pendingDequeues: [(InquiryID, String, Priority?)] = []

    /// Applies a move the broker makes itself; nil when it is not allowed now.
    mutating func apply(_ command: LifecycleCommand, to record: inout LifecycleRecord, by actor: Actor, at now: Date) -> LifecycleRecord? {
        guard (try? move(&record, command, by: actor, at: now)) != nil else { return nil }
        return record
    }

    mutating func save(_ record: LifecycleRecord) {
        memory.update(record, writtenIn: pipeline.nextSequence)
        pipeline.open.store.update(record)
        pipeline.open.touched.insert(record.id)
    }

    mutating func appendTimeline(_ entry: TimelineEntry, priority: Priority) {
        pipeline.open.store.append(entry)
        guard subscriptions.wants(entry.event) else { return }
        let number = memory[entry.inquiry]?.record.caseNumber ?? 0
        let reference = number > 0 ? configuration.caseNumbering.format(number) : nil
        pipeline.open.held.append(.publish(.timeline(entry, priority: priority, caseNumber: reference), inquiry: entry.inquiry))
    }

    /// A timeline line that is not a transition (a refused outcome, a sent reply).
    /// The inquiry counts as written by this batch, so that one read back only for the note
    /// (a reply posted after the inquiry was let go of) is let go of again once projected.
    mutating func note(_ id: InquiryID, event: String, actor: Actor, note: String?, at now: Date) {
        guard let record = memory[id]?.record else { return }
        pipeline.open.touched.insert(id)
        memory.touch(id, writtenIn: pipeline.nextSequence)
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

    func refuse(_ client: Frame, _ service: String, _ reply: InquiryReply) -> Action {
        .reply(client: client, service: service, reply)
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
