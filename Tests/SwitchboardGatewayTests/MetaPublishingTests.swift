import Foundation
import SwitchboardCore
import SwitchboardGateway
import SwitchboardProtocol
import Testing

/// Which Graph API call a message becomes, and what each documented answer means.
@Suite struct MetaPublishingTests {
    let page = MetaAccount(platform: .facebook, id: "1001", handle: "RivertonCityHall")
    let whatsapp = MetaAccount(platform: .whatsapp, id: "3003", handle: "+1 555 0100")

    func post(_ text: String = "We open at 9.", inReplyTo: String? = "c-1", recipient: String? = "psid-7", thread: String? = nil,
              platform: String = "facebook") throws -> OutboundPost {
        var fields: [String: Any] = ["message_id": "msg-1", "inquiry_id": "inq-1", "kind": "answer", "platform": platform,
                                     "account": "RivertonCityHall", "text": text]
        fields["in_reply_to"] = inReplyTo
        fields["recipient"] = recipient
        fields["thread"] = thread
        return try JSONDecoder().decode(OutboundPost.self, from: JSONSerialization.data(withJSONObject: fields))
    }

    func body(_ call: MetaPublishing.Call) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(call.body)) as? [String: Any])
    }

    @Test func aCommentIsAnsweredUnderItAndAMessageInItsConversation() throws {
        let comment = try MetaPublishing.call(for: post(), account: page).get()
        #expect(comment.path == "c-1/comments")
        #expect(try body(comment) as? [String: String] == ["message": "We open at 9."])
        let messenger = try MetaPublishing.call(for: post(thread: "psid-7"), account: page).get()
        #expect(messenger.path == "1001/messages")
        #expect(String(decoding: messenger.body, as: UTF8.self) == #"{"message":{"text":"We open at 9."},"messaging_type":"RESPONSE","recipient":{"id":"psid-7"}}"#)
        let wa = try MetaPublishing.call(for: post(inReplyTo: "wamid.Q", recipient: "4915112345", platform: "whatsapp"), account: whatsapp).get()
        #expect(wa.path == "3003/messages")
        let document = try body(wa)
        #expect(document["to"] as? String == "4915112345" && document["messaging_product"] as? String == "whatsapp")
        #expect((document["context"] as? [String: String])?["message_id"] == "wamid.Q")
        #expect((document["text"] as? [String: String])?["body"] == "We open at 9.")
    }

    @Test func aTextTooLongIsRefusedBeforeAnythingIsPosted() throws {
        let long = String(repeating: "a", count: 2_001)
        guard case .failure(let refusal) = MetaPublishing.call(for: try post(long, thread: "psid-7"), account: page) else {
            Issue.record("a 2,001-character Messenger text was planned")
            return
        }
        #expect(refusal.code == .textTooLong && refusal.reason.contains("at most 2000"))
        let document = try #require(try JSONSerialization.jsonObject(with: Data(refusal.document)) as? [String: String])
        #expect(document["status"] == "failed" && document["code"] == "text_too_long")
    }

    @Test func everyDocumentedAnswerMeansWhatItSays() {
        func answer(_ status: Int, _ json: String, retryAfter: String? = nil) -> MetaPublishing.Result {
            MetaPublishing.result(status: status, body: Array(json.utf8), retryAfter: retryAfter)
        }
        #expect(answer(200, #"{"id":"c-9"}"#) == .posted(externalID: "c-9"))
        #expect(answer(200, #"{"recipient_id":"p","message_id":"m_9"}"#) == .posted(externalID: "m_9"))
        #expect(answer(200, #"{"messages":[{"id":"wamid.9"}]}"#) == .posted(externalID: "wamid.9"))
        guard case .retry(let after, _) = answer(429, #"{"error":{"message":"limit","code":4}}"#, retryAfter: "3") else {
            Issue.record("a throttle is not waited out")
            return
        }
        #expect(after == 3)
        if case .retry = answer(400, #"{"error":{"message":"limit","code":80007}}"#) {} else { Issue.record("80007 is a throttle") }
        if case .retry = answer(400, #"{"error":{"message":"limit","code":130429}}"#) {} else { Issue.record("130429 is a throttle") }
        if case .retry = answer(503, "") {} else { Issue.record("a 5xx is passing") }
        if case .reauthorize = answer(401, #"{"error":{"message":"Session has expired","code":190}}"#) {} else { Issue.record("190 needs new credentials") }
        var codes: Set<ErrorCode> = [.textTooLong, .deliveryUncertain]   // before posting, and after a crash (the gateway's journal)
        for (status, json) in [(400, #"{"error":{"message":"outside window","code":10,"error_subcode":2018278}}"#),
                               (400, #"{"error":{"message":"Re-engagement","code":131047}}"#),
                               (400, #"{"error":{"message":"does not exist","code":100,"error_subcode":33}}"#),
                               (400, #"{"error":{"message":"nope","code":200}}"#)] {
            if case .failed(let code, let reason) = answer(status, json) {
                codes.insert(code)
                #expect(reason.contains("not delivered"))
            } else {
                Issue.record("\(json) is a permanent failure")
            }
        }
        #expect(codes == Set(ErrorCode.publishing), "every publishing code in the registry is one the gateway sends")
    }
}
