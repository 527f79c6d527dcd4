import Foundation
import SwitchboardCore
import ZeroMQ

/// One message of the event stream (see `Protocols/3-handoffs-and-events.md`): a topic
/// frame with the event type and a JSON body. Events carry ids, departments and
/// states, never the citizen's text or handle, nor staff notes.
struct BrokerStreamEvent {
    let topic: String
    let body: String

    static func timeline(_ entry: TimelineEntry, priority: Priority, caseNumber: String? = nil) -> BrokerStreamEvent {
        var body = JSONWriter(capacity: 320)
        body.add("event", entry.event)
        body.add("inquiry_id", entry.inquiry.description)
        body.add("case", caseNumber)
        body.add("at", timestamp(entry.at))
        body.add("department", entry.department)
        body.add("from", entry.from?.rawValue)
        body.add("to", entry.to.rawValue)
        body.add("role", entry.role)
        body.object("actor") { actor in
            actor.add("kind", entry.actor.kind.rawValue)
            actor.add("id", entry.actor.id)
        }
        body.add("priority", priority.rawValue)
        // What the broker itself says of a message or an outcome it could not take (a
        // code, a platform's reason): never a staff note, which events do not carry.
        if Self.reasonEvents.contains(entry.event) { body.add("reason", entry.note) }
        return BrokerStreamEvent(topic: entry.event, body: body.result)
    }

    /// Timeline events whose note is the broker's own words, published as `reason`.
    static let reasonEvents: Set<String> = [
        "inquiry.outcome_refused", "reply.held", "question.held", "reply.failed", "question.failed", "question.cancelled",
    ]

    static func sla(_ alert: SLAAlert, inquiry: InquiryID, caseNumber: String? = nil, at: Date) -> BrokerStreamEvent {
        var body = JSONWriter()
        body.add("event", alert.event)
        body.add("inquiry_id", inquiry.description)
        body.add("case", caseNumber)
        body.add("at", timestamp(at))
        body.add("level", alert.level.rawValue)
        body.add("scope", alert.scope.rawValue)
        body.add("goal", alert.goal.rawValue)
        body.add("department", alert.department)
        body.add("target_seconds", alert.target)
        body.add("elapsed_seconds", (alert.elapsed * 1_000).rounded() / 1_000)
        return BrokerStreamEvent(topic: alert.event, body: body.result)
    }

    /// An inquiry came through an account that is not an active official one.
    static func unofficialActivity(inquiry: InquiryID, platform: Platform, reason: String, imitates: String?, at: Date) -> BrokerStreamEvent {
        var body = JSONWriter()
        body.add("event", "channel.unofficial_activity")
        body.add("inquiry_id", inquiry.description)
        body.add("at", timestamp(at))
        body.add("platform", platform.rawValue)
        body.add("reason", reason)
        body.add("imitates", imitates)
        return BrokerStreamEvent(topic: "channel.unofficial_activity", body: body.result)
    }

    /// A registry entry's review falls due soon, or is overdue.
    static func channelReview(_ entry: ChannelEntry, overdue: Bool, at: Date) -> BrokerStreamEvent {
        let topic = overdue ? "channel.review_overdue" : "channel.review_due"
        var body = JSONWriter()
        body.add("event", topic)
        body.add("channel_id", entry.id)
        body.add("at", timestamp(at))
        body.add("platform", entry.platform.rawValue)
        body.add("department", entry.department)
        body.add("review_due", entry.reviewDue.map(timestamp))
        return BrokerStreamEvent(topic: topic, body: body.result)
    }

    /// An official account needs re-authorisation, posts again, or is no longer reported
    /// on (`account.reauthorization_needed`, `account.reauthorized`,
    /// `account.reauthorization_unknown`). The handle is the city's own account, not a
    /// citizen's.
    static func authorization(_ change: AccountAuthorizations.Change, channel: String?, at: Date) -> BrokerStreamEvent {
        let account = change.account
        let topic = switch change {
        case .needed: "account.reauthorization_needed"
        case .restored: "account.reauthorized"
        case .unknown: "account.reauthorization_unknown"
        }
        var body = JSONWriter()
        body.add("event", topic)
        body.add("at", timestamp(at))
        body.add("platform", account.platform.rawValue)
        body.add("account", account.handle)
        body.add("channel_id", channel)
        if case .needed = change {
            body.add("reason", account.reason)
            body.add("since", timestamp(account.since))
        }
        return BrokerStreamEvent(topic: topic, body: body.result)
    }

    var frames: [Frame] { [Frame(topic), Frame(body)] }

    static func timestamp(_ date: Date) -> String { Timestamp.format(date) }
}

/// Wall-clock time that only moves forward: read once at start, then advanced by the
/// monotonic clock, so an NTP step cannot fire or skip an SLA alert. Persisted times
/// stay comparable across restarts because they are wall-clock values.
struct MonotonicWallClock {
    private let wallStart = Date()
    private let monotonicStart = ContinuousClock.now

    func now() -> Date {
        let elapsed = ContinuousClock.now - monotonicStart
        let (seconds, attoseconds) = elapsed.components
        return wallStart.addingTimeInterval(Double(seconds) + Double(attoseconds) / 1e18)
    }
}
