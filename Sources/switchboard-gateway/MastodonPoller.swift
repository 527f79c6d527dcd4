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
    static let pageSize = 40

    func run() async {
        var own: String?
        while !Task.isCancelled {
            let wait: TimeInterval
            do {
                if own == nil { own = try ownAccountID() }
                try await pollOnce(ownAccountID: own)
                wait = account.pollEvery
            } catch let pause as Pause {
                wait = pause.seconds
            } catch {
                logger.warning("polling mastodon failed; trying again", metadata: ["account": "\(account.handle)", "error": "\(error)"])
                wait = min(account.pollEvery, 10)
            }
            try? await Task.sleep(for: .milliseconds(Int64(wait * 1_000)))
        }
    }

    /// Why polling stops for a while: a rate limit or a refused token.
    struct Pause: Error {
        var seconds: TimeInterval
    }

    /// Reads every page newer than the cursor, in order.
    func pollOnce(ownAccountID: String?) async throws {
        guard var position = try cursor.load() ?? start() else { return }
        var next: String? = "\(account.instance)/api/v1/notifications?types[]=mention&limit=\(Self.pageSize)&min_id=\(position)"
        while let address = next {
            let answer = try get(address)
            metrics.add("switchboard_gateway_polls_total", [("platform", "mastodon"), ("account", account.handle)])
            let items = try MastodonMentions.items(page: answer.body, account: account, ownAccountID: ownAccountID)
            guard !items.isEmpty else { return }
            let envelopes = items.compactMap { item -> [UInt8]? in
                if case .inquiry(_, let inquiry) = item { return inquiry.json }
                return nil
            }
            let outcome = await lane.ingest(envelopes, timeout: ingestTimeout)
            guard outcome.stored else {
                // Not all stored: the cursor stays, and this page is read again next time.
                logger.warning("the broker did not acknowledge a page of mentions; it is read again at the next poll",
                               metadata: ["account": "\(account.handle)", "unanswered": "\(outcome.unanswered)"])
                throw Pause(seconds: min(account.pollEvery, 5))
            }
            metrics.add("switchboard_gateway_items_total", [("platform", "mastodon"), ("outcome", "accepted")], outcome.accepted + outcome.threaded)
            metrics.add("switchboard_gateway_items_total", [("platform", "mastodon"), ("outcome", "duplicate")], outcome.duplicate)
            if ProcessInfo.processInfo.environment["SWITCHBOARD_GATEWAY_TEST_EXIT_BEFORE_CURSOR"] == "1" {
                // Fault injection for the crash test: stop after the broker's acknowledgement
                // of a page but before the cursor moves past it.
                exit(71)
            }
            position = MastodonID.newest(items.map(\.notificationID), after: position)
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
    private func ownAccountID() throws -> String? {
        let answer = try get("\(account.instance)/api/v1/accounts/verify_credentials")
        return (try? JSONValue.parse(answer.body))?["id"]?.stringValue
    }

    /// A GET with the account's token: a refused token marks the account, a rate limit
    /// pauses until its reset.
    private func get(_ address: String) throws -> PlatformHTTP.Answer {
        guard !credentials.isRefused(account.id), let token = credentials.token(for: account.id) else { throw Pause(seconds: 1) }
        let answer = PlatformHTTP.call("GET", address, token: token)
        switch answer.status {
        case 200..<300:
            return answer
        case 401:
            let said = (try? JSONValue.parse(answer.body))?["error"]?.stringValue ?? "HTTP 401"
            credentials.markRefused(PostingAccount(platform: .mastodon, id: account.id, handle: account.handle),
                                    reason: "the account's access token was refused: \(said)")
            logger.error("a mastodon account needs re-authorisation; its mentions and replies wait until new credentials are given (SIGHUP reloads them)",
                         metadata: ["account": "\(account.handle)"])
            throw Pause(seconds: 1)
        case 429:
            let reset = answer.headers["x-ratelimit-reset"].flatMap(CalendarDate.parse).map { max(1, $0.timeIntervalSinceNow) } ?? 60
            metrics.add("switchboard_gateway_rate_limit_waits_total", [("platform", "mastodon")])
            logger.warning("mastodon rate limit: polling waits", metadata: ["account": "\(account.handle)", "seconds": "\(Int(reset.rounded(.up)))"])
            throw Pause(seconds: reset)
        default:
            throw PollError(description: "\(address.components(separatedBy: "?").first ?? address) answered HTTP \(answer.status)")
        }
    }

    struct PollError: Error, CustomStringConvertible {
        let description: String
    }
}
