import Foundation
import Logging
import SwitchboardCore
import SwitchboardGateway

/// Reads one Bluesky account's mentions and replies
/// (`app.bsky.notification.listNotifications`, newest first, `cursor` going older) back to
/// its own cursor (the `indexedAt` of the newest notification the broker stored), hands
/// what is newer to the broker oldest first, and moves the cursor only once the broker
/// has acknowledged all of it.
struct BlueskyPoller: Sendable {
    let session: BlueskySession
    let lane: IngestLane
    let cursor: CursorFile
    let metrics: GatewayMetrics
    let logger: Logger
    let ingestTimeout: TimeInterval
    var account: BlueskyAccount { session.account }

    func run() async {
        await Polling.loop(every: account.pollEvery, platform: "bluesky", account: account.handle, logger: logger) {
            try await pollOnce()
        }
    }

    func pollOnce() async throws {
        let since = cursor.load()
        var inquiries: [Inquiry] = []
        var newest: String?
        var next: String?
        repeat {
            var path = "app.bsky.notification.listNotifications?limit=50&reasons=mention&reasons=reply"
            if let page = next { path += "&cursor=" + (page.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? page) }
            let answer = try get(path)
            metrics.add("switchboard_gateway_polls_total", [("platform", "bluesky"), ("account", account.handle)])
            let page = try BlueskyNotifications.page(answer.body, account: account, after: since == "0" ? nil : since, ownDID: session.did)
            if newest == nil { newest = page.newest }
            inquiries += page.inquiries
            // The first start reads one page only: it just learns where "now" is.
            next = since == nil ? nil : page.nextCursor
        } while next != nil
        guard let since else {
            try cursor.save(newest ?? "0")
            logger.notice("bluesky account connected; mentions from now on are taken", metadata: ["account": "\(account.handle)"])
            return
        }
        guard let newest, newest != since else {
            metrics.stamp("switchboard_gateway_poll_age_seconds", [("platform", "bluesky"), ("account", account.handle)], at: Date())
            return
        }
        // Oldest first across pages (each page is oldest first; the pages come newest first).
        let sorted = inquiries.sorted { BlueskyNotifications.isNewer($1.capturedAt, than: $0.capturedAt) }
        try await Polling.store(sorted.map(\.json), platform: "bluesky", account: account.handle, lane: lane, timeout: ingestTimeout,
                                retryIn: account.pollEvery, metrics: metrics, logger: logger)
        Polling.stampNewest(sorted, platform: "bluesky", account: account.handle, metrics: metrics)
        try cursor.save(newest)
        metrics.stamp("switchboard_gateway_poll_age_seconds", [("platform", "bluesky"), ("account", account.handle)], at: Date())
    }

    private func get(_ path: String) throws -> PlatformHTTP.Answer {
        let answer: PlatformHTTP.Answer
        do {
            answer = try session.call("GET", path)
        } catch {
            switch error {
            case .refused: throw Pause(seconds: 1)
            case .throttled(let seconds):
                metrics.add("switchboard_gateway_rate_limit_waits_total", [("platform", "bluesky")])
                throw Pause(seconds: max(1, seconds))
            case .failed(let description): throw PollError(description: description)
            }
        }
        guard (200..<300).contains(answer.status) else { throw PollError(description: "listNotifications answered HTTP \(answer.status)") }
        return answer
    }
}
