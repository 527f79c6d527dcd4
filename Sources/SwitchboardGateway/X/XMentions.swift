import Foundation
import SwitchboardCore

/// An official X account the gateway reads mentions of and posts from.
public struct XAccount: Sendable, Equatable {
    /// The account's numeric user id (`GET /2/users/me`), which the mentions timeline
    /// and the Account Activity webhook's `for_user_id` name.
    public var userID: String
    /// The handle the broker's registry knows the account by (`@RivertonCity`).
    public var handle: String
    public var pollEvery: TimeInterval

    public init(userID: String, handle: String, pollEvery: TimeInterval = 60) {
        self.userID = userID
        self.handle = handle
        self.pollEvery = pollEvery
    }

    /// The key of its token and its cursor.
    public var id: String { "x-" + userID }
}

/// One page of `GET /2/users/:id/mentions` (`expansions=author_id`,
/// `tweet.fields=created_at,conversation_id,in_reply_to_user_id,referenced_tweets,edit_history_tweet_ids,lang`)
/// read into envelopes. A post edited on X has a new id, with the first version's id first
/// in `edit_history_tweet_ids`: it is an edit of the inquiry the first version became,
/// never a new one.
public enum XMentions {
    public struct Page: Equatable, Sendable {
        /// The page's posts as envelopes, oldest first; the city's own are left out.
        public var inquiries: [Inquiry]
        /// `meta.newest_id`: the cursor once everything up to it is stored.
        public var newestID: String?
        /// `meta.next_token`: older posts still to read.
        public var nextToken: String?
        /// The authors of the page's posts, user id to `@username`.
        public var authors: [String: String] = [:]
    }

    public struct PageError: Error, CustomStringConvertible {
        public let description: String
    }

    public static func page(_ body: [UInt8], account: XAccount) throws(PageError) -> Page {
        guard let document = try? JSONValue.parse(body) else { throw PageError(description: "the mentions answer is not JSON") }
        var authors: [String: JSONValue] = [:]
        for user in document["includes"]?["users"]?.arrayValue ?? [] {
            if let id = user["id"]?.stringValue { authors[id] = user }
        }
        let inquiries = (document["data"]?.arrayValue ?? []).compactMap { post -> Inquiry? in
            guard let id = post["id"]?.stringValue, let authorID = post["author_id"]?.stringValue, authorID != account.userID else { return nil }
            return envelope(post, id: id, author: authors[authorID], authorID: authorID, account: account)
        }
        var page = Page(inquiries: inquiries.sorted { SnowflakeID.isOlder($0.sortKey, than: $1.sortKey) },
                        newestID: document["meta"]?["newest_id"]?.stringValue, nextToken: document["meta"]?["next_token"]?.stringValue)
        for (id, user) in authors {
            if let username = user["username"]?.stringValue { page.authors[id] = "@" + username }
        }
        return page
    }

    static func envelope(_ post: JSONValue, id: String, author: JSONValue?, authorID: String, account: XAccount) -> Inquiry {
        let history = (post["edit_history_tweet_ids"]?.arrayValue ?? []).compactMap(\.stringValue)
        let original = history.first ?? id
        let repliedTo = (post["referenced_tweets"]?.arrayValue ?? []).first { $0["type"]?.stringValue == "replied_to" }?["id"]?.stringValue
        let username = author?["username"]?.stringValue
        return Inquiry(
            source: .init(platform: .x, account: account.handle, externalID: original,
                          url: username.map { "https://x.com/\($0)/status/\(id)" }, inReplyTo: repliedTo),
            author: .init(handle: username.map { "@" + $0 } ?? authorID, displayName: author?["name"]?.stringValue),
            text: post["text"]?.stringValue ?? "",
            language: post["lang"]?.stringValue.flatMap { $0 == "und" || $0 == "zxx" ? nil : $0 },
            capturedAt: post["created_at"]?.stringValue ?? Inquiry.timestamp(Date()),
            // A later version: the same inquiry, edited; its own id is the revision.
            change: original != id ? Inquiry.Change(kind: .edited, revision: id) : nil
        )
    }
}

extension Inquiry {
    /// The id of the version an envelope carries (an edit's own id), for ordering a page
    /// and for matching a later deletion of that version.
    public var sortKey: String { change?.revision ?? source.externalID }
}
