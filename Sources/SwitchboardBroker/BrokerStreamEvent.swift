import Foundation
import SwitchboardCore
import ZeroMQ

/// One message of the event stream (see `Protocols/3-handoffs-and-events.md`): a topic
/// frame with the event type and a JSON body. Events carry ids, departments and
/// states, never the citizen's text or handle, nor staff notes.
struct BrokerStreamEvent {
    let topic: String
    let body: [String: Any]

    static func timeline(_ entry: TimelineEntry, priority: Priority) -> BrokerStreamEvent {
        var body: [String: Any] = [
            "event": entry.event, "inquiry_id": "\(entry.inquiry)", "at": timestamp(entry.at),
            "department": entry.department, "to": entry.to.rawValue, "role": entry.role,
            "actor": ["kind": entry.actor.kind.rawValue, "id": entry.actor.id], "priority": priority.rawValue,
        ]
        body["from"] = entry.from?.rawValue
        return BrokerStreamEvent(topic: entry.event, body: body)
    }

    static func sla(_ alert: SLAAlert, inquiry: InquiryID, at: Date) -> BrokerStreamEvent {
        BrokerStreamEvent(topic: alert.event, body: [
            "event": alert.event, "inquiry_id": "\(inquiry)", "at": timestamp(at), "level": alert.level.rawValue,
            "scope": alert.scope.rawValue, "goal": alert.goal.rawValue, "department": alert.department,
            "target_seconds": alert.target, "elapsed_seconds": (alert.elapsed * 1_000).rounded() / 1_000,
        ])
    }

    var frames: [Frame] {
        // No sortedKeys: sorting through AnyHashable was a third of the engine's time.
        let data = (try? JSONSerialization.data(withJSONObject: body, options: [.withoutEscapingSlashes])) ?? Data()
        return [Frame(topic), Frame(bytes: data)]
    }

    static func timestamp(_ date: Date) -> String { InquiryDesk.timestamp(date) }
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
