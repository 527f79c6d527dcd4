import Foundation
import Logging
import Synchronization
import SwitchboardCore
import SwitchboardGateway

// What every polled account (Mastodon, X, Bluesky) shares: its loop, the GET that
// marks a refused token or pauses for a rate limit, storing what was read before the
// cursor moves, and the small memories deletions need.

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

/// What a gateway remembers of the posts it took in lately, a value by key (the newest
/// 10,000): a platform's deletion names less than the broker needs (Mastodon only the
/// status, X the post's version and its author's user id). Kept in memory, so a deletion
/// of an older post, or of one from before a restart, is not matched.
final class RecentMemory: Sendable {
    private let table = Mutex<(values: [String: String], order: [String])>(([:], []))
    static let capacity = 10_000

    func remember(_ key: String, _ value: String) {
        table.withLock { table in
            if table.values.updateValue(value, forKey: key) == nil { table.order.append(key) }
            if table.order.count > Self.capacity { table.values.removeValue(forKey: table.order.removeFirst()) }
        }
    }

    func value(for key: String) -> String? { table.withLock { $0.values[key] } }
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

    /// - Parameter reset: the platform's rate-limit reset header, and how it writes it.
    func get(_ address: String, reset: (header: String, form: RateLimitReset.Form)) throws -> PlatformHTTP.Answer {
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
            let seconds = RateLimitReset.wait(answer.headers[reset.header], reset.form, now: Date()) ?? 60
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
