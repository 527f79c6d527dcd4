import Foundation
import Logging
import SwitchboardCore
import SwitchboardGateway

/// Reads one Mastodon account's mentions (`GET /api/v1/notifications?types[]=mention`)
/// from its cursor forward, page after page (`min_id`, then the `Link` header's `prev`),
/// hands each page's envelopes to the broker, and moves the cursor only once the broker
/// has acknowledged all of them. A restart or an outage takes up at the cursor: no gap,
/// and a repeated page is deduplicated by the broker. One account's trouble (a refused
/// token, a rate limit, an instance that is down) never holds another's.
struct MastodonPoller: Sendable {
    let account: MastodonAccount
    let credentials: Credentials
    let lane: IngestLane
    let cursor: CursorFile
    let metrics: GatewayMetrics
    let logger: Logger
    let ingestTimeout: TimeInterval
    /// Polls the account's stream asks for.
    let requests = PollRequests()
    /// Who wrote the statuses taken in, for deletions (Mastodon's `delete` names only the
    /// status, and the broker lets only a post's author withdraw it).
    let authors = RecentMemory()
    static let pageSize = 40

    func run() async {
        var own: String?
        await Polling.loop(every: account.pollEvery, platform: "mastodon", account: account.handle, logger: logger, requests: requests) {
            if own == nil { own = try ownAccountID() }
            try await pollOnce(ownAccountID: own)
        }
    }

    /// Reads every page newer than the cursor, in order.
    func pollOnce(ownAccountID: String?) async throws {
        guard var position = try cursor.load() ?? start() else { return }
        var next: String? = "\(account.instance)/api/v1/notifications?types[]=mention&limit=\(Self.pageSize)&min_id=\(position)"
        while let address = next {
            let answer = try get(address)
            metrics.add("switchboard_gateway_polls_total", [("platform", "mastodon"), ("account", account.handle)])
            let items = try MastodonMentions.items(page: answer.body, account: account, ownAccountID: ownAccountID)
            guard !items.isEmpty else {
                metrics.stamp("switchboard_gateway_poll_age_seconds", [("platform", "mastodon"), ("account", account.handle)], at: Date())
                return
            }
            let envelopes = items.compactMap { item -> [UInt8]? in
                if case .inquiry(_, let inquiry) = item { return inquiry.json }
                return nil
            }
            try await Polling.store(envelopes, platform: "mastodon", account: account.handle, lane: lane, timeout: ingestTimeout,
                                    retryIn: account.pollEvery, metrics: metrics, logger: logger)
            for case .inquiry(_, let inquiry) in items { authors.remember(inquiry.source.externalID, inquiry.author.handle) }
            Polling.stampNewest(items.compactMap { if case .inquiry(_, let inquiry) = $0 { inquiry } else { nil } }, platform: "mastodon",
                                account: account.handle, metrics: metrics)
            position = SnowflakeID.newest(items.map(\.notificationID), after: position)
            try cursor.save(position)
            // Newer pages: the Link header's prev, else on from the new cursor.
            next = LinkHeader.url(answer.headers["link"], rel: "prev")
                ?? "\(account.instance)/api/v1/notifications?types[]=mention&limit=\(Self.pageSize)&min_id=\(position)"
        }
    }

    /// The first start: the cursor begins at the newest mention (those before the city
    /// connected the gateway are not taken), or at 0 on an account with none.
    private func start() throws -> String? {
        let answer = try get("\(account.instance)/api/v1/notifications?types[]=mention&limit=1")
        let newest = (try? MastodonMentions.items(page: answer.body, account: account, ownAccountID: nil))?.last?.notificationID ?? "0"
        try cursor.save(newest)
        logger.notice("mastodon account connected; mentions from now on are taken", metadata: ["account": "\(account.handle)", "cursor": "\(newest)"])
        return newest
    }

    /// The city's own account id, whose posts are never inquiries.
    func ownAccountID() throws -> String? {
        let answer = try get("\(account.instance)/api/v1/accounts/verify_credentials")
        return (try? JSONValue.parse(answer.body))?["id"]?.stringValue
    }

    private func get(_ address: String) throws -> PlatformHTTP.Answer {
        try PollingGet(account: PostingAccount(platform: .mastodon, id: account.id, handle: account.handle), credentials: credentials,
                       metrics: metrics, logger: logger).get(address, reset: ("x-ratelimit-reset", .isoTime))
    }
}
