import Foundation
import SwitchboardCore
import SwitchboardProtocol
import SwitchboardStore
import ZeroMQ

/// Every answer the inquiry side sends a client, as one JSON frame.
enum InquiryReply {
    case accepted(id: InquiryID, key: DeduplicationKey, department: String, priority: Priority)
    case duplicate(of: DuplicateOf, key: DeduplicationKey)
    /// A citizen's follow-up joined the conversation of the inquiry it answers.
    case threaded(into: DuplicateOf, key: DeduplicationKey)
    case rejected(IngestError)
    case requeued(id: InquiryID, department: String)
    /// An agent service's answer, as a JSON object.
    case agent([String: Any])
    case agentError(AgentError)
    case lifecycleError(LifecycleError, allowed: [String]?)
    /// The store could not be written: try again later.
    case unavailable

    /// Hand-written on the hot path (ingest), Foundation for the rest.
    var frame: Frame {
        var writer = JSONWriter()
        switch self {
        case .accepted(let id, let key, let department, let priority):
            Self.write(&writer, status: "accepted", link: nil, DuplicateOf(id: id, department: department, priority: priority), key)
        case .duplicate(let original, let key):
            Self.write(&writer, status: "duplicate", link: "duplicate_of", original, key)
        case .threaded(let inquiry, let key):
            Self.write(&writer, status: "accepted", link: "thread_of", inquiry, key)
        case .rejected(let error):
            var detail = JSONWriter()
            detail.add("code", error.code.rawValue)
            detail.add("message", error.message)
            detail.add("field", error.field)
            writer.add("status", "rejected")
            writer.add("error", object: detail)
        case .requeued(let id, let department):
            writer.add("status", "requeued")
            writer.add("id", id.description)
            writer.add("department", department)
        case .unavailable:
            return Self.error(code: AgentError.unavailable.code, message: AgentError.unavailable.description)
        case .agentError(let error):
            return Self.error(code: error.code, message: error.description)
        case .lifecycleError(let error, let allowed):
            var detail: [String: Any] = ["code": error.code.rawValue, "message": error.description]
            if case .invalidTransition(let state, _, let moves) = error {
                detail["state"] = state.rawValue
                detail["allowed"] = allowed ?? moves
            }
            return Self.json(["status": "error", "error": detail])
        case .agent(let object):
            return Self.json(object)
        }
        return Frame(writer.bytes)
    }

    /// An ingest answer naming the inquiry: `link` repeats its id under the name that
    /// says how this envelope relates to it.
    private static func write(_ writer: inout JSONWriter, status: String, link: String?, _ inquiry: DuplicateOf, _ key: DeduplicationKey) {
        writer.add("status", status)
        writer.add("id", inquiry.id.description)
        if let link { writer.add(link, inquiry.id.description) }
        writer.add("department", inquiry.department)
        writer.add("priority", inquiry.priority.rawValue)
        writer.add("platform", key.platform.rawValue)
        writer.add("external_id", key.externalID)
    }

    private static func error(code: ErrorCode, message: String) -> Frame {
        var detail = JSONWriter()
        detail.add("code", code.rawValue)
        detail.add("message", message)
        var writer = JSONWriter()
        writer.add("status", "error")
        writer.add("error", object: detail)
        return Frame(writer.bytes)
    }

    private static func json(_ object: [String: Any]) -> Frame {
        // Keys sorted: agents' answers are not on the hot path, and stable output reads
        // and diffs better.
        Frame(bytes: (try? JSONSerialization.data(withJSONObject: object, options: [.withoutEscapingSlashes, .sortedKeys])) ?? Data("{}".utf8))
    }

    /// An agent answer describing an inquiry after a move.
    static func summary(_ record: LifecycleRecord, for actor: Actor, actingFor: String?) -> [String: Any] {
        var answer: [String: Any] = [
            "status": "ok", "id": "\(record.id)", "state": record.lifecycle.state.rawValue,
            "department": record.lifecycle.department, "priority": record.priority.rawValue,
            "allowed": record.lifecycle.allowedCommands(for: actor, actingFor: actingFor),
        ]
        answer["owner"] = record.lifecycle.owner.map { "\($0)" }
        answer["lease_expires_at"] = record.leaseExpiresAt.map(Timestamp.format)
        return answer
    }

    static func json(_ entry: TimelineEntry) -> [String: Any] {
        var line: [String: Any] = [
            "event": entry.event, "at": Timestamp.format(entry.at), "actor": "\(entry.actor)", "role": entry.role,
            "to": entry.to.rawValue, "department": entry.department,
        ]
        line["from"] = entry.from?.rawValue
        line["note"] = entry.note
        return line
    }
}

/// ISO 8601 with milliseconds, through a value-type format style (cheap, and safe when
/// several engines share a process).
enum Timestamp {
    static func format(_ date: Date) -> String { style.format(date) }
    private static let style = Date.ISO8601FormatStyle(includingFractionalSeconds: true)
}
