import SwitchboardCore
import SwitchboardStore

/// `sb.agent.list` and `sb.agent.timeline`: answered from the store's read side
/// (indexed, paginated), never through the inquiry machine, which they cannot change.
struct AgentReads {
    let store: any InquiryStore
    let configuration: SwitchboardConfiguration

    /// The most items one page holds.
    static let maxPage = 1_000

    func answer(_ service: AgentService, _ request: AgentRequest) -> InquiryReply {
        do {
            switch service {
            case .list: return .agent(try list(request))
            case .timeline: return .agent(try timeline(request))
            default: return .agentError(.invalid(field: "service", "not a read"))
            }
        } catch let error as AgentError {
            return .agentError(error)
        } catch {
            return .unavailable
        }
    }

    private func list(_ request: AgentRequest) throws -> [String: Any] {
        var filter = InquiryFilter(department: request.department)
        if let department = filter.department, configuration.department(department) == nil {
            throw AgentError.unknownDepartment(department)
        }
        if let state = request.optional("state") {
            guard let parsed = LifecycleState(rawValue: state) else {
                throw AgentError.invalid(field: "state", "must be one of \(LifecycleState.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            filter.state = parsed
        }
        if let priority = request.optional("priority") {
            guard let parsed = Priority(rawValue: priority) else {
                throw AgentError.invalid(field: "priority", "must be one of \(Priority.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            filter.priority = parsed
        }
        if let owner = request.optional("owner") { filter.owner = .agent(owner) }
        filter.limit = max(1, min(request.integer("limit") ?? 100, Self.maxPage))
        filter.offset = max(0, request.integer("offset") ?? 0)
        let page = try store.list(filter)
        let items = page.items.map { summary -> [String: Any] in
            var line: [String: Any] = [
                "id": "\(summary.id)", "department": summary.department, "state": summary.state.rawValue,
                "priority": summary.priority.rawValue, "received_at": summary.receivedAt, "platform": summary.platform.rawValue,
            ]
            line["owner"] = summary.owner.map { "\($0)" }
            return line
        }
        var answer: [String: Any] = ["status": "ok", "inquiries": items, "total": page.total, "offset": filter.offset]
        if filter.offset + items.count < page.total { answer["next_offset"] = filter.offset + items.count }
        return answer
    }

    private func timeline(_ request: AgentRequest) throws -> [String: Any] {
        let id = try request.id()
        let entries = try store.timeline(id)
        guard !entries.isEmpty else { throw AgentError.notFound(id) }
        return ["status": "ok", "id": "\(id)", "timeline": entries.map(InquiryReply.json)]
    }
}
