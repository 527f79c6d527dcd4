import Foundation
import SwitchboardCore
import SwitchboardProtocol
import SwitchboardStore

/// `sb.agent.list` and `sb.agent.timeline`: answered from the store's read side
/// (indexed, paginated), never through the inquiry machine, which they cannot change.
struct AgentReads {
    let store: any InquiryStore
    let configuration: SwitchboardConfiguration

    /// The most items one page holds.
    static let maxPage = 1_000

    /// - Parameter role: with CURVE, the key's role: an agent reads only its department's
    ///   inquiries (the check needs the inquiry, so it is made here, after the read).
    func answer(_ service: AgentService, _ request: AgentRequest, role: Role? = nil) -> InquiryReply {
        do {
            switch service {
            case .list: return .model(try list(request, role: role))
            case .timeline:
                let answer = try timeline(request)
                try permitted(department: answer.department, role: role, service: service)
                return .model(answer)
            case .show:
                let answer = try show(request)
                try permitted(department: answer.department, role: role, service: service)
                return .detail(answer)
            case .resolve: return .model(try resolve(request))
            default: return .agentError(.invalid(field: "service", "not a read"))
            }
        } catch let error as AgentError {
            return .agentError(error)
        } catch {
            return .unavailable
        }
    }

    private func list(_ request: AgentRequest, role: Role?) throws -> InquiryList {
        var filter = InquiryFilter(department: request.department)
        // An agent's listing is its department's, whatever the request says.
        if let role, role != .ops, let own = role.department {
            guard filter.department == nil || filter.department == own else {
                throw AgentError.forbidden(service: AgentService.list.rawValue, needs: "agent:\(filter.department ?? "") or ops")
            }
            filter.department = own
        }
        if let department = filter.department, configuration.department(department) == nil {
            throw AgentError.unknownDepartment(department, known: configuration.departmentIDs.sorted())
        }
        if let state = request.optional("state"), state != "all" {
            guard let parsed = LifecycleState(rawValue: state) else {
                throw AgentError.invalid(field: "state", "must be all or one of \(LifecycleState.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            filter.state = parsed
        }
        filter.openOnly = request.optional("state") == nil
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
        let items = page.items.map { summary in
            InquiryListItem(id: "\(summary.id)", department: summary.department, state: summary.state.rawValue,
                            priority: summary.priority.rawValue, receivedAt: summary.receivedAt, platform: summary.platform.rawValue,
                            owner: summary.owner.map { "\($0)" }, preview: summary.preview, slaSecondsLeft: summary.slaSecondsLeft,
                            slaState: summary.slaState, caseNumber: configuration.caseNumbering.format(summary.caseNumber),
                            unsent: summary.unsent > 0 ? summary.unsent : nil, unofficialChannel: summary.unofficialChannel)
        }
        return InquiryList(inquiries: items, total: page.total, offset: filter.offset)
    }

    /// The answer about one inquiry, if the role may read it: ops read everything, other
    /// roles their own department's.
    private func permitted(department: String?, role: Role?, service: AgentService) throws {
        guard let role, role != .ops, let department else { return }
        if let needed = AccessRules.check(role, .read(department: department)) {
            throw AgentError.forbidden(service: service.rawValue, needs: needed)
        }
    }

    /// Everything an agent needs to work on an inquiry, in one answer.
    private func show(_ request: AgentRequest) throws -> InquiryReply.DetailAnswer {
        let id = try request.id()
        guard let stored = try store.inquiry(id) else { throw AgentError.notFound(id) }
        var answer = InquiryReply.DetailAnswer(stored: stored, timeline: try store.timeline(id), messages: try store.conversation(id),
                                               numbering: configuration.caseNumbering, now: Date(),
                                               calendar: configuration.sla.calendar(department: stored.record.sla.department, priority: stored.record.priority))
        let citizens = try citizensInquiries(of: stored)
        answer.otherOpen = citizens.filter { $0.state != .closed && $0.id != stored.id }.prefix(10).reversed().map(other)
        // The same citizen's duplicates merged into this one: their authors wait for this answer too.
        answer.mergedHere = citizens.filter { $0.duplicateOf == stored.id }.map(other)
        if let target = stored.record.lifecycle.duplicateOf {
            answer.duplicateOfCase = try store.record(target).map { configuration.caseNumbering.format($0.caseNumber) }
        }
        return answer
    }

    private func other(_ inquiry: CitizenInquiry) -> InquiryDetail.OtherInquiry {
        InquiryDetail.OtherInquiry(id: inquiry.id.description, caseNumber: configuration.caseNumbering.format(inquiry.caseNumber),
                                   state: inquiry.state.rawValue, department: inquiry.department)
    }

    /// The author's inquiries (newest first), on the same platform or an identity linked
    /// to the author's; none once retention or an erasure removed the handle. What `show`
    /// names of them is their case, state and department, never their words.
    private func citizensInquiries(of stored: StoredInquiry) throws -> [CitizenInquiry] {
        let envelope = try? JSONValue.parse(Array(stored.envelopeJSON.utf8))
        guard let handle = envelope?["author"]?["handle"]?.stringValue, !CitizenHandle.normalized(handle).isEmpty else { return [] }
        let identities = try CitizenDesk.group(of: CitizenIdentity(platform: stored.key.platform, handle: handle), in: store)
        return try store.citizenInquiries(identities, limit: CitizenDesk.listed)
    }

    /// Short ids, as in git: the ids a prefix matches (a few, to list when ambiguous); or
    /// the one inquiry a case number names.
    private func resolve(_ request: AgentRequest) throws -> InquiryIDs {
        let prefix = try request.string("prefix")
        // A case number (`R-4821`, `#4821`, `4821`) names one inquiry.
        if let number = configuration.caseNumbering.parse(prefix) {
            guard let id = try store.inquiry(case: number) else { throw AgentError.noSuchCase(configuration.caseNumbering.format(number)) }
            return InquiryIDs(ids: [id.description])
        }
        guard prefix.count >= 4 else { throw AgentError.invalid(field: "prefix", "give at least 4 characters of the id") }
        let ids = try store.ids(withPrefix: prefix, limit: 10)
        guard !ids.isEmpty else { throw AgentError.noSuchPrefix(prefix) }
        return InquiryIDs(ids: ids.map(\.description))
    }

    private func timeline(_ request: AgentRequest) throws -> InquiryTimeline {
        let id = try request.id()
        let entries = try store.timeline(id)
        guard !entries.isEmpty, let record = try store.record(id) else { throw AgentError.notFound(id) }
        return InquiryTimeline(id: "\(id)", department: record.lifecycle.department, timeline: entries.map(InquiryReply.item))
    }
}
