import Foundation
import Testing
import SwitchboardProtocol

@Suite struct WireModelTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// `Protocols/errors.json` is the registry; the enum the code switches on lists
    /// exactly its codes, so a code cannot be sent that the specs do not describe.
    @Test func theErrorCodesAreTheRegistrys() throws {
        struct Entry: Decodable { var code: String; var services: [String]; var description: String }
        let entries = try JSONDecoder().decode([Entry].self, from: Data(contentsOf: Self.root.appendingPathComponent("Protocols/errors.json")))
        #expect(Set(entries.map(\.code)).count == entries.count, "a code is listed twice")
        #expect(Set(entries.map(\.code)) == Set(ErrorCode.allCases.map(\.rawValue)))
        #expect(entries.allSatisfy { !$0.description.isEmpty && !$0.services.isEmpty })
        for code in ErrorCode.ingest {
            #expect(entries.first { $0.code == code.rawValue }?.services.contains("sb.ingest") == true, "\(code) is not listed for sb.ingest")
        }
    }

    @Test func theBrokersPrefixesAreKeptFromWorkers() {
        #expect(ServiceName.isBrokers("mmi.service"))
        #expect(ServiceName.isBrokers(ServiceName.ingest))
        #expect(AgentService.allCases.allSatisfy { ServiceName.isBrokers($0.rawValue) })
        #expect(ChannelService.allCases.allSatisfy { ServiceName.isBrokers($0.rawValue) })
        #expect(AdminService.allCases.allSatisfy { ServiceName.isBrokers($0.rawValue) })
        #expect(!ServiceName.isBrokers("sanitation"))
        #expect(!ServiceName.isBrokers("mmi"))
        #expect(ServiceName.outbound("mastodon") == "outbound.mastodon")
    }

    /// The broker's hand-written delivery decodes into the model workers use, field for
    /// field, with the stored envelope and routing decision inside it as they were.
    @Test func theDeliveryWriterRoundTripsThroughItsModel() throws {
        let envelope = #"{"id":"01a2","received_at":"2026-12-04T10:00:00Z","source":{"platform":"x","external_id":"1","account":"@city"},"text":"Bin \"7\" not collected \u00e9"}"#
        let routing = #"{"rule":"bins","matched":["bin"]}"#
        let bytes = InquiryDelivery.write(caseNumber: "R-4821", count: 2, department: "waste", inquiryID: "01a20bf2-2ef5-77c8-bdfb-e5276144c717",
                                          priority: "high", replyAccountsJSON: #"["@city","@city_waste"]"#, envelopeJSON: envelope, routingJSON: routing)
        let delivery = try JSONDecoder().decode(InquiryDelivery.self, from: Data(bytes))
        let info = delivery.delivery
        #expect(info.count == 2 && info.department == "waste" && info.inquiryID == "01a20bf2-2ef5-77c8-bdfb-e5276144c717")
        #expect(info.priority == "high" && info.caseNumber == "R-4821" && info.replyAccounts == ["@city", "@city_waste"])
        #expect(delivery.inquiry.text == "Bin \"7\" not collected é")
        #expect(delivery.inquiry.source?.account == "@city")
        #expect(delivery.routing.rule == "bins")
        // The stored documents are carried as bytes, not re-encoded.
        let object = try #require(try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any])
        #expect(Set(object.keys) == ["delivery", "inquiry", "routing"])
        #expect(String(decoding: bytes, as: UTF8.self).contains(envelope))
    }

    /// The examples in the envelope spec decode into the model clients use.
    @Test func theSpecsIngestAnswersDecode() throws {
        let accepted = #"{"status":"accepted","id":"01a20bf2-2ef5-77c8-bdfb-e5276144c717","department":"waste","priority":"normal","platform":"x","external_id":"1"}"#
        let answer = try JSONDecoder().decode(IngestAnswer.self, from: Data(accepted.utf8))
        #expect(answer == IngestAnswer(status: .accepted, id: "01a20bf2-2ef5-77c8-bdfb-e5276144c717", department: "waste", priority: "normal",
                                       platform: "x", externalID: "1"))
        let rejected = #"{"status":"rejected","error":{"code":"text_too_long","message":"text is 5001 characters","field":"text"}}"#
        #expect(try JSONDecoder().decode(IngestAnswer.self, from: Data(rejected.utf8)).error?.code == .textTooLong)
        let refused = #"{"status":"error","error":{"code":"invalid_transition","message":"m","state":"queued","allowed":["claim"]}}"#
        let error = try JSONDecoder().decode(ErrorAnswer.self, from: Data(refused.utf8))
        #expect(error.error.allowed == ["claim"] && error.error.state == "queued")
        // A code outside the registry is a decoding error, not a silent default.
        #expect(throws: DecodingError.self) {
            try JSONDecoder().decode(ErrorAnswer.self, from: Data(#"{"status":"error","error":{"code":"oops","message":"m"}}"#.utf8))
        }
    }
}
