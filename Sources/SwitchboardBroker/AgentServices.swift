import Foundation
import Majordomo
import SwitchboardCore
import SwitchboardStore
import ZeroMQ

/// The contact centre's services: JSON in, JSON out, each call naming the agent and the
/// department it acts for. They are the back end of the `switchboard` CLI.
enum AgentService: String, CaseIterable {
    case list = "sb.agent.list"
    case claim = "sb.agent.claim"
    case renew = "sb.agent.renew"
    case release = "sb.agent.release"
    case reply = "sb.agent.reply"
    case handoff = "sb.agent.handoff"
    case returnToFrontOffice = "sb.agent.return"
    case requestInformation = "sb.agent.request-info"
    case close = "sb.agent.close"
    case reopen = "sb.agent.reopen"
    case timeline = "sb.agent.timeline"
}

/// A refused agent request that is not a lifecycle rule: a missing field, an unknown id.
enum AgentError: Error, CustomStringConvertible {
    case invalidJSON
    case missing(String)
    case invalid(field: String, String)
    case notFound(InquiryID)
    case emptyQueue(String)
    case unofficialAccount(String, Platform)

    var code: String {
        switch self {
        case .invalidJSON: "invalid_json"
        case .missing: "missing_field"
        case .invalid: "invalid_value"
        case .notFound: "not_found"
        case .emptyQueue: "queue_empty"
        case .unofficialAccount: "unofficial_account"
        }
    }

    var description: String {
        switch self {
        case .invalidJSON: "the body must be one frame holding a JSON object"
        case .missing(let field): "\(field) is required"
        case .invalid(let field, let message): "\(field): \(message)"
        case .notFound(let id): "there is no inquiry \(id)"
        case .emptyQueue(let department): "the \(department) queue has nothing ready to claim"
        case .unofficialAccount(let account, let platform):
            "\(account) is not a registered official \(platform.rawValue) account; replies go out only through registered accounts"
        }
    }
}

/// The fields of an agent request.
struct AgentRequest {
    let fields: [String: Any]

    init(_ body: [Frame]) throws(AgentError) {
        guard body.count == 1, let object = (try? JSONSerialization.jsonObject(with: Data(body[0].bytes))) as? [String: Any] else {
            throw .invalidJSON
        }
        fields = object
    }

    func string(_ key: String) throws(AgentError) -> String {
        guard let value = optional(key) else { throw .missing(key) }
        return value
    }

    func optional(_ key: String) -> String? {
        guard let value = fields[key] as? String, !value.trimmingCharacters(in: .whitespaces).isEmpty else { return nil }
        return value
    }

    func id() throws(AgentError) -> InquiryID {
        let text = try string("id")
        guard let id = InquiryID(text) else { throw .invalid(field: "id", "\(text) is not an inquiry id") }
        return id
    }
}

extension InquiryDesk {
    mutating func handleAgent(
        client: Frame, service: AgentService, body: [Frame], now: Date,
        machine: inout MajordomoBrokerMachine, monotonicNow: ContinuousClock.Instant
    ) -> [MajordomoBrokerMachine.Action] {
        let answer: IngestReply
        do {
            let request = try AgentRequest(body)
            let agent = Actor.agent(try request.string("agent"))
            answer = .agent(ok: true, try perform(service, request, agent: agent, now: now, machine: &machine))
        } catch let error as LifecycleError {
            var detail: [String: Any] = ["code": error.code, "message": error.description]
            if case .invalidTransition(let state, _, let allowed) = error {
                detail["state"] = state.rawValue
                detail["allowed"] = allowed
            }
            answer = .agent(ok: false, ["status": "error", "error": detail])
        } catch let error as AgentError {
            answer = .agent(ok: false, ["status": "error", "error": ["code": error.code, "message": error.description]])
        } catch {
            answer = .agent(ok: false, ["status": "error", "error": ["code": "store_unavailable", "message": "\(error)"]])
        }
        reply(to: client, service: service.rawValue, answer)
        return []
    }

    private mutating func perform(
        _ service: AgentService, _ request: AgentRequest, agent: Actor, now: Date, machine: inout MajordomoBrokerMachine
    ) throws -> [String: Any] {
        let department = request.optional("department")
        switch service {
        case .list:
            var filter = InquiryFilter(department: department)
            if let state = request.optional("state") {
                guard let parsed = LifecycleState(rawValue: state) else { throw AgentError.invalid(field: "state", "unknown state \(state)") }
                filter.state = parsed
            }
            if let priority = request.optional("priority") {
                guard let parsed = Priority(rawValue: priority) else { throw AgentError.invalid(field: "priority", "unknown priority \(priority)") }
                filter.priority = parsed
            }
            if let limit = request.fields["limit"] as? Int { filter.limit = max(1, min(limit, 1_000)) }
            let summaries = try store.list(filter).map { summary -> [String: Any] in
                var line: [String: Any] = [
                    "id": "\(summary.id)", "department": summary.department, "state": summary.state.rawValue,
                    "priority": summary.priority.rawValue, "received_at": summary.receivedAt, "platform": summary.platform.rawValue,
                ]
                line["owner"] = summary.owner.map { "\($0)" }
                return line
            }
            return ["status": "ok", "inquiries": summaries]

        case .timeline:
            let id = try request.id()
            let entries = try store.timeline(id)
            guard !entries.isEmpty else { throw AgentError.notFound(id) }
            return ["status": "ok", "id": "\(id)", "timeline": entries.map(Self.json)]

        case .claim:
            let team = try request.string("department")
            let lease = now.addingTimeInterval(configuration.claimLease)
            let entry: QueueEntry
            if request.optional("id") != nil {
                let id = try request.id()
                guard let current = record(id) else { throw AgentError.notFound(id) }
                // Check the move before touching the queue, so a refusal leaves it as it was.
                var probe = current.lifecycle
                _ = try probe.apply(.claim, by: agent, actingFor: team, at: now, frontOffice: configuration.frontOffice, departments: configuration.departmentIDs)
                guard let queued = machine.removeQueuedInquiry(id, department: current.lifecycle.department) else {
                    throw LifecycleError.invalidTransition(state: .inProgress, command: "claim", allowed: [])
                }
                entry = queued
            } else {
                guard let next = machine.takeNextInquiry(department: team) else { throw AgentError.emptyQueue(team) }
                entry = next
            }
            let record = try transition(entry.id, .claim, by: agent, actingFor: team, at: now, lease: lease)
            recordAcknowledgement(entry, now: now)
            var answer = summary(record)
            if let stored = try store.delivery(entry.id),
               let inquiry = try? JSONSerialization.jsonObject(with: Data(stored.envelopeJSON.utf8)),
               let routing = try? JSONSerialization.jsonObject(with: Data(stored.routingJSON.utf8)) {
                answer["inquiry"] = inquiry
                answer["routing"] = routing
            }
            return answer

        case .renew:
            let id = try request.id()
            guard var current = record(id) else { throw AgentError.notFound(id) }
            guard current.lifecycle.state == .inProgress, current.lifecycle.owner == agent else {
                throw LifecycleError.notOwner(actor: agent, owner: current.lifecycle.owner)
            }
            current.leaseExpiresAt = now.addingTimeInterval(configuration.claimLease)
            save(current, entry: nil)
            return summary(current)

        case .release:
            let record = try transition(try request.id(), .release(reason: request.optional("note") ?? "released by agent"),
                                        by: agent, actingFor: department, at: now)
            requeue(record)
            return summary(record)

        case .reply:
            let id = try request.id()
            try answer(id, text: try request.string("text"), account: try request.string("account"), by: agent, actingFor: department, at: now)
            return summary(record(id)!)

        case .handoff:
            let record = try transition(try request.id(), .handoff(to: try request.string("to"), note: try request.string("note")),
                                        by: agent, actingFor: department, at: now)
            requeue(record)
            return summary(record)

        case .returnToFrontOffice:
            let record = try transition(try request.id(), .returnToFrontOffice(note: try request.string("note")), by: agent, actingFor: department, at: now)
            requeue(record)
            return summary(record)

        case .requestInformation:
            return summary(try transition(try request.id(), .requestInformation(note: try request.string("note")), by: agent, actingFor: department, at: now))

        case .close:
            let text = try request.string("resolution")
            guard let resolution = Resolution(rawValue: text) else {
                throw AgentError.invalid(field: "resolution", "\(text) must be one of \(Resolution.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            return summary(try transition(try request.id(), .close(resolution, note: request.optional("note")), by: agent, actingFor: department, at: now))

        case .reopen:
            let record = try transition(try request.id(), .reopen(note: request.optional("note")), by: agent, actingFor: department, at: now)
            requeue(record)
            return summary(record)
        }
    }

    private func summary(_ record: LifecycleRecord) -> [String: Any] {
        var answer: [String: Any] = [
            "status": "ok", "id": "\(record.lifecycle.id)", "state": record.lifecycle.state.rawValue,
            "department": record.lifecycle.department, "priority": record.priority.rawValue,
            "allowed": record.lifecycle.allowedCommands,
        ]
        answer["owner"] = record.lifecycle.owner.map { "\($0)" }
        answer["lease_expires_at"] = record.leaseExpiresAt.map(Self.timestamp)
        return answer
    }

    static func json(_ entry: TimelineEntry) -> [String: Any] {
        var line: [String: Any] = [
            "event": entry.event, "at": timestamp(entry.at), "actor": "\(entry.actor)", "role": entry.role,
            "to": entry.to.rawValue, "department": entry.department,
        ]
        line["from"] = entry.from?.rawValue
        line["note"] = entry.note
        return line
    }
}
