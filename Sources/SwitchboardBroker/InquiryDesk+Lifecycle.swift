import Foundation
import Logging
import Majordomo
import SwitchboardCore
import SwitchboardStore
import ZeroMQ

/// Lifecycle bookkeeping: every transition is checked by ``InquiryLifecycle``, follows
/// the SLA clocks, lands in this turn's batch with its timeline entry, and becomes an
/// event once committed.
extension InquiryDesk {
    /// The record as of this turn: changed here, or else as stored.
    mutating func record(_ id: InquiryID) -> LifecycleRecord? {
        if let record = records[id] { return record }
        do {
            return try store.record(id)
        } catch {
            logger.error("cannot load an inquiry's lifecycle", metadata: ["inquiry.id": "\(id)", "error": "\(error)"])
            return nil
        }
    }

    mutating func save(_ record: LifecycleRecord, entry: TimelineEntry?) {
        let id = record.lifecycle.id
        records[id] = record
        batch.append(.record(id, record))
        if let entry {
            batch.append(.timeline(entry))
            events.append(.timeline(entry, priority: record.priority))
        }
    }

    /// Applies a lifecycle command and records it; throws if the move is not allowed.
    @discardableResult
    mutating func transition(
        _ id: InquiryID, _ command: LifecycleCommand, by actor: Actor, actingFor: String? = nil, at now: Date,
        lease: Date? = nil
    ) throws(LifecycleError) -> LifecycleRecord {
        guard var record = record(id) else {
            throw .unknownInquiry(id)
        }
        let entry = try record.lifecycle.apply(
            command, by: actor, actingFor: actingFor, at: now,
            frontOffice: configuration.frontOffice, departments: configuration.departmentIDs
        )
        record.sla.follow(entry, priority: record.priority, policy: configuration.sla)
        record.leaseExpiresAt = lease
        save(record, entry: entry)
        return record
    }

    /// A note in the timeline that is not a transition (a refused outcome, a sent reply).
    mutating func note(_ id: InquiryID, event: String, actor: Actor, note: String?, at now: Date) {
        guard let record = record(id) else { return }
        let entry = TimelineEntry(inquiry: id, event: event, at: now, actor: actor, role: actor.kind == .system ? "system" : "back_office",
                                  from: record.lifecycle.state, to: record.lifecycle.state, department: record.lifecycle.department, note: note)
        batch.append(.timeline(entry))
        events.append(.timeline(entry, priority: record.priority))
    }

    // MARK: Worker outcomes

    /// A department worker replied to a delivered inquiry. An outcome document moves the
    /// inquiry on; any other reply means the department has accepted it.
    mutating func workerReplied(_ entry: QueueEntry, department: String, worker: Frame, reply: [Frame], now: Date) {
        recordAcknowledgement(entry, now: now)
        let actor = Actor.worker(worker.description)
        let outcome = reply.count == 1 ? WorkerOutcome(reply[0].bytes) : nil
        do {
            switch outcome {
            case .answered(let text, let account):
                try answer(entry.id, text: text, account: account, by: actor, actingFor: department, at: now)
            case .handoff(let target, let note):
                requeue(try transition(entry.id, .handoff(to: target, note: note), by: actor, at: now))
            case .returned(let note):
                requeue(try transition(entry.id, .returnToFrontOffice(note: note), by: actor, at: now))
            case .awaitingCitizen(let note):
                try transition(entry.id, .requestInformation(note: note), by: actor, at: now)
            case .close(let resolution, let note):
                try transition(entry.id, .close(resolution, note: note), by: actor, at: now)
            case nil:
                try transition(entry.id, .accept, by: actor, at: now)
            }
        } catch {
            logger.warning("worker outcome refused; the department keeps the inquiry", metadata: [
                "inquiry.id": "\(entry.id)", "department": "\(department)", "error": "\(error)",
            ])
            note(entry.id, event: "inquiry.outcome_refused", actor: actor, note: "\(error)", at: now)
            _ = try? transition(entry.id, .accept, by: actor, at: now)
        }
    }

    /// Queues an inquiry that a transition put back in a queue.
    mutating func requeue(_ record: LifecycleRecord) {
        batch.append(.requeued(record.lifecycle.id))
        pendingQueue.append((record.lifecycle.department, QueueEntry(id: record.lifecycle.id, priority: record.priority)))
    }

    /// Answers the citizen: only through a registered official account, and only once.
    mutating func answer(_ id: InquiryID, text: String, account: String, by actor: Actor, actingFor: String?, at now: Date) throws {
        guard let stored = try store.delivery(id), let inquiry = try? JSONDecoder().decode(Inquiry.self, from: Data(stored.envelopeJSON.utf8)) else {
            throw LifecycleError.unknownInquiry(id)
        }
        let platform = inquiry.source.platform
        guard configuration.isOfficialAccount(platform: platform, handle: account) else {
            throw AgentError.unofficialAccount(account, platform)
        }
        guard !text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else { throw AgentError.missing("text") }
        try transition(id, .reply(account: account), by: actor, actingFor: actingFor, at: now)
        let reply = OutboundReply(inquiry: id, platform: platform, account: account, inReplyTo: inquiry.source.externalID, text: text)
        batch.append(.outbound(reply))
        pendingQueue.append((reply.service, QueueEntry(id: id, priority: records[id]?.priority ?? .normal)))
    }

    /// The publishing gateway confirmed it posted the reply.
    mutating func outboundSent(_ entry: QueueEntry, service: String, worker: Frame, now: Date) {
        batch.append(.outboundSent(entry.id, at: Self.timestamp(now)))
        note(entry.id, event: "reply.sent", actor: .worker(worker.description), note: nil, at: now)
    }

    /// What a publishing gateway receives: the reply to post, never the citizen's handle.
    func outboundBody(_ id: InquiryID) throws -> Frame? {
        guard let reply = try store.outbound(id) else { return nil }
        let object: [String: Any] = [
            "inquiry_id": "\(id)", "platform": reply.platform.rawValue, "account": reply.account,
            "in_reply_to": reply.inReplyTo, "text": reply.text,
        ]
        return Frame(bytes: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]))
    }

    // MARK: Timers

    /// Releases claims whose lease ran out and raises due SLA alerts, escalating breaches.
    mutating func runTimers(now: Date, machine: inout MajordomoBrokerMachine, monotonicNow: ContinuousClock.Instant) -> [MajordomoBrokerMachine.Action] {
        var actions: [MajordomoBrokerMachine.Action] = []
        for id in (try? store.expiredLeases(before: now, limit: 500)) ?? [] {
            guard let current = record(id), let expiry = current.leaseExpiresAt, expiry <= now else { continue }
            if let released = try? transition(id, .release(reason: "claim lease expired"), by: .system, at: now) {
                requeue(released)
            }
        }
        for id in (try? store.dueSLAAlerts(before: now, limit: 500)) ?? [] {
            guard var current = record(id) else { continue }
            let alerts = current.sla.check(at: now)
            save(current, entry: nil)
            for alert in alerts {
                events.append(.sla(alert, inquiry: id, at: now))
                logger.notice("SLA \(alert.level.rawValue)", metadata: [
                    "inquiry.id": "\(id)", "department": "\(alert.department)", "sla.goal": "\(alert.goal.rawValue)", "sla.scope": "\(alert.scope.rawValue)",
                ])
                if alert.level == .breach && alert.scope == .department {
                    actions += escalate(id, machine: &machine, now: now, monotonicNow: monotonicNow)
                }
            }
        }
        return actions
    }

    /// Runs the configured escalation for a breached inquiry.
    mutating func escalate(_ id: InquiryID, machine: inout MajordomoBrokerMachine, now: Date, monotonicNow: ContinuousClock.Instant) -> [MajordomoBrokerMachine.Action] {
        guard var current = record(id), current.lifecycle.state != .closed else { return [] }
        switch configuration.sla.escalation {
        case .none:
            return []
        case .raisePriority:
            let raised = current.priority.raised
            guard raised != current.priority else { return [] }
            current.priority = raised
            save(current, entry: nil)
            note(id, event: "inquiry.escalated", actor: .system, note: "priority raised to \(raised.rawValue) after an SLA breach", at: now)
            guard current.lifecycle.state == .queued,
                  var entry = machine.removeQueuedInquiry(id, department: current.lifecycle.department) else { return [] }
            entry.priority = raised
            return machine.enqueueInquiry(entry, department: current.lifecycle.department, now: monotonicNow)
        case .moveTo(let desk):
            guard current.lifecycle.state == .queued, current.lifecycle.department != desk,
                  machine.removeQueuedInquiry(id, department: current.lifecycle.department) != nil,
                  let moved = try? transition(id, .handoff(to: desk, note: "escalated after an SLA breach"), by: .system, at: now)
            else { return [] }
            requeue(moved)
            return []
        }
    }
}

/// A department worker's outcome document (see `Protocols/3-handoffs-and-events.md`).
enum WorkerOutcome {
    case answered(text: String, account: String)
    case handoff(to: String, note: String)
    case returned(note: String)
    case awaitingCitizen(note: String)
    case close(Resolution, note: String?)

    /// Parses a reply body; nil when it is not an outcome document.
    init?(_ bytes: [UInt8]) {
        guard let object = (try? JSONSerialization.jsonObject(with: Data(bytes))) as? [String: Any],
              let outcome = object["outcome"] as? String else { return nil }
        let note = object["note"] as? String
        switch outcome {
        case "answered":
            guard let text = object["text"] as? String, let account = object["account"] as? String else { return nil }
            self = .answered(text: text, account: account)
        case "handoff":
            guard let target = object["department"] as? String else { return nil }
            self = .handoff(to: target, note: note ?? "")
        case "return":
            self = .returned(note: note ?? "")
        case "awaiting_citizen":
            self = .awaitingCitizen(note: note ?? "")
        case "close":
            guard let resolution = (object["resolution"] as? String).flatMap(Resolution.init(rawValue:)) else { return nil }
            self = .close(resolution, note: note)
        default:
            return nil
        }
    }
}
