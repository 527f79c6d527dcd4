import Foundation
import Logging
import Synchronization
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
    let authors = StatusAuthors()
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
                       metrics: metrics, logger: logger).get(address) { headers in
            // Mastodon sends no Retry-After: the window ends at X-RateLimit-Reset (ISO 8601).
            headers["x-ratelimit-reset"].flatMap(CalendarDate.parse).map { $0.timeIntervalSinceNow }
        }
    }
}

/// Why polling stops for a while: a rate limit or a refused token.
struct Pause: Error {
    var seconds: TimeInterval
}

extension Polling {
    /// The newest mention's age, from the platform's own time.
    static func stampNewest(_ stored: [Inquiry], platform: String, account: String, metrics: GatewayMetrics) {
        guard let newest = stored.compactMap({ CalendarDate.parse($0.capturedAt) }).max() else { return }
        metrics.stamp("switchboard_gateway_newest_mention_age_seconds", [("platform", platform), ("account", account)], at: newest)
    }

    /// Hands envelopes to the broker, 100 at a time, oldest first; throws a short pause
    /// unless the broker stored every one (the cursor then stays, and they are read again).
    static func store(_ envelopes: [[UInt8]], platform: String, account: String, lane: IngestLane, timeout: TimeInterval,
                      retryIn period: TimeInterval, metrics: GatewayMetrics, logger: Logger) async throws {
        for start in stride(from: 0, to: envelopes.count, by: 100) {
            let outcome = await lane.ingest(Array(envelopes[start..<min(start + 100, envelopes.count)]), timeout: timeout)
            guard outcome.stored else {
                logger.warning("the broker did not acknowledge what was read; it is read again at the next poll",
                               metadata: ["platform": "\(platform)", "account": "\(account)", "unanswered": "\(outcome.unanswered)"])
                throw Pause(seconds: min(period, 5))
            }
            metrics.add("switchboard_gateway_items_total", [("platform", platform), ("outcome", "accepted")], outcome.accepted + outcome.threaded)
            metrics.add("switchboard_gateway_mentions_total", [("platform", platform), ("account", account)], outcome.accepted + outcome.threaded)
            metrics.add("switchboard_gateway_items_total", [("platform", platform), ("outcome", "duplicate")], outcome.duplicate)
        }
        if ProcessInfo.processInfo.environment["SWITCHBOARD_GATEWAY_TEST_EXIT_BEFORE_CURSOR"] == "1" {
            // Fault injection for the crash tests: stop after the broker's acknowledgement,
            // before the cursor moves past what it acknowledged.
            exit(71)
        }
    }
}

/// The authors of the statuses an account took in lately, by status id (the newest
/// 10,000; kept in memory, so a deletion of an older status, or one from before a
/// restart, is not matched).
final class StatusAuthors: Sendable {
    private let known = Mutex<(authors: [String: String], order: [String])>(([:], []))
    static let capacity = 10_000

    func remember(_ status: String, _ author: String) {
        known.withLock { table in
            if table.authors.updateValue(author, forKey: status) == nil { table.order.append(status) }
            if table.order.count > Self.capacity {
                table.authors.removeValue(forKey: table.order.removeFirst())
            }
        }
    }

    func author(of status: String) -> String? { known.withLock { $0.authors[status] } }
}

/// Asks an account's polling loop to poll now (a stream said something happened, or it
/// was reopened), rather than at its next period. Polls of one account never overlap:
/// they all run in its one loop.
final class PollRequests: Sendable {
    private let pending = Mutex(false)

    func request() { pending.withLock { $0 = true } }

    /// Whether a poll was asked for since the last call.
    func take() -> Bool { pending.withLock { asked in defer { asked = false }; return asked } }
}

/// The loop every polled account runs: a poll, then a wait (the account's period, a
/// pause a rate limit or a refused token asked for, or a short one after a failure),
/// cut short when a poll is requested.
enum Polling {
    static func loop(every period: TimeInterval, platform: String, account: String, logger: Logger, requests: PollRequests? = nil,
                     _ poll: () async throws -> Void) async {
        while !Task.isCancelled {
            let wait: TimeInterval
            do {
                try await poll()
                wait = period
            } catch let pause as Pause {
                wait = pause.seconds
            } catch {
                logger.warning("polling failed; trying again", metadata: ["platform": "\(platform)", "account": "\(account)", "error": "\(error)"])
                wait = min(period, 10)
            }
            let until = Date().addingTimeInterval(wait)
            while Date() < until, !Task.isCancelled {
                if let requests, requests.take() { break }
                try? await Task.sleep(for: .milliseconds(50))
            }
        }
    }
}

/// A polled platform's GET with the account's token: a refused token marks the account
/// (its polling and its replies wait for new credentials), a rate limit pauses the
/// account until the platform's reset.
struct PollingGet {
    let account: PostingAccount
    let credentials: Credentials
    let metrics: GatewayMetrics
    let logger: Logger

    func get(_ address: String, resetIn: (_ headers: [String: String]) -> TimeInterval?) throws -> PlatformHTTP.Answer {
        guard !credentials.isRefused(account.id), let token = credentials.token(for: account.id) else { throw Pause(seconds: 1) }
        let answer = PlatformHTTP.call("GET", address, token: token)
        switch answer.status {
        case 200..<300:
            return answer
        case 401:
            let document = try? JSONValue.parse(answer.body)
            let said = document?["error"]?.stringValue ?? document?["detail"]?.stringValue ?? "HTTP 401"
            credentials.markRefused(account, reason: "the account's access token was refused: \(said)")
            logger.error("an account needs re-authorisation; its mentions and replies wait until new credentials are given (SIGHUP reloads them)",
                         metadata: ["platform": "\(account.platform.rawValue)", "account": "\(account.handle)"])
            throw Pause(seconds: 1)
        case 429:
            let seconds = max(1, resetIn(answer.headers) ?? 60)
            metrics.add("switchboard_gateway_rate_limit_waits_total", [("platform", account.platform.rawValue)])
            metrics.add("switchboard_gateway_rate_limit_wait_seconds_total", [("platform", account.platform.rawValue)], seconds)
            logger.warning("rate limit: polling waits", metadata: ["platform": "\(account.platform.rawValue)", "account": "\(account.handle)",
                                                                  "seconds": "\(Int(seconds.rounded(.up)))"])
            throw Pause(seconds: seconds)
        default:
            throw PollError(description: "\(address.components(separatedBy: "?").first ?? address) answered HTTP \(answer.status)")
        }
    }
}

struct PollError: Error, CustomStringConvertible {
    let description: String
}
