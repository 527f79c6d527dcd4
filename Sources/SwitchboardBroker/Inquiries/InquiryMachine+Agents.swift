import Foundation
import SwitchboardCore
import SwitchboardProtocol
import ZeroMQ

/// Agents' moves (`sb.agent.*` but the reads), each checked against the lifecycle, the
/// registry and the agent's department before it lands in the open batch.
extension InquiryMachine {
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
            let item = service == .claim ? memory[record.id] : nil
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
        return memory.first { record in
            record.lifecycle.lastMoveID == moveID && record.lifecycle.state == .inProgress && record.lifecycle.owner == actor
                && record.lifecycle.department == department
        }
    }

    private func current(_ id: InquiryID) throws(AgentError) -> LifecycleRecord {
        guard let record = memory[id]?.record else { throw .notFound(id) }
        return record
    }

    /// Answers the citizen: only through a registered official account, once per
    /// citizen message (a retry with the same id is recognised before this).
    mutating func answer(
        _ record: inout LifecycleRecord, text: String, account: String, moveID: String?, by actor: Actor, actingFor: String?, at now: Date
    ) throws {
        guard let key = memory[record.id]?.key else { throw LifecycleError.unknownInquiry(record.id) }
        try desk.checkReplyAccount(account, platform: key.platform, department: record.lifecycle.department)
        guard !text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else { throw AgentError.missing("text") }
        try move(&record, .reply(account: account), by: actor, actingFor: actingFor, at: now, moveID: moveID)
        send(.answer, text: text, account: account, for: record, key: key, by: actor, at: now)
    }

    /// Asks the citizen for more: the question goes out like an answer, through an
    /// official account, and the post it is published as continues the conversation.
    mutating func ask(
        _ record: inout LifecycleRecord, question: String?, account: String?, note: String, by actor: Actor, actingFor: String?, at now: Date,
        moveID: String? = nil
    ) throws {
        guard let key = memory[record.id]?.key else { throw LifecycleError.unknownInquiry(record.id) }
        if let account { try desk.checkReplyAccount(account, platform: key.platform, department: record.lifecycle.department) }
        try move(&record, .requestInformation(note: note), by: actor, actingFor: actingFor, at: now, moveID: moveID)
        posts.await(record.id, at: key)
        if let question, let account { send(.question, text: question, account: account, for: record, key: key, by: actor, at: now) }
    }
}
