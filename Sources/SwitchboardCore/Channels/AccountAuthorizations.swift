import Foundation

/// The official accounts whose access token a platform refused (expired, revoked), as the
/// publishing gateways report them (`sb.gateway.accounts`, 8/SB-GATEWAYS). Their
/// messages wait in the gateway, neither lost nor failed, until a person gives new
/// credentials: the broker keeps this list so that the operator sees it where they look
/// (the status page, `/metrics`, `/stats`) and subscribers hear of it as events, not only
/// the gateway's own health check.
///
/// Each gateway reports its whole list, again every half minute; a list not renewed
/// within `lifetime` is dropped (a gateway that stopped knows nothing now; "no gateway
/// connected" is then what the operator sees). Pure: the engine gives it the time.
public struct AccountAuthorizations: Sendable {
    /// One account a gateway cannot post through.
    public struct Account: Equatable, Sendable {
        public var platform: Platform
        /// The account's handle, as the gateway's configuration names it.
        public var handle: String
        /// The platform's words, as the gateway read them.
        public var reason: String
        /// When the platform first refused the token.
        public var since: Date

        public init(platform: Platform, handle: String, reason: String, since: Date) {
            self.platform = platform
            self.handle = handle
            self.reason = reason
            self.since = since
        }

        /// Handles compare without `@` and case, as the registry compares them.
        var key: String { platform.rawValue + ":" + handle.lowercased().trimmingCharacters(in: CharacterSet(charactersIn: "@ ")) }
    }

    /// What changed with a report or with time: the events the broker publishes.
    public enum Change: Equatable, Sendable {
        /// The account newly needs re-authorisation.
        case needed(Account)
        /// New credentials were taken: the account posts again.
        case restored(Account)
        /// Its gateway stopped reporting: whether the account still needs a token is not
        /// known any more.
        case unknown(Account)

        /// The account the change is about.
        public var account: Account {
            switch self {
            case .needed(let account), .restored(let account), .unknown(let account): account
            }
        }
    }

    private struct Report {
        var accounts: [Account]
        var renewed: Date
    }

    /// How long a gateway's report holds without being renewed.
    public let lifetime: TimeInterval
    private var reports: [String: Report] = [:]

    public init(lifetime: TimeInterval = 90) { self.lifetime = lifetime }

    /// Every account needing re-authorisation, by platform and handle, once each.
    public var accounts: [Account] {
        var seen: [String: Account] = [:]
        for report in reports.values {
            for account in report.accounts where seen[account.key].map({ $0.since > account.since }) ?? true { seen[account.key] = account }
        }
        return seen.values.sorted { ($0.platform.rawValue, $0.handle) < ($1.platform.rawValue, $1.handle) }
    }

    /// A gateway's whole list replaces its previous one.
    public mutating func report(gateway: String, accounts: [Account], at now: Date) -> [Change] {
        let before = Dictionary(self.accounts.map { ($0.key, $0) }, uniquingKeysWith: { first, _ in first })
        reports[gateway] = Report(accounts: accounts, renewed: now)
        let after = Dictionary(self.accounts.map { ($0.key, $0) }, uniquingKeysWith: { first, _ in first })
        let needed = after.filter { before[$0.key] == nil }.values.sorted { $0.key < $1.key }.map(Change.needed)
        let restored = before.filter { after[$0.key] == nil }.values.sorted { $0.key < $1.key }.map(Change.restored)
        return needed + restored
    }

    /// Drops the reports not renewed within `lifetime`.
    public mutating func expire(at now: Date) -> [Change] {
        let stale = reports.filter { now.timeIntervalSince($0.value.renewed) > lifetime }
        guard !stale.isEmpty else { return [] }
        let before = Dictionary(accounts.map { ($0.key, $0) }, uniquingKeysWith: { first, _ in first })
        for gateway in stale.keys { reports.removeValue(forKey: gateway) }
        let after = Set(accounts.map(\.key))
        return before.filter { !after.contains($0.key) }.values.sorted { $0.key < $1.key }.map(Change.unknown)
    }
}
