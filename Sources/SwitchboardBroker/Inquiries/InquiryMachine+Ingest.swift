import Foundation
import SwitchboardCore
import SwitchboardProtocol
import ZeroMQ

/// Ingest: an envelope becomes an inquiry, a duplicate, a follow-up in a conversation or a
/// change to a post; and the explanation of a route, which stores nothing.
extension InquiryMachine {
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
           var record = memory[target]?.record, record.lifecycle.state == .awaitingCitizen,
           memory[target]?.author?.lowercased() == inquiry.author.handle.lowercased() {
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
        memory.track(new.inquiry.record, key: key, envelope: new.inquiry.envelopeJSON, routing: new.inquiry.routingJSON,
                     author: inquiry.author.handle, thread: new.thread, writtenIn: pipeline.nextSequence)
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
        guard let original = posts.original(of: key), memory[original.id] != nil else {
            guard lookedUp else { return [.findOriginal(key: key, known: posts.original(of: key)?.id, client: client, body: body)] }
            return [refuse(client, service, .rejected(IngestError(.invalidValue, field: "source.external_id",
                "source.external_id names no post taken in as an inquiry: an edit or deletion changes the inquiry its post became")))]
        }
        guard memory[original.id]?.author?.lowercased() == inquiry.author.handle.lowercased() else {
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
}
