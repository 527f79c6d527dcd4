import Foundation
import Synchronization

/// The gateway's counters and ages, served at `/metrics` in Prometheus's text format.
/// Labels carry sources, platforms, outcomes, codes and the city's own account handles,
/// never a citizen's id or handle, a text or a secret.
final class GatewayMetrics: Sendable {
    private struct Series: Hashable {
        var name: String
        var labels: [String]
    }

    private static let help: [String: (type: String, text: String)] = [
        "switchboard_gateway_webhooks_total": ("counter", "Webhook deliveries, by source and how they were answered (ok, retry, refused)."),
        "switchboard_gateway_items_total": ("counter", "Items of deliveries, by platform and outcome (accepted, duplicate, threaded, rejected, unanswered, own_message, unknown_account, ignored)."),
        "switchboard_gateway_bad_signatures_total": ("counter", "Deliveries refused for a missing or wrong signature, by source."),
        "switchboard_gateway_posts_total": ("counter", "Messages to citizens, by platform, official account and result (posted, or failed with its code)."),
        "switchboard_gateway_polls_total": ("counter", "Polls of a platform that is read by asking (Mastodon, X, Bluesky), by platform and official account."),
        "switchboard_gateway_mentions_total": ("counter", "Mentions and replies of a polled account the broker took in as new (not duplicates), by platform and official account."),
        "switchboard_gateway_stream_reconnects_total": ("counter", "Times a platform's stream (Mastodon's user stream) ended or fell silent and was opened again, by platform and official account."),
        "switchboard_gateway_poll_age_seconds": ("gauge", "Seconds since an account's last poll that read everything up to now, by platform and official account: the cursor's lag."),
        "switchboard_gateway_newest_mention_age_seconds": ("gauge", "Seconds since the newest mention an account's polls stored was posted, by platform and official account."),
        "switchboard_gateway_rate_limit_waits_total": ("counter", "Times posting waited for a platform's rate limit or a passing fault, by platform."),
        "switchboard_gateway_rate_limit_wait_seconds_total": ("counter", "Seconds accounts waited for a platform's rate limit or a passing fault, by platform."),
    ]

    private let counts = Mutex<[Series: Double]>([:])
    /// Gauges that are ages: the time they count from.
    private let stamps = Mutex<[Series: Date]>([:])

    /// Sets an age gauge to count from `date` (a later date only: ages never jump back).
    func stamp(_ name: String, _ labels: [(String, String)], at date: Date) {
        let series = Series(name: name, labels: labels.map { "\($0.0)=\"\($0.1)\"" })
        stamps.withLock { $0[series] = max($0[series] ?? .distantPast, date) }
    }

    func add(_ name: String, _ labels: [(String, String)], _ amount: Int) { add(name, labels, Double(amount)) }

    func add(_ name: String, _ labels: [(String, String)], _ amount: Double = 1) {
        guard amount > 0 else { return }
        let series = Series(name: name, labels: labels.map { "\($0.0)=\"\($0.1)\"" })
        counts.withLock { $0[series, default: 0] += amount }
    }

    /// - Parameter reauthorization: how many accounts' tokens a platform refused.
    func render(reauthorization: Int = 0) -> String {
        let now = Date()
        let snapshot = counts.withLock { $0 }.merging(stamps.withLock { $0 }.mapValues { max(0, now.timeIntervalSince($0)) }) { $1 }
        var text = "# HELP switchboard_gateway_accounts_needing_reauthorization Accounts whose token a platform refused; their messages wait.\n"
            + "# TYPE switchboard_gateway_accounts_needing_reauthorization gauge\n"
            + "switchboard_gateway_accounts_needing_reauthorization \(reauthorization)\n"
        for name in Self.help.keys.sorted() {
            let (type, help) = Self.help[name]!
            text += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
            for (series, count) in snapshot.filter({ $0.key.name == name }).sorted(by: { $0.key.labels.joined() < $1.key.labels.joined() }) {
                let value = count == count.rounded() ? String(Int(count)) : String(format: "%.3f", count)
                text += "\(name){\(series.labels.joined(separator: ","))} \(value)\n"
            }
        }
        return text
    }
}
