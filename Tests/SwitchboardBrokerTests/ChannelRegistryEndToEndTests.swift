import DaemonHarness
import Foundation
import Majordomo
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

    @Test func verifyFlagAndRefuse() throws {
        let daemon = try SpawnedDaemon()
        let client = try MajordomoClient(context: try Context(), endpoint: daemon.endpoint)
        defer { client.close() }

        // verify answers all three ways, for URLs and handles.
        #expect(try ask(client, "sb.channels.verify", ["handle": "https://x.com/RivertonCity"])["verdict"] as? String == "official")
        #expect(try ask(client, "sb.channels.verify", ["handle": "https://riverton.social/@city"])["verdict"] as? String == "official")
        let lookalike = try ask(client, "sb.channels.verify", ["handle": "@RіvertonCity", "platform": "x"])   // Cyrillic і
        #expect(lookalike["verdict"] as? String == "lookalike_of")
        #expect((lookalike["channel"] as? [String: Any])?["handle"] as? String == "@RivertonCity")
        #expect(try ask(client, "sb.channels.verify", ["handle": "@NotOurs", "platform": "x"])["verdict"] as? String == "unknown")
        // Every platform the demo city takes inquiries from has an account.
        let listed = try #require(try ask(client, "sb.channels.list", [:])["channels"] as? [[String: Any]])
        #expect(Set(listed.compactMap { $0["platform"] as? String }).isSuperset(of: ["x", "facebook", "instagram", "mastodon", "youtube", "whatsapp"]))

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
        let city = try #require(listed.first { $0["handle"] as? String == "@RivertonCity" }?["id"] as? String)
        #expect(try ask(client, "sb.channels.suspend", ["id": city, "reason": "password leaked", "actor": "ada"])["status"] as? String == "ok")
        let refused = try ask(client, "sb.agent.reply", ["agent": "ana", "department": "front-office", "id": id,
                                                         "text": "A crew is on its way", "account": "@RivertonCity"])
        let error = try #require(refused["error"] as? [String: Any])
        #expect(error["code"] as? String == "unofficial_account")
        #expect((error["message"] as? String)?.contains("register") == true, "it says what to do next")
        let history = try #require(try ask(client, "sb.channels.history", ["id": city])["history"] as? [[String: Any]])
        #expect(history.last?["action"] as? String == "suspend")
        #expect(history.last?["reason"] as? String == "password leaked")
        #expect(try daemon.terminate() == 0)
    }
}
