import Foundation
import SwitchboardCore
import SwitchboardProtocol
import SwitchboardStore
import ZeroMQ

/// The channel registry's services (see `Protocols/6-channel-registry.md`): one JSON frame
/// in and out. Reads are answered from memory; writes are committed before they are
/// answered, like every other change.
extension ChannelService {
    /// Writes need the registry-admin role; reads any authenticated key.
    var isWrite: Bool {
        switch self {
        case .register, .approve, .suspend, .reactivate, .archive: true
        case .list, .show, .verify, .history: false
        }
    }

    var action: ChannelRegistry.Action? {
        switch self {
        case .approve: .approve
        case .suspend: .suspend
        case .reactivate: .reactivate
        case .archive: .archive
        default: nil
        }
    }
}

extension ChannelEntry {
    /// The entry as the services answer it.
    var json: [String: Any] {
        var object: [String: Any] = [
            "id": id, "platform": platform.rawValue, "handle": handle, "normalized": normalized, "status": status.rawValue,
            "contacts": contacts,
        ]
        object["display_name"] = displayName
        object["url"] = url
        object["department"] = department
        object["verified_at"] = verifiedAt.map(Timestamp.format)
        object["review_due"] = reviewDue.map(Timestamp.format)
        return object
    }

    var historyJSON: [[String: Any]] {
        history.map { change in
            var line: [String: Any] = ["action": change.action, "actor": change.actor, "at": Timestamp.format(change.at), "status": change.status.rawValue]
            line["reason"] = change.reason
            return line
        }
    }
}

extension ChannelError {
    /// As an agent-style error answer, with the entry it names.
    var reply: InquiryReply {
        var detail: [String: Any] = ["code": code.rawValue, "message": description]
        switch self {
        case .duplicate(let entry), .lookalike(let entry, _), .secondAccount(let entry): detail["channel"] = entry.json
        default: break
        }
        return .agent(["status": "error", "error": detail])
    }
}
