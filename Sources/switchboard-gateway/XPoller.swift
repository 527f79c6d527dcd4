import Foundation
import Logging
import Synchronization
import SwitchboardCore
import SwitchboardGateway

/// Reads one X account's mentions timeline (`GET /2/users/:id/mentions` with `since_id`
/// from its cursor), every page (`pagination_token`) back to the cursor, hands them to
/// the broker oldest first, and moves the cursor to the first page's `meta.newest_id`
/// only once the broker has acknowledged all of them: a crash or an outage repeats
/// (deduplicated), never skips.
struct XPoller: Sendable {
    let account: XAccount
    let apiBase: String
    let credentials: Credentials
    let lane: IngestLane
    let cursor: CursorFile
    let metrics: GatewayMetrics
    let logger: Logger
    let ingestTimeout: TimeInterval
    let memory: XMemory
    static let fields = "max_results=100&expansions=author_id"
        + "&tweet.fields=created_at,conversation_id,in_reply_to_user_id,referenced_tweets,edit_history_tweet_ids,lang"
        + "&user.fields=username,name"

    func run() async {
        var prepared = false
        await Polling.loop(every: account.pollEvery, platform: "x", account: account.handle, logger: logger) {
            if !prepared {
                try prepare()
                prepared = true
            }
            try await pollOnce()
        }
    }

    func pollOnce() async throws {
        let since = cursor.load()
        var inquiries: [Inquiry] = []
        var newest: String?
        var token: String?
        repeat {
            var address = "\(apiBase)/2/users/\(account.userID)/mentions?\(Self.fields)"
            if let since, since != "0" { address += "&since_id=\(since)" }
            if let token { address += "&pagination_token=\(token)" }
            let answer = try get(address)
            metrics.add("switchboard_gateway_polls_total", [("platform", "x"), ("account", account.handle)])
            let page = try XMentions.page(answer.body, account: account)
            newest = newest ?? page.newestID
            inquiries += page.inquiries
            memory.remember(authors: page.authors)
            token = page.nextToken
        } while token != nil
        guard let newest else {   // nothing new
            metrics.stamp("switchboard_gateway_poll_age_seconds", [("platform", "x"), ("account", account.handle)], at: Date())
            return
        }
        if since == nil {
            // The first start: mentions from before the city connected the gateway are not taken.
            try cursor.save(newest)
            logger.notice("x account connected; mentions from now on are taken", metadata: ["account": "\(account.handle)", "cursor": "\(newest)"])
            return
        }
        let ordered = inquiries.sorted { SnowflakeID.isOlder($0.change?.revision ?? $0.source.externalID, than: $1.change?.revision ?? $1.source.externalID) }
        try await Polling.store(ordered.map(\.json), platform: "x", account: account.handle, lane: lane, timeout: ingestTimeout,
                                retryIn: account.pollEvery, metrics: metrics, logger: logger)
        for inquiry in ordered { memory.remember(inquiry, authorID: nil) }
        Polling.stampNewest(ordered, platform: "x", account: account.handle, metrics: metrics)
        try cursor.save(newest)
        metrics.stamp("switchboard_gateway_poll_age_seconds", [("platform", "x"), ("account", account.handle)], at: Date())
    }

    /// On an account with no mention yet, the first poll finds nothing: the cursor starts
    /// at "0" (everything is new).
    func prepare() throws {
        if cursor.load() == nil {
            let answer = try get("\(apiBase)/2/users/\(account.userID)/mentions?max_results=5")
            if (try? XMentions.page(answer.body, account: account))?.newestID == nil { try cursor.save("0") }
        }
    }

    private func get(_ address: String) throws -> PlatformHTTP.Answer {
        try PollingGet(account: PostingAccount(platform: .x, id: account.id, handle: account.handle), credentials: credentials,
                       metrics: metrics, logger: logger).get(address) { headers in
            headers["x-rate-limit-reset"].flatMap(Double.init).map { $0 - Date().timeIntervalSince1970 }
        }
    }
}

/// What the gateway remembers of the X posts it took in, for deletions: X names a deleted
/// post by its id and its author's user id, while the broker knows the post by its first
/// version's id and lets only its author (by handle) withdraw it. The newest 10,000
/// versions, in memory: a deletion of an older post, or one from before a restart, is not
/// matched.
final class XMemory: Sendable {
    private struct Table {
        var originals: [String: String] = [:]   // version id → first version's id
        var handles: [String: String] = [:]     // user id → @username
        var order: [String] = []
    }
    private let table = Mutex(Table())
    static let capacity = 10_000

    func remember(_ inquiry: Inquiry, authorID: String?) {
        table.withLock { table in
            if table.originals.updateValue(inquiry.source.externalID, forKey: inquiry.sortKey) == nil { table.order.append(inquiry.sortKey) }
            if let authorID, !authorID.isEmpty { table.handles[authorID] = inquiry.author.handle }
            if table.order.count > Self.capacity { table.originals.removeValue(forKey: table.order.removeFirst()) }
        }
    }

    func remember(authors: [String: String]) {
        table.withLock { $0.handles.merge(authors) { _, new in new } }
    }

    /// The envelope that withdraws the inquiry a deleted post (any version of it) became,
    /// when the post is known.
    func deletion(of id: String, authorID: String, account: XAccount) -> Inquiry? {
        let (original, handle) = table.withLock { ($0.originals[id], $0.handles[authorID]) }
        guard let original, let handle else { return nil }
        return Inquiry(source: .init(platform: .x, account: account.handle, externalID: original), author: .init(handle: handle),
                       text: "(deleted)", capturedAt: Inquiry.timestamp(Date()), change: .init(kind: .deleted, revision: "deleted"))
    }
}
