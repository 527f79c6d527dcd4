import Foundation
import SwitchboardProtocol
import Testing
@testable import SwitchboardBroker
@testable import SwitchboardCore

/// Every kind of event the broker publishes decodes through the model subscribers (and
/// `switchboard watch`) read it with, and carries what its topic promises; none carries
/// a note.
@Suite struct StreamEventTests {
    let at = Date(timeIntervalSince1970: 1_795_400_000.25)
    let id = InquiryID("01a20d33-c206-71bb-8375-eb4989880c84")!

    func decoded(_ event: BrokerStreamEvent) throws -> StreamEvent {
        let model = try JSONDecoder().decode(StreamEvent.self, from: Data(event.body.utf8))
        #expect(model.event == event.topic, "the body repeats its topic")
        #expect(model.at == "2026-11-23T02:13:20.250Z")
        return model
    }

    @Test func aTimelineMove() throws {
        let entry = TimelineEntry(inquiry: id, event: "inquiry.handed_off", at: at, actor: .agent("ana"), role: "front_office",
                                  from: .inProgress, to: .queued, department: "roads", note: "a note stays out of events")
        let event = BrokerStreamEvent.timeline(entry, priority: .high)
        let model = try decoded(event)
        #expect(model.inquiryID == id.description && model.department == "roads" && model.priority == "high")
        #expect(model.from == "in_progress" && model.to == "queued" && model.role == "front_office")
        #expect(model.actor == StreamEvent.Actor(kind: "agent", id: "ana"))
        #expect(!event.body.contains("a note"))
    }

    @Test func anSLAAlert() throws {
        let alert = SLAAlert(level: .breach, scope: .department, goal: .firstResponse, department: "parks", target: 3_600, elapsed: 3_600.1234)
        let model = try decoded(.sla(alert, inquiry: id, at: at))
        #expect(model.event == "sla.breach" && model.level == "breach" && model.scope == "department" && model.goal == "first_response")
        #expect(model.targetSeconds == 3_600 && model.elapsedSeconds == 3_600.123 && model.department == "parks")
    }

    @Test func unofficialActivityAndRegistryReviews() throws {
        let flagged = try decoded(.unofficialActivity(inquiry: id, platform: .x, reason: "lookalike", imitates: "c-1", at: at))
        #expect(flagged.platform == "x" && flagged.reason == "lookalike" && flagged.imitates == "c-1" && flagged.inquiryID == id.description)
        let entry = ChannelEntry(id: "c-1", platform: .x, handle: "@RivertonCity", normalized: "rivertoncity", displayName: nil, url: nil,
                                 department: "roads", status: .active, contacts: [], verifiedAt: at, reviewDue: at, history: [])
        for overdue in [false, true] {
            let review = try decoded(.channelReview(entry, overdue: overdue, at: at))
            #expect(review.event == (overdue ? "channel.review_overdue" : "channel.review_due"))
            #expect(review.channelID == "c-1" && review.platform == "x" && review.department == "roads" && review.reviewDue == "2026-11-23T02:13:20.250Z")
        }
    }
}
