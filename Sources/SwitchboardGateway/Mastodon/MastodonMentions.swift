import Foundation
import SwitchboardCore

/// An official Mastodon account the gateway reads mentions of and posts from.
public struct MastodonAccount: Sendable, Equatable {
    /// The instance's base URL, such as `https://riverton.social`.
    public var instance: String
    /// The handle the broker's registry knows the account by (`@city@riverton.social`).
    public var handle: String
    /// Seconds between two polls of the notifications.
    public var pollEvery: TimeInterval
    /// Whether the user stream is kept open too (faster, and the only way edits and
    /// deletions arrive); polling goes on beside it.
    public var stream = true

    public init(instance: String, handle: String, pollEvery: TimeInterval = 30) {
        self.instance = instance
        self.handle = handle
        self.pollEvery = pollEvery
    }

    /// The key of its token and its cursor: the handle without `@` and case.
    public var id: String { handle.lowercased().trimmingCharacters(in: CharacterSet(charactersIn: "@ ")) }

    /// The instance's host, which local accounts' `acct` leaves out.
    public var host: String { URL(string: instance)?.host ?? instance }
}

/// A page of `GET /api/v1/notifications?types[]=mention` read into envelopes, oldest first.
/// The notification ids are the cursor; the status ids are the posts' ids on the platform
/// (the broker's deduplication key), so a mention taken twice is one inquiry.
public enum MastodonMentions {
    public enum Item: Equatable, Sendable {
        case inquiry(notificationID: String, Inquiry)
        /// Not a citizen's mention (the city's own post, another type, no status): the
        /// cursor passes it.
        case skipped(notificationID: String, reason: String)

        public var notificationID: String {
            switch self {
            case .inquiry(let id, _), .skipped(let id, _): id
            }
        }
    }

    public struct PageError: Error, CustomStringConvertible {
        public let description: String
    }

    /// - Parameter ownAccountID: the city's own account id on the instance
    ///   (`verify_credentials`), whose posts are never inquiries.
    public static func items(page: [UInt8], account: MastodonAccount, ownAccountID: String?) throws(PageError) -> [Item] {
        guard let list = (try? JSONValue.parse(page))?.arrayValue else {
            throw PageError(description: "the notifications answer is not a JSON array")
        }
        let items = list.compactMap { notification -> Item? in
            guard let id = notification["id"]?.stringValue else { return nil }
            guard notification["type"]?.stringValue == "mention", let status = notification["status"] else {
                return .skipped(notificationID: id, reason: notification["type"]?.stringValue ?? "no type")
            }
            let author = status["account"]
            if let own = ownAccountID, author?["id"]?.stringValue == own { return .skipped(notificationID: id, reason: "own_post") }
            guard let inquiry = envelope(status, account: account) else { return .skipped(notificationID: id, reason: "no status") }
            return .inquiry(notificationID: id, inquiry)
        }
        return items.sorted { SnowflakeID.isOlder($0.notificationID, than: $1.notificationID) }
    }

    /// A citizen's status as an envelope; nil without an id or an author.
    public static func envelope(_ status: JSONValue, account: MastodonAccount, change: Inquiry.Change? = nil) -> Inquiry? {
        let author = status["account"]
        guard let statusID = status["id"]?.stringValue, let acct = author?["acct"]?.stringValue else { return nil }
        var text = MastodonText.plain(status["content"]?.stringValue ?? "")
        if let warning = status["spoiler_text"]?.stringValue, !warning.isEmpty {
            text = "[content warning: \(warning)]\n\n" + text
        }
        let media = (status["media_attachments"]?.arrayValue ?? []).compactMap { $0["url"]?.stringValue }
        let handle = "@" + (acct.contains("@") ? acct : "\(acct)@\(account.host)")
        return Inquiry(
            source: .init(platform: .mastodon, account: account.handle, externalID: statusID, url: status["url"]?.stringValue,
                          inReplyTo: status["in_reply_to_id"]?.stringValue,
                          // A direct mention is a private conversation: its replies stay direct.
                          thread: status["visibility"]?.stringValue == "direct" ? statusID : nil),
            author: .init(handle: handle, displayName: author?["display_name"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 }),
            text: text.isEmpty && !media.isEmpty ? "(attachment)" : text,
            language: status["language"]?.stringValue,
            media: media.nonEmpty,
            capturedAt: status["created_at"]?.stringValue ?? Inquiry.timestamp(Date()),
            change: change
        )
    }
}

/// What one event of Mastodon's user stream (server-sent events) means to the gateway.
public enum MastodonStreamEvent: Equatable, Sendable {
    /// A notification: read the notifications from the cursor now (the REST API stays
    /// the one way mentions come in, so the cursor stays exact).
    case notification
    /// A citizen edited a status: the inquiry it became is edited.
    case edited(Inquiry)
    /// A status was deleted: the inquiry it became, if any, is withdrawn.
    case deleted(Inquiry)
    case ignored(String)

    /// - Parameters: the event's name and its `data` (a JSON document, or a bare id for `delete`).
    public static func read(event: String, data: String, account: MastodonAccount, ownAccountID: String?) -> MastodonStreamEvent {
        switch event {
        case "notification":
            return .notification
        case "status.update":
            guard let status = try? JSONValue.parse(Array(data.utf8)) else { return .ignored("status.update without a status") }
            if let own = ownAccountID, status["account"]?["id"]?.stringValue == own { return .ignored("own status") }
            let revision = status["edited_at"]?.stringValue ?? status["id"]?.stringValue ?? ""
            return MastodonMentions.envelope(status, account: account, change: .init(kind: .edited, revision: revision)).map(MastodonStreamEvent.edited)
                ?? .ignored("status.update without an author")
        case "delete":
            let id = data.trimmingCharacters(in: CharacterSet(charactersIn: "\" \n"))
            guard !id.isEmpty else { return .ignored("delete without an id") }
            return .deleted(Inquiry(source: .init(platform: .mastodon, account: account.handle, externalID: id),
                                    author: .init(handle: "unknown"), text: "(deleted)", capturedAt: Inquiry.timestamp(Date()),
                                    change: .init(kind: .deleted, revision: "deleted")))
        default:
            return .ignored(event)
        }
    }
}

/// Server-sent events (the `text/event-stream` format), read line by line as they come:
/// `event:` and `data:` fields, a blank line ending each event, `:` lines being comments
/// (Mastodon's `:thump` heartbeat).
public struct EventStreamParser: Sendable {
    private var pending: [UInt8] = []
    private var event = ""
    private var data: [String] = []

    public init() {}

    /// Takes more bytes; returns the events they complete, as (name, data).
    public mutating func take(_ bytes: some Sequence<UInt8>) -> [(event: String, data: String)] {
        pending.append(contentsOf: bytes)
        var events: [(event: String, data: String)] = []
        while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
            var line = String(decoding: pending[..<newline], as: UTF8.self)
            pending.removeSubrange(...newline)
            if line.hasSuffix("\r") { line.removeLast() }
            if line.isEmpty {
                if !data.isEmpty || !event.isEmpty { events.append((event.isEmpty ? "message" : event, data.joined(separator: "\n"))) }
                event = ""
                data = []
            } else if line.hasPrefix(":") {
                continue
            } else {
                let parts = line.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
                let field = String(parts[0])
                var value = parts.count > 1 ? String(parts[1]) : ""
                if value.hasPrefix(" ") { value.removeFirst() }
                if field == "event" { event = value } else if field == "data" { data.append(value) }
            }
        }
        return events
    }
}

/// Mastodon's and X's ids are decimal strings that grow with time (snowflakes): compared
/// as numbers.
public enum SnowflakeID {
    public static func isOlder(_ a: String, than b: String) -> Bool {
        a.count != b.count ? a.count < b.count : a < b
    }

    /// The newest of the ids, or `current` when none is newer.
    public static func newest(_ ids: [String], after current: String) -> String {
        ids.reduce(current) { isOlder($0, than: $1) ? $1 : $0 }
    }
}

/// The `Link` header's URL for `rel`, as Mastodon pages with it
/// (`<https://…?min_id=…>; rel="prev"`).
public enum LinkHeader {
    public static func url(_ header: String?, rel: String) -> String? {
        guard let header else { return nil }
        for part in header.split(separator: ",") {
            let fields = part.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
            guard let target = fields.first, target.hasPrefix("<"), target.hasSuffix(">"),
                  fields.dropFirst().contains(where: { $0 == "rel=\"\(rel)\"" || $0 == "rel=\(rel)" }) else { continue }
            return String(target.dropFirst().dropLast())
        }
        return nil
    }
}
