import Foundation
import SwitchboardCore
import SwitchboardProtocol

/// An official Bluesky account the gateway reads mentions and replies of and posts from.
public struct BlueskyAccount: Sendable, Equatable {
    /// The PDS or entryway the account signs in at, such as `https://bsky.social`.
    public var service: String
    /// The handle the broker's registry knows the account by (`@riverton.bsky.social`);
    /// without `@`, it is also the identifier the account signs in with.
    public var handle: String
    public var pollEvery: TimeInterval

    public init(service: String, handle: String, pollEvery: TimeInterval = 30) {
        self.service = service
        self.handle = handle
        self.pollEvery = pollEvery
    }

    /// The sign-in identifier, and the key of its app password and its cursor.
    public var identifier: String { handle.lowercased().trimmingCharacters(in: CharacterSet(charactersIn: "@ ")) }
    public var id: String { "bluesky-" + identifier }
}

/// `app.bsky.notification.listNotifications` read into envelopes. Bluesky pages from the
/// newest back (`cursor` goes older), so the gateway's own cursor is the `indexedAt` of
/// the newest notification the broker stored: a poll reads back to it, and takes what is
/// newer, oldest first.
public enum BlueskyNotifications {
    public struct Page: Equatable, Sendable {
        /// Mentions and replies newer than the cursor, oldest first, as envelopes.
        public var inquiries: [Inquiry]
        /// Older notifications remain past the cursor: read the next page with `cursor`.
        public var nextCursor: String?
        /// The page reached notifications the cursor already covers.
        public var reachedCursor: Bool
        /// The newest `indexedAt` on the page, of any reason: the cursor once all is stored.
        public var newest: String?
    }

    public struct PageError: Error, CustomStringConvertible {
        public let description: String
    }

    /// - Parameters:
    ///   - after: the cursor, an `indexedAt`; nil takes everything on the page.
    ///   - ownDID: the city's own account, whose posts are never inquiries.
    public static func page(_ body: [UInt8], account: BlueskyAccount, after cursor: String?, ownDID: String?) throws(PageError) -> Page {
        guard let document = try? JSONValue.parse(body), let list = document["notifications"]?.arrayValue else {
            throw PageError(description: "the notifications answer holds no notifications")
        }
        var taken: [(String, Inquiry)] = []
        var reached = false
        var newest: String?
        for notification in list {
            guard let indexedAt = notification["indexedAt"]?.stringValue, let uri = notification["uri"]?.stringValue else { continue }
            if newest.map({ isNewer(indexedAt, than: $0) }) ?? true { newest = indexedAt }
            if let cursor, !isNewer(indexedAt, than: cursor) {
                reached = true
                continue
            }
            let reason = notification["reason"]?.stringValue ?? ""
            guard reason == "mention" || reason == "reply" else { continue }
            let author = notification["author"]
            if let own = ownDID, author?["did"]?.stringValue == own { continue }
            let record = notification["record"]
            let handle = author?["handle"]?.stringValue ?? author?["did"]?.stringValue ?? "unknown"
            let rkey = uri.split(separator: "/").last.map(String.init) ?? ""
            taken.append((indexedAt, Inquiry(
                source: .init(platform: .bluesky, account: account.handle, externalID: uri,
                              url: "https://bsky.app/profile/\(handle)/post/\(rkey)",
                              inReplyTo: record?["reply"]?["parent"]?["uri"]?.stringValue),
                author: .init(handle: "@" + handle, displayName: author?["displayName"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 }),
                text: record?["text"]?.stringValue ?? "",
                language: record?["langs"]?[0]?.stringValue,
                capturedAt: record?["createdAt"]?.stringValue ?? indexedAt
            )))
        }
        return Page(inquiries: taken.sorted { isNewer($1.0, than: $0.0) }.map(\.1),
                    nextCursor: reached ? nil : document["cursor"]?.stringValue, reachedCursor: reached, newest: newest)
    }

    /// Whether one `indexedAt` is later than another (ISO 8601, compared as times).
    public static func isNewer(_ a: String, than b: String) -> Bool {
        guard let x = CalendarDate.parse(a), let y = CalendarDate.parse(b) else { return a > b }
        return x > y
    }
}

/// Replying on Bluesky, as pure decisions: the `app.bsky.feed.post` record (its
/// `reply.root` the thread's own root when the citizen's post has one, else that post;
/// `reply.parent` the citizen's post), and what the server's answer means.
public enum BlueskyPublishing {
    /// Bluesky's limit, in graphemes (Swift's `Character`s).
    public static let maxGraphemes = 300

    public static func checkLength(_ text: String) -> PublishRefusal? {
        guard text.count > maxGraphemes else { return nil }
        return PublishRefusal(code: .textTooLong, reason: "the text is \(text.count) characters; Bluesky takes at most \(maxGraphemes): "
            + "shorten it and reply again")
    }

    /// `com.atproto.repo.createRecord`'s body, from the citizen's post as
    /// `app.bsky.feed.getPosts` returns it (`uri`, `cid`, `record.reply`).
    public static func record(_ post: OutboundPost, repo: String, parent: JSONValue, now: Date) -> Result<[UInt8], PublishRefusal> {
        if let refusal = checkLength(post.text) { return .failure(refusal) }
        guard let uri = parent["uri"]?.stringValue, let cid = parent["cid"]?.stringValue else {
            return .failure(PublishRefusal(code: .postUnavailable, reason: "not delivered: the citizen's post could not be read (deleted?)"))
        }
        let parentRef = Ref(uri: uri, cid: cid)
        let rootRef: Ref
        if let root = parent["record"]?["reply"]?["root"], let rootURI = root["uri"]?.stringValue, let rootCID = root["cid"]?.stringValue {
            rootRef = Ref(uri: rootURI, cid: rootCID)
        } else {
            rootRef = parentRef
        }
        let body = CreateRecord(repo: repo, record: .init(text: post.text, createdAt: Inquiry.timestamp(now), reply: .init(root: rootRef, parent: parentRef)))
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return .success(Array((try? encoder.encode(body)) ?? Data()))
    }

    /// Reads the server's answer: its HTTP status, body and `RateLimit-Reset` (epoch seconds).
    public static func result(status: Int, body: [UInt8], rateLimitReset: String?, now: Date) -> PublishOutcome {
        let document = try? JSONValue.parse(body)
        let error = document?["error"]?.stringValue
        let said = [error, document?["message"]?.stringValue].compactMap { $0 }.joined(separator: ": ")
        switch status {
        case 200..<300:
            return .posted(externalID: document?["uri"]?.stringValue)
        case 401:
            return .reauthorize(reason: "the account's session was refused: \(said.isEmpty ? "HTTP 401" : said)")
        case 400 where error == "ExpiredToken" || error == "InvalidToken":
            return .retry(after: 0, reason: "the session expired: \(said)")
        case 429:
            return .retry(after: RateLimitReset.wait(rateLimitReset, .epochSeconds, now: now), reason: "throttled: \(said.isEmpty ? "HTTP 429" : said)")
        case 500..<600, 0:
            return .retry(after: nil, reason: "the server failed: \(said.isEmpty ? "HTTP \(status)" : said)")
        default:
            return .failed(.rejectedByPlatform, reason: "not delivered: Bluesky refused it: \(said.isEmpty ? "HTTP \(status)" : said)")
        }
    }

    struct Ref: Encodable {
        var uri: String
        var cid: String
    }

    struct CreateRecord: Encodable {
        struct Post: Encodable {
            struct Reply: Encodable {
                var root: Ref
                var parent: Ref
            }
            var type = "app.bsky.feed.post"
            var text: String
            var createdAt: String
            var reply: Reply
            enum CodingKeys: String, CodingKey {
                case text, createdAt, reply
                case type = "$type"
            }
        }
        var repo: String
        var collection = "app.bsky.feed.post"
        var record: Post
    }
}
