import SwitchboardCore
import SwitchboardProtocol

/// An agent's move (`sb.agent.*` but the reads), read from its request once: which
/// inquiry, and what to do to it, with every field the move needs checked here. The
/// inquiry machine then decides on values, and a missing or wrong field is named before
/// anything is looked up.
enum AgentMove: Equatable {
    /// Claim this inquiry, or with none named the next one in the agent's department.
    case claim(InquiryID?)
    case renew(InquiryID)
    case release(InquiryID, note: String)
    case reply(InquiryID, text: String, account: String)
    case handoff(InquiryID, to: String, note: String)
    case returnToFrontOffice(InquiryID, note: String)
    case requestInformation(InquiryID, question: String, account: String, note: String)
    /// With `duplicateOf`, a merge: closed as `duplicate`, pointing to the other inquiry.
    case close(InquiryID, Resolution, note: String?, duplicateOf: InquiryID?)
    case reopen(InquiryID, note: String?)

    /// The move `service` asks for; nil for the reads (`list`, `timeline`, `show`,
    /// `resolve`), which are not moves.
    static func read(_ service: AgentService, _ request: AgentRequest) throws(AgentError) -> AgentMove? {
        switch service {
        case .claim:
            return .claim(try request.optionalID())
        case .renew:
            return .renew(try request.id())
        case .release:
            return .release(try request.id(), note: request.optional("note") ?? "released by agent")
        case .reply:
            let id = try request.id()
            return .reply(id, text: try request.string("text"), account: try request.string("account"))
        case .handoff:
            let id = try request.id()
            return .handoff(id, to: try request.string("to"), note: try request.string("note"))
        case .returnToFrontOffice:
            let id = try request.id()
            return .returnToFrontOffice(id, note: try request.string("note"))
        case .requestInformation:
            let id = try request.id()
            return .requestInformation(id, question: try request.string("text"), account: try request.string("account"),
                                       note: request.optional("note") ?? "")
        case .close:
            let id = try request.id()
            let other = try request.duplicateOf()
            if other == id { throw .invalid(field: "duplicate_of", "names the inquiry itself; name the other inquiry the citizen wrote") }
            // A merge names the other inquiry; its resolution goes without saying.
            let text = other != nil ? request.optional("resolution") ?? Resolution.duplicate.rawValue : try request.string("resolution")
            guard let resolution = Resolution(rawValue: text) else {
                throw .invalid(field: "resolution", "must be one of \(Resolution.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            return .close(id, resolution, note: request.optional("note"), duplicateOf: other)
        case .reopen:
            return .reopen(try request.id(), note: request.optional("note"))
        case .list, .timeline, .show, .resolve:
            return nil
        }
    }

    /// The id the client chose for the move (`request_id`; a reply's `reply_id`, its older
    /// name, first), so that the move sent again is recognised.
    static func requestID(_ request: AgentRequest) throws(AgentError) -> String? {
        for field in ["reply_id", "request_id"] {
            guard let id = request.optional(field) else { continue }
            guard id.utf8.count <= maxRequestID else { throw .invalid(field: field, "at most \(maxRequestID) bytes (a UUID is 36)") }
            return id
        }
        return nil
    }

    /// The move's id as the inquiry keeps it: the client's id with the service and the
    /// actor, so that a move sent again is recognised only as the same move by the same
    /// person (another agent naming the id, or another move, is made, or refused, as new).
    static func moveID(_ request: AgentRequest, service: AgentService, actor: Actor) throws(AgentError) -> String? {
        try requestID(request).map { scoped($0, service: service, actor: actor) }
    }

    static func scoped(_ requestID: String, service: AgentService, actor: Actor) -> String {
        "\(service.rawValue) \(actor.id) \(requestID)"
    }

    /// The longest request id kept: it is written with the inquiry on every move.
    static let maxRequestID = 64

    /// The inquiry it names (a claim of "the next one" names none).
    var inquiry: InquiryID? {
        switch self {
        case .claim(let id): id
        case .renew(let id), .release(let id, _), .reply(let id, _, _), .handoff(let id, _, _), .returnToFrontOffice(let id, _),
             .requestInformation(let id, _, _, _), .close(let id, _, _, _), .reopen(let id, _):
            id
        }
    }
}
