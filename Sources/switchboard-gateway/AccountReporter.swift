import Foundation
import Logging
import SwitchboardProtocol

/// Tells the broker which accounts need re-authorisation (`sb.gateway.accounts`), so that
/// the operator sees it on the broker's status page, `/stats` and `/metrics`, and
/// subscribers hear it as an event, not only on this gateway's `/healthz`. The whole list
/// goes when it changes and again every 30 seconds (a broker that restarted, or that
/// missed one, learns it again; one that hears nothing for 90 seconds forgets it).
struct AccountReporter: Sendable {
    let credentials: Credentials
    let lane: IngestLane
    let logger: Logger
    static let renewal: TimeInterval = 30

    func run() async {
        var told: GatewayAccountsReport?
        var toldAt = Date.distantPast
        while !Task.isCancelled {
            let now = Self.report(credentials.needingReauthorization)
            if now != told || Date().timeIntervalSince(toldAt) >= Self.renewal,
               let body = try? GatewayAccountsReport.encoder.encode(now) {
                let outcome = await lane.request(ServiceName.gatewayAccounts, [Array(body)], timeout: 5)
                if outcome.accepted == 1 {
                    told = now
                    toldAt = Date()
                } else {
                    logger.debug("the broker did not take the accounts report; trying again")
                }
            }
            try? await Task.sleep(for: .seconds(1))
        }
    }

    static func report(_ refused: [String: Credentials.Refusal]) -> GatewayAccountsReport {
        GatewayAccountsReport(needingReauthorization: refused.values
            .sorted { ($0.platform.rawValue, $0.handle) < ($1.platform.rawValue, $1.handle) }
            .map { .init(platform: $0.platform.rawValue, account: $0.handle, reason: $0.reason, since: $0.since) })
    }
}
