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
    var item: ChannelItem {
        ChannelItem(id: id, platform: platform.rawValue, handle: handle, normalized: normalized, status: status.rawValue, contacts: contacts,
                    displayName: displayName, url: url, department: department, verifiedAt: verifiedAt.map(Timestamp.format),
                    reviewDue: reviewDue.map(Timestamp.format))
    }

    var changes: [ChannelChangeItem] {
        history.map { ChannelChangeItem(action: $0.action, actor: $0.actor, at: Timestamp.format($0.at), status: $0.status.rawValue, reason: $0.reason) }
    }
}

extension ChannelError {
    /// As an error answer, with the entry it names.
    var reply: InquiryReply {
        let entry: ChannelEntry? = switch self {
        case .duplicate(let entry), .lookalike(let entry, _), .secondAccount(let entry): entry
        default: nil
        }
        return .model(ChannelRefusal(code: code, message: description, channel: entry?.item))
    }
}
