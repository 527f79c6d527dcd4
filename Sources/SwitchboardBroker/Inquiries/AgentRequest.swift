import Foundation
import Majordomo
import SwitchboardCore
import SwitchboardProtocol
import ZeroMQ

/// The broker's own services, by name (the names are the wire model's, in
/// `SwitchboardProtocol`): `sb.`, `mmi.` and `outbound.` are kept from workers.
enum InquiryService {
    static let ingest = ServiceName.ingest
    static let requeue = AdminService.requeue.rawValue
    static let erase = AdminService.erase.rawValue
    static let export = AdminService.export.rawValue
    static let explain = ServiceName.routeExplain
    static let departments = ServiceName.departments
    static let outboundStatus = ServiceName.outboundStatus
    static let gatewayAccounts = ServiceName.gatewayAccounts

    static var all: Set<String> {
        Set([ingest, explain, departments, outboundStatus, gatewayAccounts] + AdminService.allCases.map(\.rawValue) + AgentService.allCases.map(\.rawValue)
            + ChannelService.allCases.map(\.rawValue) + CitizenService.allCases.map(\.rawValue))
    }

    /// Outbound services (`outbound.<platform>`) carry messages to publishing gateways.
    static func isOutbound(_ service: String) -> Bool { service.hasPrefix(ServiceName.outboundPrefix) }
}

extension AgentService {
    /// Reads: served from the store's read side, never through the machine.
    var isRead: Bool { self == .list || self == .timeline || self == .show || self == .resolve }
}

/// A refused request that is not a lifecycle rule: a missing field, an unknown id. Each
/// case has its own stable code (see `Protocols/3-handoffs-and-events.md`).
enum AgentError: Error, CustomStringConvertible {
    case invalidJSON
    case missing(String)
    case invalid(field: String, String)
    case notFound(InquiryID)
    /// `known` names the departments there are, for the refusal to list them.
    case unknownDepartment(String, known: [String] = [])
    case emptyQueue(String)
    case notParked(InquiryID, LifecycleState)
    case unofficialAccount(Platform, allowed: [String])
    case unavailable
    /// The key's role does not allow this; `needs` names the roles that would.
    case forbidden(service: String, needs: String)
    /// The request names another agent or department than the key's own.
    case notYours(field: String)
    /// An erasure was asked for a citizen whose inquiries are still being handled.
    /// Named by case number (`R-12`), as agents find them.
    case openInquiries([String])
    /// An erasure names a citizen who wrote no inquiry on that platform.
    case noCitizenRecords(Platform)
    /// No inquiry id starts with what the agent typed.
    case noSuchPrefix(String)
    /// No inquiry has that case number.
    case noSuchCase(String)

    var code: ErrorCode {
        switch self {
        case .invalidJSON: .invalidJSON
        case .missing: .missingField
        case .invalid: .invalidValue
        case .notFound: .notFound
        case .unknownDepartment: .unknownDepartment
        case .emptyQueue: .queueEmpty
        case .notParked: .notParked
        case .unofficialAccount: .unofficialAccount
        case .unavailable: .storeUnavailable
        case .forbidden, .notYours: .forbidden
        case .openInquiries: .openInquiries
        case .noCitizenRecords, .noSuchPrefix, .noSuchCase: .notFound
        }
    }

    /// Messages name fields and states, never a value the citizen or agent wrote.
    var description: String {
        switch self {
        case .invalidJSON: "the body must be one frame holding a JSON object"
        case .missing(let field): "\(field) is required"
        case .invalid(let field, let message): "\(field): \(message)"
        case .notFound(let id): "there is no inquiry \(id)"
        case .unknownDepartment(let id, let known):
            "\(id) is not a department of this broker" + (known.isEmpty ? "" : "; the departments are \(known.joined(separator: ", "))")
        case .emptyQueue(let department): "the \(department) queue has nothing ready to claim"
        case .notParked(let id, let state): "inquiry \(id) is \(state.rawValue), not parked; only parked inquiries can be requeued"
        case .unofficialAccount(let platform, let allowed):
            "the account is not an active official \(platform.rawValue) account of this department; "
                + (allowed.isEmpty ? "it has none on \(platform.rawValue): ask a registry administrator to register one"
                    : "use \(allowed.joined(separator: " or "))")
        case .unavailable: "the broker could not write to its store; nothing was changed, retry later"
        case .forbidden(let service, let needs): "\(service) needs the role \(needs); ask an administrator to add it to your key"
        case .notYours(let field): "\(field) must be your key's own (or left out, and taken from your key)"
        case .openInquiries(let cases):
            "the citizen has \(cases.count) \(cases.count == 1 ? "inquiry" : "inquiries") not closed yet (\(cases.prefix(10).joined(separator: ", "))); "
                + "have each closed first (an agent claims it, 'switchboard claim ID', then closes it, "
                + "'switchboard close ID --resolution answered'), then ask again"
        case .noSuchPrefix(let prefix): "no inquiry id starts with \(prefix); check it against 'switchboard queue'"
        case .noSuchCase(let number): "there is no case \(number); check it against 'switchboard queue --state all'"
        case .noCitizenRecords(let platform):
            "no inquiry on \(platform.rawValue) was written by that handle; nothing was erased. Check the platform and the "
                + "handle as the platform shows it (any case, with or without @; a profile URL is not a handle)"
        }
    }
}

/// The fields of an agent request, decoded once, by the strict parser that reads
/// envelopes: UTF-8 JSON only, no trailing commas, no repeated keys.
struct AgentRequest: Sendable {
    private var fields: [String: JSONValue]

    init(_ body: [Frame]) throws(AgentError) {
        guard body.count == 1, let members = (try? JSONValue.parse(body[0].bytes))?.objectValue else { throw .invalidJSON }
        // The parser refuses repeated keys.
        fields = Dictionary(uniqueKeysWithValues: members)
    }

    func string(_ key: String) throws(AgentError) -> String {
        guard let value = optional(key) else { throw .missing(key) }
        return value
    }

    func optional(_ key: String) -> String? {
        guard let value = fields[key]?.stringValue, !value.trimmingCharacters(in: .whitespaces).isEmpty else { return nil }
        return value
    }

    /// A whole number (`2`, not `2.5`, nor `"2"`).
    func integer(_ key: String) -> Int? {
        guard let value = fields[key]?.doubleValue, value == value.rounded(), abs(value) < 1e15 else { return nil }
        return Int(value)
    }

    /// Whether the request has `key` at all (with any value, null included).
    func has(_ key: String) -> Bool { fields[key] != nil }

    func bool(_ key: String) -> Bool? { fields[key]?.boolValue }

    /// An array of strings; nil when absent or when any element is not a string.
    func strings(_ key: String) -> [String]? {
        guard let values = fields[key]?.arrayValue else { return nil }
        let strings = values.compactMap(\.stringValue)
        return strings.count == values.count ? strings : nil
    }

    /// The inquiry id, if the request names one.
    func optionalID() throws(AgentError) -> InquiryID? {
        guard let text = optional("id") else { return nil }
        guard let id = InquiryID(text) else { throw .invalid(field: "id", "not an inquiry id") }
        return id
    }

    func id() throws(AgentError) -> InquiryID {
        guard let id = try optionalID() else { throw .missing("id") }
        return id
    }

    /// The inquiry a merge names (`duplicate_of`), if any.
    func duplicateOf() throws(AgentError) -> InquiryID? {
        guard let text = optional("duplicate_of") else { return nil }
        guard let id = InquiryID(text) else { throw .invalid(field: "duplicate_of", "not an inquiry id or case number") }
        return id
    }

    /// The fields that name an inquiry, by id or case number.
    static let inquiryFields = ["id", "duplicate_of"]

    /// Lets `id` name a case (`R-4821`, `#4821`, `4821`) wherever an inquiry id is taken:
    /// a case number is replaced by the id it names, read with `lookup`.
    /// Whether `id` names a case rather than an inquiry id: resolving it reads the store.
    func namesCase(_ numbering: CaseNumbering) -> Bool {
        Self.inquiryFields.contains { field in
            guard let text = optional(field), InquiryID(text) == nil else { return false }
            return numbering.parse(text) != nil
        }
    }

    mutating func resolveCaseNumber(_ numbering: CaseNumbering, lookup: (Int) throws -> InquiryID?) throws(AgentError) {
        for field in Self.inquiryFields {
            guard let text = optional(field), InquiryID(text) == nil, let number = numbering.parse(text) else { continue }
            let found: InquiryID?
            do { found = try lookup(number) } catch { throw .unavailable }
            guard let found else { throw .noSuchCase(numbering.format(number)) }
            fields[field] = .string(found.description)
        }
    }

    var agent: Actor? { optional("agent").map(Actor.agent) }
    var department: String? { optional("department") }

    /// With CURVE, who the request is from comes from the key, never from the request:
    /// `agent` and `department` must be the key's own, or are filled in from it.
    mutating func actAs(_ holder: KeyHolder?) throws(AgentError) {
        guard let holder else { return }
        if let agent = optional("agent"), agent != holder.name { throw .notYours(field: "agent") }
        fields["agent"] = .string(holder.name)
        if let own = holder.role.department {
            if let department, department != own { throw .notYours(field: "department") }
            fields["department"] = .string(own)
        }
    }
}

/// A department worker's outcome document (see `Protocols/3-handoffs-and-events.md`).
enum WorkerOutcome {
    case answered(text: String, account: String)
    case handoff(to: String, note: String)
    case returned(note: String)
    /// With `text` and `account`, the question is sent to the citizen.
    case awaitingCitizen(note: String, question: String?, account: String?)
    case close(Resolution, note: String?)

    /// Parses a reply body; nil when it is not an outcome document.
    init?(_ bytes: [UInt8]) {
        // Plain acknowledgements ("ok", "scheduled a crew") are the common case: only a
        // body that looks like a JSON object is parsed.
        guard bytes.first == UInt8(ascii: "{"), let document = try? JSONValue.parse(bytes) else { return nil }
        func text(_ key: String) -> String? { document[key]?.stringValue }
        guard let outcome = text("outcome") else { return nil }
        let note = text("note")
        switch outcome {
        case "answered":
            guard let answer = text("text"), let account = text("account") else { return nil }
            self = .answered(text: answer, account: account)
        case "handoff":
            guard let target = text("department") else { return nil }
            self = .handoff(to: target, note: note ?? "")
        case "return":
            self = .returned(note: note ?? "")
        case "awaiting_citizen":
            self = .awaitingCitizen(note: note ?? "", question: text("text"), account: text("account"))
        case "close":
            guard let resolution = text("resolution").flatMap(Resolution.init(rawValue:)) else { return nil }
            self = .close(resolution, note: note)
        default:
            return nil
        }
    }
}
