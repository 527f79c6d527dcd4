import Foundation
import SwitchboardCore
import Testing
@testable import SwitchboardBroker

/// What a post becomes, with plain values: no socket, no database.
@Suite struct IntakeTests {
    let now = Date(timeIntervalSince1970: 1_800_000_000)
    let configuration: SwitchboardConfiguration
    let intake: Intake

    init() throws {
        configuration = try SwitchboardConfiguration.parse(yaml: """
            front_office: front-office
            departments:
              - id: front-office
                accounts: [{ platform: x, handle: "@RivertonCity" }]
              - id: roads
            rules:
              - name: potholes
                match: { keywords: [pothole] }
                department: roads
                priority: high
            """)
        intake = Intake(configuration: configuration)
    }

    func envelope(_ text: String, account: String = "@RivertonCity") -> [UInt8] {
        Array(#"{"source":{"platform":"x","account":"\#(account)","external_id":"7","thread":"dm-1"},"author":{"handle":"@ana"},"text":"\#(text)","captured_at":"2026-11-22T09:30:00Z"}"#.utf8)
    }

    /// The rules route it; it is numbered, its clocks run, and the stored envelope is the
    /// one received with the broker's id and time in front.
    @Test func aPostIsRoutedNumberedAndStoredAsReceived() throws {
        let bytes = envelope("A pothole on Elm Street")
        let inquiry = try intake.read([bytes])
        let official = ChannelEntry(id: "c-1", platform: .x, handle: "@RivertonCity", normalized: "rivertoncity", displayName: nil, url: nil,
                                    department: "front-office", status: .active, contacts: [], verifiedAt: nil, reviewDue: nil, history: [])
        let new = intake.accept(inquiry, bytes: bytes, channel: .official(official), caseNumber: 12, knownNew: true, now: now)
        #expect(new.decision.department == "roads" && new.decision.priority == .high && new.decision.rule == "potholes")
        #expect(new.unofficial == nil)
        #expect(new.inquiry.record.caseNumber == 12 && new.inquiry.record.lifecycle.state == .queued)
        #expect(new.inquiry.record.sla.legFirstResponse.runningSince == now)
        #expect(new.inquiry.envelopeJSON.hasPrefix(#"{"id":"\#(new.id)","received_at":"\#(Timestamp.format(now))","source""#))
        #expect(new.inquiry.key == DeduplicationKey(platform: .x, externalID: "7") && new.inquiry.author == "@ana" && new.inquiry.knownNew)
        #expect(new.thread == "dm-1")
    }

    /// A post to an account that is not an official one still becomes an inquiry, for the
    /// front office's review of channels, and its routing decision says why.
    @Test func aPostToAnUnofficialAccountGoesToChannelReviewMarked() throws {
        let bytes = envelope("A pothole on Elm Street", account: "@SomeoneElse")
        let new = intake.accept(try intake.read([bytes]), bytes: bytes, channel: .unknown, caseNumber: 1, knownNew: false, now: now)
        #expect(new.decision.department == "front-office" && new.decision.rule == "channel-review")
        #expect(new.decision.priority == .high, "the rules' priority is kept")
        #expect(new.unofficial?.reason == "unregistered")
        let routing = try #require(try JSONSerialization.jsonObject(with: Data(new.inquiry.routingJSON.utf8)) as? [String: Any])
        #expect((routing["unofficial_channel"] as? [String: Any])?["reason"] as? String == "unregistered")
        #expect((routing["tags"] as? [String])?.contains("unofficial_channel") == true)
    }

    @Test func anEnvelopeMustBeOneFrame() {
        #expect(throws: IngestError.self) { try intake.read([envelope("a"), envelope("b")]) }
        #expect(throws: IngestError.self) { try intake.read([Array("not json".utf8)]) }
    }
}
