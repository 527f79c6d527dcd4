import Foundation
import SwitchboardCore
import SwitchboardProtocol
import Testing
@testable import SwitchboardBroker

/// Replies and questions on their way to a gateway, with plain values.
@Suite struct OutboundDeskTests {
    var rng = SystemRandomNumberGenerator()

    mutating func message(_ kind: OutboundMessage.Kind, of inquiry: InquiryID, on platform: Platform = .x, at ms: UInt64 = 1_000) -> OutboundMessage {
        OutboundMessage(id: InquiryID.generate(milliseconds: ms, using: &rng), inquiry: inquiry, kind: kind, platform: platform,
                        account: "@RivertonCity", inReplyTo: "1", text: "On it", author: "agent:ana")
    }

    /// With no gateway for its platform a message is held, and the agent is told why; a
    /// gateway's post document carries what the platform needs.
    @Test mutating func aMessageIsHeldWithoutAGatewayAndPostedWithOne() throws {
        var desk = OutboundDesk()
        let inquiry = InquiryID.generate(milliseconds: 1, using: &rng)
        let held = desk.queue(message(.answer, of: inquiry))
        #expect(held.status == "held" && held.note == "held: no gateway serves x; it will be posted when one connects")
        desk.gatewaysOnline = [.x]
        let reply = message(.answer, of: inquiry, at: 500)
        let queued = desk.queue(reply)
        #expect(queued.status == "queued" && queued.note == nil)
        let unsent = try #require(desk.unsent()[.x])
        #expect(unsent.count == 2 && unsent.oldest == reply.queuedAt)
        let post = try JSONDecoder().decode(OutboundPost.self, from: Data(try #require(desk.post(reply.id))))
        #expect(post.inquiryID == inquiry.description && post.kind == "answer" && post.inReplyTo == "1" && post.text == "On it")
        let answered = desk.answered(reply.id)
        #expect(answered == reply)
        #expect(desk.post(reply.id) == nil, "answered once, never handed out again")
    }

    /// When the conversation moves on, only its unsent questions are cancelled.
    @Test mutating func onlyTheInquirysQuestionsAreCancelled() {
        var desk = OutboundDesk()
        let inquiry = InquiryID.generate(milliseconds: 1, using: &rng), other = InquiryID.generate(milliseconds: 2, using: &rng)
        let question = message(.question, of: inquiry), answer = message(.answer, of: inquiry), elsewhere = message(.question, of: other)
        for each in [question, answer, elsewhere] { _ = desk.queue(each) }
        let cancelled = desk.cancelQuestions(of: inquiry)
        #expect(cancelled == [question])
        #expect(desk.inquiry(ofMessage: answer.id) == inquiry && desk.inquiry(ofMessage: elsewhere.id) == other)
        let erased = desk.forget(inquiries: [other])
        #expect(erased == [elsewhere])
        #expect(desk.unsent()[.x]?.count == 1)
    }

    @Test mutating func eachStatusIsRecordedOnce() {
        var desk = OutboundDesk()
        let sent = message(.answer, of: InquiryID.generate(milliseconds: 1, using: &rng)).id
        let first = desk.isFirst(.delivered, of: sent), again = desk.isFirst(.delivered, of: sent), read = desk.isFirst(.read, of: sent)
        #expect(first && !again && read)
    }

    @Test func aGatewaysAnswerIsAPostUnlessItIsAFailureDocument() {
        typealias Answer = OutboundDesk.GatewayAnswer
        #expect(Answer([Array(#"{"external_id":"q-77"}"#.utf8)]) == .posted(externalID: "q-77"))
        #expect(Answer([Array("ok".utf8)]) == .posted(externalID: nil))
        #expect(Answer([]) == .posted(externalID: nil))
        #expect(Answer([Array(#"{"status":"failed","code":"messaging_window_closed","reason":"closed"}"#.utf8)])
            == .failed(code: "messaging_window_closed", reason: "closed"))
        #expect(Answer([Array(#"{"status":"failed"}"#.utf8)]) == .failed(code: "gateway_failed", reason: "the gateway gave no reason"))
    }
}
