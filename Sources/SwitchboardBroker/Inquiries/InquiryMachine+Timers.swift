import Foundation
import SwitchboardCore
import SwitchboardProtocol
import ZeroMQ

/// What the clock and the registry decide: leases that ran out, SLA alerts and the
/// escalation of breaches, reviews of official accounts due, and `sb.channels.*`.
extension InquiryMachine {
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
            guard var record = memory[id]?.record, let expiry = record.leaseExpiresAt, expiry <= now,
                  record.lifecycle.state == .inProgress else { continue }
            try? move(&record, .release(reason: "claim lease expired"), by: .system, at: now)
        }
        for id in dueAlerts {
            guard var record = memory[id]?.record else { continue }
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
        guard var record = memory[id]?.record, record.lifecycle.state != .closed else { return [] }
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
}
