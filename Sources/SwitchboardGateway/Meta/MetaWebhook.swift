import Foundation
import SwitchboardCore
import SwitchboardProtocol

/// One delivery of Meta's webhooks (Facebook Page feed, Messenger, Instagram comments and
/// direct messages, WhatsApp Cloud API), read into what the gateway does with each item.
/// Meta batches: every `entry[]`, every `changes[]`, `messaging[]` and `messages[]` is
/// taken. Pure: bytes in, items out.
public struct MetaWebhook: Sendable {
    /// What one item of a delivery is.
    public enum Item: Equatable, Sendable {
        /// A citizen's post or message: one envelope for `sb.ingest`.
        case inquiry(Inquiry)
        /// The city's own message coming back (an echo, or a post by the page itself):
        /// never a citizen's inquiry.
        case ownMessage(platform: Platform, externalID: String)
        /// Addressed to an id no account is configured for: refused, not guessed.
        case unknownAccount(id: String)
        /// What became of a message the city posted: for `sb.outbound.status`.
        case status(OutboundStatusRequest)
        /// Something this gateway does not take yet (a read watermark, a reaction), named
        /// for the log and the counters.
        case ignored(String)
    }

    /// The configured accounts, by the id Meta addresses them with (page id, Instagram
    /// account id, WhatsApp phone number id).
    public let accounts: [String: MetaAccount]

    public init(accounts: [MetaAccount]) {
        self.accounts = Dictionary(accounts.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
    }

    public enum ParseError: Error, Equatable, CustomStringConvertible {
        case notJSON(String)
        case notAWebhook

        public var description: String {
            switch self {
            case .notJSON(let reason): "the body is not JSON: \(reason)"
            case .notAWebhook: "the body has no object and entry list, as Meta's webhooks do"
            }
        }
    }

    public func items(_ body: [UInt8]) throws(ParseError) -> [Item] {
        let root: JSONValue
        do { root = try JSONValue.parse(body) } catch { throw .notJSON("\(error)") }
        guard let object = root["object"]?.stringValue, let entries = root["entry"]?.arrayValue else { throw .notAWebhook }
        var items: [Item] = []
        for entry in entries {
            let entryID = entry["id"]?.stringValue ?? ""
            for change in entry["changes"]?.arrayValue ?? [] {
                items += self.change(change, entryID: entryID, object: object)
            }
            for event in entry["messaging"]?.arrayValue ?? [] {
                items += messaging(event, entryID: entryID, object: object)
            }
        }
        return items
    }

    // MARK: changes[]: feed comments, Instagram comments, WhatsApp messages

    private func change(_ change: JSONValue, entryID: String, object: String) -> [Item] {
        let field = change["field"]?.stringValue ?? ""
        guard let value = change["value"] else { return [.ignored("\(object).\(field)")] }
        switch (object, field) {
        case ("page", "feed"): return [feed(value, pageID: entryID)]
        case ("instagram", "comments"), ("instagram", "live_comments"): return [instagramComment(value, accountID: entryID)]
        case ("whatsapp_business_account", "messages"): return whatsapp(value)
        default: return [.ignored("\(object).\(field)")]
        }
    }

    private func feed(_ value: JSONValue, pageID: String) -> Item {
        guard let account = accounts[pageID] else { return .unknownAccount(id: pageID) }
        guard value["item"]?.stringValue == "comment" || value["item"]?.stringValue == "post" else {
            return .ignored("feed.\(value["item"]?.stringValue ?? "?")")
        }
        let verb = value["verb"]?.stringValue ?? "?"
        let id = value["comment_id"]?.stringValue ?? value["post_id"]?.stringValue ?? ""
        let from = value["from"]
        // The page's own comments are the city's replies.
        if from?["id"]?.stringValue == pageID { return .ownMessage(platform: account.platform, externalID: id) }
        // A citizen's edit or deletion changes the inquiry the comment became.
        let change: Inquiry.Change? = switch verb {
        case "add": nil
        case "edited": Inquiry.Change(kind: .edited, revision: "\(Int(value["created_time"]?.doubleValue ?? 0))")
        case "remove": Inquiry.Change(kind: .deleted, revision: "removed")
        default: Inquiry.Change(kind: .deleted, revision: "")
        }
        if verb != "add" && change?.revision.isEmpty != false { return .ignored("feed.\(verb)") }
        let parent = value["parent_id"]?.stringValue ?? value["post_id"]?.stringValue
        return .inquiry(Inquiry(
            source: .init(platform: account.platform, account: account.handle, externalID: id, inReplyTo: parent == id ? nil : parent),
            author: .init(handle: from?["id"]?.stringValue ?? "unknown", displayName: from?["name"]?.stringValue),
            text: value["message"]?.stringValue ?? (change?.kind == .deleted ? "(deleted)" : ""),
            media: [value["photo"]?.stringValue, value["video"]?.stringValue].compactMap { $0 }.nonEmpty,
            capturedAt: Self.time(seconds: value["created_time"]?.doubleValue), change: change))
    }

    private func instagramComment(_ value: JSONValue, accountID: String) -> Item {
        guard let account = accounts[accountID] else { return .unknownAccount(id: accountID) }
        let id = value["id"]?.stringValue ?? ""
        let from = value["from"]
        if from?["id"]?.stringValue == accountID || from?["username"]?.stringValue?.lowercased() == account.handle.lowercased() {
            return .ownMessage(platform: account.platform, externalID: id)
        }
        return .inquiry(Inquiry(
            source: .init(platform: account.platform, account: account.handle, externalID: id,
                          inReplyTo: value["parent_id"]?.stringValue ?? value["media"]?["id"]?.stringValue),
            author: .init(handle: from?["username"]?.stringValue ?? from?["id"]?.stringValue ?? "unknown", displayName: nil),
            text: value["text"]?.stringValue ?? "", capturedAt: Self.time(seconds: nil)))
    }

    private func whatsapp(_ value: JSONValue) -> [Item] {
        let numberID = value["metadata"]?["phone_number_id"]?.stringValue ?? ""
        guard let account = accounts[numberID] else { return [.unknownAccount(id: numberID)] }
        var names: [String: String] = [:]
        for contact in value["contacts"]?.arrayValue ?? [] {
            if let id = contact["wa_id"]?.stringValue, let name = contact["profile"]?["name"]?.stringValue { names[id] = name }
        }
        var items: [Item] = (value["statuses"]?.arrayValue ?? []).map { status in
            guard let id = status["id"]?.stringValue, let name = status["status"]?.stringValue else { return .ignored("whatsapp.status") }
            switch name {
            case "delivered", "read":
                return .status(OutboundStatusRequest(platform: account.platform.rawValue, externalID: id, status: name == "read" ? .read : .delivered))
            case "failed":
                let error = status["errors"]?[0]
                let code = error?["code"]?.doubleValue.map { Int($0) }
                let reason = "not delivered: \(error?["title"]?.stringValue ?? error?["message"]?.stringValue ?? "WhatsApp gave no reason") (code \(code.map(String.init) ?? "-"))"
                return .status(OutboundStatusRequest(platform: account.platform.rawValue, externalID: id, status: .failed,
                                                     code: (code == 131047 ? ErrorCode.messagingWindowClosed : .rejectedByPlatform).rawValue, reason: reason))
            default:
                return .ignored("whatsapp.status.\(name)")
            }
        }
        for message in value["messages"]?.arrayValue ?? [] {
            let type = message["type"]?.stringValue ?? "text"
            let from = message["from"]?.stringValue ?? "unknown"
            let text: String
            var media: [String] = []
            switch type {
            case "text": text = message["text"]?["body"]?.stringValue ?? ""
            case "image", "video", "document", "audio", "sticker":
                text = message[type]?["caption"]?.stringValue ?? "(\(type))"
                // WhatsApp gives a media id, fetched through the API with the account's token.
                if let id = message[type]?["id"]?.stringValue { media.append("whatsapp-media:\(id)") }
            case "location":
                let place = message["location"]
                text = [place?["name"]?.stringValue, place?["address"]?.stringValue].compactMap { $0 }.joined(separator: ", ")
            default:
                items.append(.ignored("whatsapp.\(type)"))
                continue
            }
            // Seconds since the epoch, as a string.
            let seconds = message["timestamp"]?.stringValue.flatMap(Double.init)
            items.append(.inquiry(Inquiry(
                source: .init(platform: account.platform, account: account.handle, externalID: message["id"]?.stringValue ?? "",
                              inReplyTo: message["context"]?["id"]?.stringValue),
                author: .init(handle: from, displayName: names[from]), text: text.isEmpty ? "(\(type))" : text, media: media.nonEmpty,
                capturedAt: Self.time(seconds: seconds))))
        }
        return items
    }

    // MARK: messaging[]: Messenger and Instagram direct messages

    private func messaging(_ event: JSONValue, entryID: String, object: String) -> [Item] {
        guard let account = accounts[entryID] else { return [.unknownAccount(id: entryID)] }
        if let edit = event["message_edit"], let mid = edit["mid"]?.stringValue {
            // The citizen edited a message they sent: a new version, never a new inquiry.
            return [.inquiry(Inquiry(
                source: .init(platform: account.platform, account: account.handle, externalID: mid, thread: event["sender"]?["id"]?.stringValue),
                author: .init(handle: event["sender"]?["id"]?.stringValue ?? "unknown", displayName: nil),
                text: edit["text"]?.stringValue ?? "", capturedAt: Self.time(seconds: event["timestamp"]?.doubleValue.map { $0 / 1_000 }),
                change: Inquiry.Change(kind: .edited, revision: "\(Int(edit["num_edit"]?.doubleValue ?? 1))")))]
        }
        if let mids = event["delivery"]?["mids"]?.arrayValue, !mids.isEmpty {
            // Messenger says which of the page's messages reached the citizen.
            return mids.compactMap(\.stringValue).map {
                .status(OutboundStatusRequest(platform: account.platform.rawValue, externalID: $0, status: .delivered))
            }
        }
        // Or a watermark: every message the page sent this citizen before it was delivered
        // (without mids) or read.
        for (kind, status) in [("delivery", OutboundStatusRequest.Status.delivered), ("read", .read)] {
            if let watermark = event[kind]?["watermark"]?.doubleValue, let citizen = event["sender"]?["id"]?.stringValue {
                // Milliseconds, kept exact (a Double's fraction would lose the last one).
                let milliseconds = Int64(watermark)
                let seconds = Date(timeIntervalSince1970: Double(milliseconds / 1_000)).formatted(.iso8601).dropLast()
                let text = seconds + "." + String(format: "%03dZ", Int(milliseconds % 1_000))
                return [.status(OutboundStatusRequest(platform: account.platform.rawValue, recipient: citizen, watermark: text, status: status))]
            }
        }
        guard let message = event["message"] else {
            for kind in ["delivery", "read", "reaction", "postback"] where event[kind] != nil {
                return [.ignored("\(object).\(kind)")]
            }
            return [.ignored("\(object).messaging")]
        }
        let id = message["mid"]?.stringValue ?? ""
        // An echo of what the page sent (it may arrive before the send call returns).
        if message["is_echo"]?.boolValue == true || event["sender"]?["id"]?.stringValue == entryID {
            return [.ownMessage(platform: account.platform, externalID: id)]
        }
        let media = (message["attachments"]?.arrayValue ?? []).compactMap { $0["payload"]?["url"]?.stringValue }
        let text = message["text"]?.stringValue ?? (media.isEmpty ? "" : "(attachment)")
        return [.inquiry(Inquiry(
            source: .init(platform: account.platform, account: account.handle, externalID: id,
                          inReplyTo: message["reply_to"]?["mid"]?.stringValue,
                          thread: event["sender"]?["id"]?.stringValue),
            author: .init(handle: event["sender"]?["id"]?.stringValue ?? "unknown", displayName: nil),
            text: text, media: media.nonEmpty,
            // Messenger counts milliseconds.
            capturedAt: Self.time(seconds: event["timestamp"]?.doubleValue.map { $0 / 1_000 })))]
    }

    /// The platform's time, or now when it gave none.
    static func time(seconds: Double?) -> String {
        Inquiry.timestamp(seconds.map(Date.init(timeIntervalSince1970:)) ?? Date())
    }
}

/// An account the gateway serves on Meta's platforms.
public struct MetaAccount: Sendable, Equatable {
    /// `facebook`, `instagram` or `whatsapp` (Messenger is `facebook`).
    public var platform: Platform
    /// The page id, Instagram account id or WhatsApp phone number id Meta addresses.
    public var id: String
    /// The handle the broker's registry knows the account by.
    public var handle: String

    public init(platform: Platform, id: String, handle: String) {
        self.platform = platform
        self.id = id
        self.handle = handle
    }
}
