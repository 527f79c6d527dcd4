import DaemonHarness
import Foundation
import Majordomo
import SwitchboardProtocol
import Testing
import TestSupport
import ZeroMQ

/// The registry as its users meet it, against a spawned `switchboardd` on the demo city:
/// an administrator verifies and suspends accounts, a gateway's inquiry to an impostor
/// lands in front-office review, and an agent cannot reply through a suspended account.
@Suite(.serialized) struct ChannelRegistryEndToEndTests {
    func ask(_ client: MajordomoClient, _ service: String, _ fields: [String: Any]) throws -> [String: Any] {
        let body = Frame(bytes: try JSONSerialization.data(withJSONObject: fields))
        return jsonObject(try client.request(service, body: [body], timeout: .seconds(5))?.body)
    }

    /// The answer decoded through the wire model the CLI reads it with.
    func ask<Answer: Decodable>(_ client: MajordomoClient, _ service: String, _ fields: [String: Any], as model: Answer.Type) throws -> Answer {
        let body = Frame(bytes: try JSONSerialization.data(withJSONObject: fields))
        let reply = try #require(try client.request(service, body: [body], timeout: .seconds(5))?.body.first)
        return try JSONDecoder().decode(model, from: Data(reply.bytes))
    }

    @Test func verifyFlagAndRefuse() throws {
        let daemon = try SpawnedDaemon()
        let client = try MajordomoClient(context: try Context(), endpoint: daemon.endpoint)
        defer { client.close() }

        // verify answers all three ways, for URLs and handles.
        func verify(_ fields: [String: Any]) throws -> ChannelVerification {
            try ask(client, "sb.channels.verify", fields, as: ChannelVerification.self)
        }
        #expect(try verify(["handle": "https://x.com/RivertonCity"]).verdict == .official)
        #expect(try verify(["handle": "https://riverton.social/@city"]).verdict == .official)
        let lookalike = try verify(["handle": "@RіvertonCity", "platform": "x"])   // Cyrillic і
        #expect(lookalike.verdict == .lookalikeOf)
        #expect(lookalike.channel?.handle == "@RivertonCity")
        #expect(lookalike.why?.isEmpty == false)
        #expect(try verify(["handle": "@NotOurs", "platform": "x"]).verdict == .unknown)
        // Every platform the demo city takes inquiries from has an account.
        let list = try ask(client, "sb.channels.list", [:], as: ChannelList.self)
        let listed = list.channels
        #expect(list.total == listed.count)
        #expect(Set(listed.map(\.platform)).isSuperset(of: ["x", "facebook", "instagram", "mastodon", "youtube", "whatsapp"]))
        // Registering a lookalike is refused, naming the entry it imitates.
        let refusal = try ask(client, "sb.channels.register", ["platform": "x", "handle": "@RivertonCiity", "actor": "ada"], as: ChannelRefusal.self)
        #expect(refusal.status == "error" && refusal.error.channel?.handle == "@RivertonCity")

        // An inquiry addressed to an impostor is accepted, flagged, and waits in front-office review.
        let impostor = Frame(#"{"source":{"platform":"x","account":"@RivertonCityOfficial","external_id":"imp-1"},"author":{"handle":"@resident"},"text":"Streetlights are out on Elm","captured_at":"2026-11-22T09:30:00Z"}"#)
        let accepted = jsonObject(try client.request("sb.ingest", body: [impostor], timeout: .seconds(5))?.body)
        #expect(accepted["status"] as? String == "accepted")
        #expect(accepted["department"] as? String == "front-office", "routed to channel review, not to roads")
        let id = try #require(accepted["id"] as? String)
        let queue = try ask(client, "sb.agent.list", ["agent": "ana", "department": "front-office"])
        #expect((queue["inquiries"] as? [[String: Any]])?.contains { $0["id"] as? String == id } == true)
        let claimed = try ask(client, "sb.agent.claim", ["agent": "ana", "department": "front-office", "id": id])
        let flag = (claimed["routing"] as? [String: Any])?["unofficial_channel"] as? [String: Any]
        #expect(flag?["reason"] as? String == "lookalike")
        #expect(flag?["imitates_handle"] as? String == "@RivertonCity")

        // The city's own account is suspended: no reply leaves through it.
        let city = try #require(listed.first { $0.handle == "@RivertonCity" }?.id)
        let suspended = try ask(client, "sb.channels.suspend", ["id": city, "reason": "password leaked", "actor": "ada"], as: ChannelAnswer.self)
        #expect(suspended.status == "ok" && suspended.channel?.status == "suspended")
        let refused = try ask(client, "sb.agent.reply", ["agent": "ana", "department": "front-office", "id": id,
                                                         "text": "A crew is on its way", "account": "@RivertonCity"])
        let error = try #require(refused["error"] as? [String: Any])
        #expect(error["code"] as? String == "unofficial_account")
        #expect((error["message"] as? String)?.contains("register") == true, "it says what to do next")
        let history = try #require(try ask(client, "sb.channels.history", ["id": city], as: ChannelAnswer.self).history)
        #expect(history.last?.action == "suspend")
        #expect(history.last?.reason == "password leaked")
        #expect(history.last?.actor == "ada" && history.last?.status == "suspended")
        let shown = try ask(client, "sb.channels.show", ["id": city], as: ChannelAnswer.self)
        #expect(shown.channel?.id == city && shown.history == history)
        #expect(try daemon.terminate() == 0)
    }
}
