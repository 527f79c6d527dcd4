import Foundation
import SwitchboardCore
import SwitchboardProtocol
import Testing
import ZeroMQ
@testable import SwitchboardBroker

/// An agent's request read into a move, with plain values: every field a move needs is
/// named when it is missing or wrong.
@Suite struct AgentMoveTests {
    let id = InquiryID(high: 0x0190_E5C2_8F3A_7C1E, low: 0x9A55_3B2F_0C1D_4E6F)

    func request(_ fields: [String: Any]) throws -> AgentRequest {
        try AgentRequest([Frame(bytes: try JSONSerialization.data(withJSONObject: fields))])
    }

    @Test func eachMoveReadsItsFields() throws {
        let named = "\(id)"
        #expect(try AgentMove.read(.claim, request([:])) == .claim(nil), "the next one")
        #expect(try AgentMove.read(.claim, request(["id": named])) == .claim(id))
        #expect(try AgentMove.read(.release, request(["id": named])) == .release(id, note: "released by agent"))
        #expect(try AgentMove.read(.reply, request(["id": named, "text": "On it", "account": "@City", "reply_id": "r1"]))
            == .reply(id, text: "On it", account: "@City"))
        #expect(try AgentMove.read(.handoff, request(["id": named, "to": "roads", "note": "pothole"])) == .handoff(id, to: "roads", note: "pothole"))
        #expect(try AgentMove.read(.requestInformation, request(["id": named, "text": "Which street?", "account": "@City"]))
            == .requestInformation(id, question: "Which street?", account: "@City", note: ""))
        #expect(try AgentMove.read(.close, request(["id": named, "resolution": "answered"])) == .close(id, .answered, note: nil, duplicateOf: nil))
        // A merge names the other inquiry; its resolution goes without saying.
        let other = InquiryID(high: 0x0190_E5C2_8F3A_7C1F, low: 1)
        #expect(try AgentMove.read(.close, request(["id": named, "duplicate_of": "\(other)"])) == .close(id, .duplicate, note: nil, duplicateOf: other))
        #expect(throws: AgentError.self, "not into itself") { try AgentMove.read(.close, request(["id": named, "duplicate_of": named])) }
        #expect(throws: AgentError.self) { try AgentMove.read(.close, request(["id": named, "duplicate_of": "R-"])) }
        #expect(try AgentMove.read(.reopen, request(["id": named, "note": "again"])) == .reopen(id, note: "again"))
        for read in [AgentService.list, .timeline, .show, .resolve] { #expect(try AgentMove.read(read, request([:])) == nil) }
    }

    @Test func aMissingOrWrongFieldIsNamed() throws {
        /// What the agent is told, word for word.
        func refusal(_ service: AgentService, _ fields: [String: Any]) throws -> String? {
            let fields = try request(fields)
            do { _ = try AgentMove.read(service, fields); return nil } catch { return "\(error)" }
        }
        #expect(try refusal(.reply, ["id": "\(id)", "account": "@City"]) == "\(AgentError.missing("text"))")
        #expect(try refusal(.handoff, ["id": "\(id)", "note": "n"]) == "\(AgentError.missing("to"))")
        #expect(try refusal(.renew, [:]) == "\(AgentError.missing("id"))")
        #expect(try refusal(.claim, ["id": "not-an-id"]) == "\(AgentError.invalid(field: "id", "not an inquiry id"))")
        let resolution = try refusal(.close, ["id": "\(id)", "resolution": "done"])
        #expect(resolution?.contains("answered") == true && resolution?.contains("resolution") == true, "the allowed resolutions are named")
    }
}
