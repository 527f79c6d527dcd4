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
