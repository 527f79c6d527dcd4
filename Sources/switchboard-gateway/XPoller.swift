import Foundation
import Logging
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
        await Polling.loop(every: account.pollEvery, platform: "x", account: account.handle, logger: logger) {
            try await pollOnce()
        }
    }

    func pollOnce() async throws {
        guard let since = cursor.load() else { return try start() }
        var inquiries: [Inquiry] = []
        var newest: String?
        var token: String?
        repeat {
            var address = "\(apiBase)/2/users/\(account.userID)/mentions?\(Self.fields)"
            if since != "0" { address += "&since_id=\(since)" }
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
        let ordered = inquiries.sorted { SnowflakeID.isOlder($0.sortKey, than: $1.sortKey) }
        try await Polling.store(ordered.map(\.json), platform: "x", account: account.handle, lane: lane, timeout: ingestTimeout,
                                retryIn: account.pollEvery, metrics: metrics, logger: logger)
        for inquiry in ordered { memory.remember(inquiry, authorID: nil) }
        Polling.stampNewest(ordered, platform: "x", account: account.handle, metrics: metrics)
        try cursor.save(newest)
        metrics.stamp("switchboard_gateway_poll_age_seconds", [("platform", "x"), ("account", account.handle)], at: Date())
    }

    /// The first start: the cursor begins at the newest mention (those before the city
    /// connected the gateway are not taken), or at "0" on an account with none (all new).
    private func start() throws {
        let answer = try get("\(apiBase)/2/users/\(account.userID)/mentions?max_results=5")
        let newest = (try? XMentions.page(answer.body, account: account))?.newestID ?? "0"
        try cursor.save(newest)
        logger.notice("x account connected; mentions from now on are taken", metadata: ["account": "\(account.handle)", "cursor": "\(newest)"])
    }

    private func get(_ address: String) throws -> PlatformHTTP.Answer {
        try PollingGet(account: PostingAccount(platform: .x, id: account.id, handle: account.handle), credentials: credentials,
                       metrics: metrics, logger: logger).get(address, reset: ("x-rate-limit-reset", .epochSeconds))
    }
}

/// What the gateway remembers of the X posts it took in, for deletions: X names a deleted
/// post by its id (any version's) and its author's user id, while the broker knows the
/// post by its first version's id and lets only its author (by handle) withdraw it.
final class XMemory: Sendable {
    /// Version id → the first version's id.
    private let originals = RecentMemory()
    /// User id → `@username`.
    private let handles = RecentMemory()

    func remember(_ inquiry: Inquiry, authorID: String?) {
        originals.remember(inquiry.sortKey, inquiry.source.externalID)
        if let authorID, !authorID.isEmpty { handles.remember(authorID, inquiry.author.handle) }
    }

    func remember(authors: [String: String]) {
        for (id, handle) in authors { handles.remember(id, handle) }
    }

    /// The envelope that withdraws the inquiry a deleted post (any version of it) became,
    /// when the post is known.
    func deletion(of id: String, authorID: String, account: XAccount) -> Inquiry? {
        guard let original = originals.value(for: id), let handle = handles.value(for: authorID) else { return nil }
        return Inquiry(source: .init(platform: .x, account: account.handle, externalID: original), author: .init(handle: handle),
                       text: "(deleted)", capturedAt: Inquiry.timestamp(Date()), change: .init(kind: .deleted, revision: "deleted"))
    }
}
