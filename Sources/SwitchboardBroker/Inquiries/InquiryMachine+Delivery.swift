import Foundation
import SwitchboardCore
import SwitchboardProtocol
import ZeroMQ

/// Delivery to department workers: a delivery, the worker's outcome, a worker gone, parking
/// after the last allowed delivery, and an operator's requeue of a parked inquiry.
extension InquiryMachine {
    // MARK: Delivery to department workers

    /// The delivery queue handed `entry` to `worker`. The engine has loaded the
    /// inquiry if it was not in memory.
    mutating func deliver(_ entry: QueueEntry, department: String, to worker: Frame, now: Date) -> [Action] {
        guard let item = memory[entry.id], let envelope = item.envelope, let routing = item.routing else {
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
        memory.dropBody(of: entry.id)
        let body = InquiryDelivery.write(
            caseNumber: configuration.caseNumbering.format(record.caseNumber), count: Int(entry.deliveries), department: department,
            inquiryID: entry.id.description, priority: record.priority.rawValue,
            replyAccountsJSON: desk.replyAccountsJSON(platform: item.key.platform, department: department),
            envelopeJSON: envelope, routingJSON: routing)
        return [.deliver(worker: worker, id: entry.id, body: body)]
    }

    /// A department worker replied to a delivered inquiry. An outcome document moves it
    /// on; any other reply means the department has accepted it.
    mutating func workerReplied(_ entry: QueueEntry, department: String, worker: Frame, reply: [Frame], now: Date) -> [Action] {
        let actor = Actor.worker(Self.workerName(worker))
        guard var record = memory[entry.id]?.record else { return [.log(.missing(entry.id))] }
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
        guard var record = memory[entry.id]?.record,
              record.lifecycle.state == .inProgress, record.lifecycle.owner?.kind == .worker,
              record.lifecycle.department == department else {
            return [.dequeue(id: entry.id, department: department, priority: entry.priority)]
        }
        _ = try? move(&record, .release(reason: "worker gone before replying"), by: .system, at: now, keepQueued: true)
        return [.log(.redelivery(entry.id, department: department, deliveries: entry.deliveries))]
    }

    /// `entry` failed its last allowed delivery: it is parked, visible and requeueable.
    mutating func park(_ entry: QueueEntry, department: String, reason: String, now: Date) -> [Action] {
        guard var record = memory[entry.id]?.record,
              record.lifecycle.state == .inProgress, record.lifecycle.owner?.kind == .worker else { return [] }
        record.deliveries = entry.deliveries
        _ = apply(.park(reason: reason), to: &record, by: .system, at: now)
        return [.log(.parked(entry.id, department: department, deliveries: entry.deliveries))]
    }

    // MARK: Operators

    /// `sb.admin.requeue`: a parked inquiry goes back to its queue with a fresh count.
    mutating func requeue(client: Frame, request: AgentRequest, by actor: Actor, now: Date) -> [Action] {
        let service = InquiryService.requeue
        guard !storeUnavailable else { return [refuse(client, service, .unavailable)] }
        do {
            let id = try request.id()
            guard var record = memory[id]?.record else { throw AgentError.notFound(id) }
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
}
