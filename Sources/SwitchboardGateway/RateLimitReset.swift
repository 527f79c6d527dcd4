import Foundation
import SwitchboardCore

/// When a platform's rate-limit window ends, as its reset header says it: Mastodon
/// writes an ISO 8601 time (`X-RateLimit-Reset`, and no `Retry-After`), X and Bluesky
/// epoch seconds (`x-rate-limit-reset`, `RateLimit-Reset`).
public enum RateLimitReset {
    public enum Form: Sendable {
        case isoTime
        case epochSeconds
    }

    /// The seconds to wait from `now` (at least one), or nil without a readable header.
    public static func wait(_ header: String?, _ form: Form, now: Date) -> TimeInterval? {
        guard let header else { return nil }
        let end: Date? = switch form {
        case .isoTime: CalendarDate.parse(header)
        case .epochSeconds: Double(header).map(Date.init(timeIntervalSince1970:))
        }
        return end.map { max(1, $0.timeIntervalSince(now)) }
    }
}
