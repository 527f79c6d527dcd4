import Foundation
import Testing
import SwitchboardProtocol
import ZeroMQ
@testable import SwitchboardBroker

/// The request models clients encode (SwitchboardProtocol) and the broker's strict
/// reader agree on every field name: each field, set to its own value, is read back by
/// the broker under the name its handler asks for. A renamed key on either side fails
/// here, not in front of an agent.
@Suite struct RequestModelTests {
    func read(_ model: some Encodable) throws -> AgentRequest {
        try AgentRequest([Frame(bytes: try JSONEncoder().encode(model))])
    }

    @Test func inquiryRequestsReadAsTheAgentServicesAskForThem() throws {
        let model = InquiryRequest(agent: "ana", department: "roads", id: "0190e5c2-8f3a-7c1e-9a55-3b2f0c1d4e6f", note: "a note",
                                   text: "the answer / é", account: "@RivertonRoads", replyID: "r-1", to: "parks", resolution: "answered",
                                   state: "parked", priority: "urgent", owner: "ben", limit: 20, offset: 40, prefix: "0190e5",
                                   requestID: "m-1")
        let request = try read(model)
        #expect(request.agent == .agent("ana"))
        #expect(request.department == "roads")
        #expect(try request.id().description == model.id)
        for (key, value) in [("note", model.note), ("text", model.text), ("account", model.account), ("reply_id", model.replyID),
                             ("to", model.to), ("resolution", model.resolution), ("state", model.state), ("priority", model.priority),
                             ("owner", model.owner), ("prefix", model.prefix), ("request_id", model.requestID)] {
            #expect(request.optional(key) == value, "\(key)")
        }
        #expect(request.integer("limit") == 20)
        #expect(request.integer("offset") == 40)
        // Nothing is sent for what is not set: the broker sees an absent field, not null.
        let empty = try read(InquiryRequest())
        for key in ["agent", "department", "id", "note", "limit"] { #expect(!empty.has(key), "\(key)") }
    }

    @Test func channelRequestsReadAsTheRegistryAsksForThem() throws {
        let model = ChannelRequest(actor: "registrar", id: "c-1", platform: "mastodon", handle: "@roads@riverton.social", status: "active",
                                   department: "roads", displayName: "Riverton Roads", url: "https://riverton.social/@roads",
                                   contacts: ["roads@riverton.gov", "+1 555 0100"], override: "renamed", exception: "pilot", reason: "audit")
        let request = try read(model)
        for (key, value) in [("actor", model.actor), ("id", model.id), ("platform", model.platform), ("handle", model.handle),
                             ("status", model.status), ("department", model.department), ("display_name", model.displayName),
                             ("url", model.url), ("override", model.override), ("exception", model.exception), ("reason", model.reason)] {
            #expect(request.optional(key) == value, "\(key)")
        }
        #expect(request.strings("contacts") == model.contacts)
    }

    @Test func dataProtectionRequestsReadAsTheRecordsLaneAsksForThem() throws {
        let erase = try read(ErasureRequest(citizen: "x:@resident", dryRun: true, actor: "dpo"))
        #expect(erase.optional("citizen") == "x:@resident")
        #expect(erase.bool("dry_run") == true)
        #expect(erase.optional("actor") == "dpo")
        let export = try read(ExportRequest(closedBefore: "2026-01-31", department: "parks", after: "0190e5c2-8f3a-7c1e-9a55-3b2f0c1d4e6f",
                                            limit: 500, count: true))
        #expect(export.optional("closed_before") == "2026-01-31")
        #expect(export.optional("department") == "parks")
        #expect(export.optional("after") == "0190e5c2-8f3a-7c1e-9a55-3b2f0c1d4e6f")
        #expect(export.integer("limit") == 500)
        #expect(export.bool("count") == true)
        #expect(try read(RequeueRequest(id: "0190e5c2-8f3a-7c1e-9a55-3b2f0c1d4e6f")).id().description == "0190e5c2-8f3a-7c1e-9a55-3b2f0c1d4e6f")
    }
}
