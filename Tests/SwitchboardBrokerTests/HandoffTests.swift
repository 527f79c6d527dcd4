import Foundation
import Majordomo
import Synchronization
import SwitchboardCore
import SwitchboardProtocol
import Testing
import TestSupport
import ZeroMQ
@testable import SwitchboardBroker

/// Collects the event stream on its own thread.
final class EventCollector: Sendable {
    private let events = Mutex<[(topic: String, body: Data)]>([])
    private let stopRequested = Mutex(false)
    private let done = DispatchSemaphore(value: 0)

    init(endpoint: String) {
        let thread = Thread { [self] in
            defer { done.signal() }
            guard let context = try? Context(), let socket = try? Socket(context, .sub),
                  (try? socket.subscribe()) != nil, (try? socket.connect(endpoint)) != nil else { return }
            while !stopRequested.withLock({ $0 }) {
                guard let frames = try? socket.receive(.timeout(.milliseconds(20))), frames.count == 2 else { continue }
                let event = (topic: frames[0].string ?? "", body: Data(frames[1].bytes))
                events.withLock { $0.append(event) }
            }
        }
        thread.start()
    }

    var all: [(topic: String, body: [String: Any])] {
        events.withLock { $0 }.map { ($0.topic, (try? JSONSerialization.jsonObject(with: $0.body)) as? [String: Any] ?? [:]) }
    }

    func topics(for inquiry: String) -> [String] {
        all.filter { $0.body["inquiry_id"] as? String == inquiry }.map(\.topic)
    }

    func stop() {
        stopRequested.withLock { $0 = true }
        done.wait()
    }
}

/// Sends one agent request and returns the JSON answer.
func agent(_ client: MajordomoClient, _ service: String, _ fields: [String: Any]) throws -> [String: Any] {
    let body = try JSONSerialization.data(withJSONObject: fields)
    return jsonObject(try client.request(service, body: [Frame(bytes: body)], timeout: .seconds(5))?.body)
}

/// Sends an agent request without waiting for its answer (to send several at once).
func sendAgent(_ client: MajordomoClient, _ service: String, _ fields: [String: Any]) throws {
    try client.send(service, body: [Frame(bytes: try JSONSerialization.data(withJSONObject: fields))])
}

/// An agent request whose answer has a model in SwitchboardProtocol, decoded through it.
func agent<Answer: Decodable>(_ client: MajordomoClient, _ service: String, _ fields: [String: Any], as model: Answer.Type) throws -> Answer {
    let body = try JSONSerialization.data(withJSONObject: fields)
    let reply = try #require(try client.request(service, body: [Frame(bytes: body)], timeout: .seconds(5))?.body.first)
    return try JSONDecoder().decode(model, from: Data(reply.bytes))
}

enum Cities {
    static let handoff = """
    front_office: front-office
    departments:
      - id: front-office
        accounts: [{ platform: x, handle: "@RivertonCity" }]
      - id: roads
      - id: parks
    agents:
      lease: 15m
    """
}

@Suite(.serialized) struct HandoffTests {
    /// Subscribes, and returns once the subscription is live (the slow-joiner problem:
    /// it ingests probe inquiries until their routed event arrives).
    func connectedCollector(_ engine: BrokerEngine, _ client: MajordomoClient) throws -> EventCollector {
        let collector = EventCollector(endpoint: try #require(engine.eventsEndpoint))
        var probe = 0
        try waitUntil("the subscriber receives events") {
            probe += 1
            _ = try client.request("sb.ingest", body: [envelope("probe-\(probe)", text: "probe")])
            return collector.all.contains { $0.topic == "inquiry.routed" }
        }
        return collector
    }

    @Test func frontOfficeToAToBAndBackThenReplyAndClose() throws {
        let engine = try startEngine(configuration: try SwitchboardConfiguration.parse(yaml: Cities.handoff))
        defer { engine.stop() }
        let endpoint = try #require(engine.endpoint)
        let client = try MajordomoClient(context: try Context(), endpoint: endpoint)
        defer { client.close() }
        let events = try connectedCollector(engine, client)
        defer { events.stop() }

        let accepted = jsonObject(try client.request("sb.ingest", body: [envelope("handoff-1", text: "Fallen tree blocking the road by the park")])?.body)
        let id = try #require(accepted["id"] as? String)
        #expect(accepted["department"] as? String == "front-office")

        // The front office claims it by id and hands it to roads.
        let claimed = try agent(client, "sb.agent.claim", ["agent": "ana", "department": "front-office", "id": id])
        #expect(claimed["state"] as? String == "in_progress")
        #expect(claimed["owner"] as? String == "agent ana")
        #expect((claimed["inquiry"] as? [String: Any])?["text"] as? String == "Fallen tree blocking the road by the park")
        #expect(try agent(client, "sb.agent.handoff", ["agent": "ana", "department": "front-office", "id": id, "to": "roads", "note": "tree on the road"])["department"] as? String == "roads")

        // Roads' worker hands it to parks; parks' worker returns it to the front office.
        let roads = WorkerThread(endpoint: endpoint, service: "roads") { _ in [#"{"outcome":"handoff","department":"parks","note":"the tree is in the park"}"#] }
        defer { roads.stop() }
        let parks = WorkerThread(endpoint: endpoint, service: "parks") { _ in [#"{"outcome":"return","note":"cleared; the citizen needs an answer"}"#] }
        defer { parks.stop() }
        try waitUntil("back at the front office") {
            try agent(client, "sb.agent.list", ["agent": "ana", "department": "front-office", "state": "queued"])["inquiries"]
                .flatMap { $0 as? [[String: Any]] }?.contains { $0["id"] as? String == id } == true
        }

        // The agent claims it again, replies through the official account, and a second
        // reply is refused.
        _ = try agent(client, "sb.agent.claim", ["agent": "ana", "department": "front-office", "id": id])
        let answered = try agent(client, "sb.agent.reply", ["agent": "ana", "department": "front-office", "id": id, "text": "Cleared this morning, thank you!", "account": "@RivertonCity"])
        #expect(answered["state"] as? String == "answered")
        // No gateway serves x yet: the agent is told at once that the reply is held.
        let held = answered["message"] as? [String: Any]
        #expect(held?["status"] as? String == "held")
        #expect(held?["note"] as? String == "held: no gateway serves x; it will be posted when one connects")
        let twice = try agent(client, "sb.agent.reply", ["agent": "ana", "department": "front-office", "id": id, "text": "Again", "account": "@RivertonCity"])
        #expect((twice["error"] as? [String: Any])?["code"] as? String == "already_answered")

        // The publishing gateway posts it and confirms.
        let posted = Mutex<[String: Any]>([:])
        let gateway = WorkerThread(endpoint: endpoint, service: "outbound.x") { request in
            posted.withLock { $0 = jsonObject(request.body) }
            return ["posted"]
        }
        defer { gateway.stop() }
        try waitUntil("reply sent") { events.topics(for: id).contains("reply.sent") }
        #expect(posted.withLock { $0["text"] as? String } == "Cleared this morning, thank you!")
        #expect(posted.withLock { $0["account"] as? String } == "@RivertonCity")
        #expect(posted.withLock { $0["in_reply_to"] as? String } == "handoff-1")

        #expect(try agent(client, "sb.agent.close", ["agent": "ana", "department": "front-office", "id": id, "resolution": "answered"])["state"] as? String == "closed")

        let expected = [
            "inquiry.routed", "inquiry.claimed", "inquiry.handoff", "inquiry.delivered", "inquiry.handoff",
            "inquiry.delivered", "inquiry.returned", "inquiry.claimed", "inquiry.answered", "reply.held", "reply.sent", "inquiry.closed",
        ]
        let timeline = try agent(client, "sb.agent.timeline", ["agent": "ana", "id": id])["timeline"] as? [[String: Any]] ?? []
        #expect(timeline.compactMap { $0["event"] as? String } == expected)
        #expect(timeline.compactMap { $0["department"] as? String } == [
            "front-office", "front-office", "roads", "roads", "parks", "parks", "front-office", "front-office", "front-office", "front-office",
            "front-office", "front-office",
        ])
        #expect(timeline[2]["note"] as? String == "tree on the road")
        #expect(timeline[2]["role"] as? String == "front_office")
        #expect(timeline[4]["role"] as? String == "back_office")

        try waitUntil("every step published") { events.topics(for: id) == expected }
        // Events never carry the citizen's words or handle.
        for event in events.all {
            #expect(event.body["text"] == nil)
            #expect(!"\(event.body)".contains("@resident"))
        }
    }

    /// The city asks the citizen through its gateway; the citizen's answer to the posted
    /// question threads back into the same inquiry, which resumes with its agent, and
    /// that survives a restart of the broker.
    @Test func aQuestionToTheCitizenAndTheirAnswerStayInOneInquiry() throws {
        let data = temporaryDirectory()
        let city = try SwitchboardConfiguration.parse(yaml: Cities.handoff)
        var engine = try startEngine(dataDirectory: data, configuration: city)
        var client = try MajordomoClient(context: try Context(), endpoint: try #require(engine.endpoint))
        let accepted = jsonObject(try client.request("sb.ingest", body: [envelope("ask-1", text: "The lamp is broken")])?.body)
        let id = try #require(accepted["id"] as? String)
        _ = try agent(client, "sb.agent.claim", ["agent": "ana", "department": "front-office", "id": id])
        let asked = try agent(client, "sb.agent.request-info", ["agent": "ana", "department": "front-office", "id": id,
                                                                "text": "Which street is the lamp on?", "account": "@RivertonCity"])
        #expect(asked["state"] as? String == "awaiting_citizen")

        let gateway = WorkerThread(endpoint: try #require(engine.endpoint), service: "outbound.x") { request in
            let body = jsonObject(request.body)
            if body["kind"] as? String == "question" { return [#"{"external_id":"q-1"}"#] }
            return ["posted"]
        }
        try waitUntil("question posted") { gateway.served.withLock { $0 } == 1 }
        gateway.stop()
        try waitUntil("question.sent recorded") {
            (try agent(client, "sb.agent.timeline", ["id": id])["timeline"] as? [[String: Any]])?.contains { $0["event"] as? String == "question.sent" } == true
        }
        client.close()
        engine.stop()

        // The broker restarts; the conversation still waits for the citizen's answer.
        engine = try startEngine(dataDirectory: data, configuration: city)
        defer { engine.stop() }
        client = try MajordomoClient(context: try Context(), endpoint: try #require(engine.endpoint))
        defer { client.close() }
        let followUp = Frame(#"{"source":{"platform":"x","account":"@RivertonCity","external_id":"ask-2","in_reply_to":"q-1"},"author":{"handle":"@resident"},"text":"Elm Street","captured_at":"2026-11-22T10:30:00Z"}"#)
        let threaded = jsonObject(try client.request("sb.ingest", body: [followUp])?.body)
        #expect(threaded["status"] as? String == "accepted")
        #expect(threaded["thread_of"] as? String == id)
        let listing = try agent(client, "sb.agent.list", ["agent": "ana", "department": "front-office"])
        #expect(listing["total"] as? Int == 1)
        #expect((listing["inquiries"] as? [[String: Any]])?.first?["state"] as? String == "in_progress")
        #expect((listing["inquiries"] as? [[String: Any]])?.first?["owner"] as? String == "agent ana")
        let again = jsonObject(try client.request("sb.ingest", body: [followUp])?.body)
        #expect(again["status"] as? String == "duplicate")
    }

    @Test func anExpiredClaimGoesBackToItsQueue() throws {
        let configuration = try SwitchboardConfiguration.parse(yaml: Cities.handoff.replacingOccurrences(of: "lease: 15m", with: "lease: 300ms"))
        let engine = try startEngine(configuration: configuration)
        defer { engine.stop() }
        let client = try MajordomoClient(context: try Context(), endpoint: try #require(engine.endpoint))
        defer { client.close() }
        let events = try connectedCollector(engine, client)
        defer { events.stop() }

        let id = try #require(jsonObject(try client.request("sb.ingest", body: [envelope("lease-1")])?.body)["id"] as? String)
        let claimed = try agent(client, "sb.agent.claim", ["agent": "bo", "department": "front-office", "id": id])
        #expect(claimed["lease_expires_at"] != nil)
        try waitUntil("lease expired") { events.topics(for: id).contains("inquiry.released") }
        let released = try #require(events.all.first { $0.topic == "inquiry.released" && $0.body["inquiry_id"] as? String == id })
        #expect((released.body["actor"] as? [String: Any])?["kind"] as? String == "system")

        // It is back in the queue: another agent can claim it as the next one.
        var next: [String: Any] = [:]
        try waitUntil("claimable again") {
            next = try agent(client, "sb.agent.claim", ["agent": "cy", "department": "front-office"])
            return next["id"] as? String == id || (next["status"] as? String == "ok" && next["id"] as? String != id)
        }
        // Probes were ingested first, so drain until ours comes out.
        var claims = 0
        while next["id"] as? String != id && claims < 50 {
            next = try agent(client, "sb.agent.claim", ["agent": "cy", "department": "front-office"])
            claims += 1
        }
        #expect(next["id"] as? String == id)
        #expect(next["owner"] as? String == "agent cy")
        // The old owner can no longer act on it.
        let stale = try agent(client, "sb.agent.close", ["agent": "bo", "department": "front-office", "id": id, "resolution": "spam"])
        #expect((stale["error"] as? [String: Any])?["code"] as? String == "not_owner")
    }

    @Test func slaWarningThenBreachEscalatesThePriority() throws {
        let yaml = Cities.handoff + """

            sla:
              targets:
                normal: { first_response: 500ms, resolution: 1h }
              escalation: { action: raise_priority }
            """
        let engine = try startEngine(configuration: try SwitchboardConfiguration.parse(yaml: yaml))
        defer { engine.stop() }
        let client = try MajordomoClient(context: try Context(), endpoint: try #require(engine.endpoint))
        defer { client.close() }
        let events = try connectedCollector(engine, client)
        defer { events.stop() }

        let id = try #require(jsonObject(try client.request("sb.ingest", body: [envelope("sla-1")])?.body)["id"] as? String)
        try waitUntil("breach") { events.topics(for: id).contains("sla.breach") }
        let topics = events.topics(for: id)
        #expect(topics.firstIndex(of: "sla.warning")! < topics.firstIndex(of: "sla.breach")!)
        let breach = try #require(events.all.first { $0.topic == "sla.breach" && $0.body["inquiry_id"] as? String == id })
        #expect(breach.body["goal"] as? String == "first_response")
        #expect(breach.body["target_seconds"] as? Double == 0.5)
        try waitUntil("escalated") { events.topics(for: id).contains("inquiry.escalated") }
        let listed = try agent(client, "sb.agent.list", ["agent": "ops", "department": "front-office", "priority": "high"])["inquiries"] as? [[String: Any]]
        #expect(listed?.contains { $0["id"] as? String == id } == true)
    }

    @Test func slaClocksSurviveARestart() throws {
        let yaml = Cities.handoff + """

            sla:
              targets:
                normal: { first_response: 1500ms, resolution: 1h }
              escalation: { action: none }
            """
        let configuration = try SwitchboardConfiguration.parse(yaml: yaml)
        let data = temporaryDirectory()
        var engine = try startEngine(dataDirectory: data, configuration: configuration)
        let endpoint = try #require(engine.endpoint)
        var client = try MajordomoClient(context: try Context(), endpoint: endpoint)
        let id = try #require(jsonObject(try client.request("sb.ingest", body: [envelope("survivor")])?.body)["id"] as? String)
        client.close()
        engine.stop()

        // A new broker on the same database raises the alert the old one had scheduled.
        engine = try startEngine(dataDirectory: data, configuration: configuration, endpoint: endpoint)
        defer { engine.stop() }
        client = try MajordomoClient(context: try Context(), endpoint: endpoint)
        defer { client.close() }
        let events = try connectedCollector(engine, client)
        defer { events.stop() }
        try waitUntil("breach after restart") { events.topics(for: id).contains("sla.breach") }
    }

    /// The agent reads decode through the wire model the CLI uses: pages, timelines,
    /// short ids.
    @Test func agentReadsDecodeThroughTheWireModel() throws {
        let engine = try startEngine(configuration: try SwitchboardConfiguration.parse(yaml: Cities.handoff))
        defer { engine.stop() }
        let client = try MajordomoClient(context: try Context(), endpoint: try #require(engine.endpoint))
        defer { client.close() }
        var ids: [String] = []
        for n in 1...3 {
            let accepted = try JSONDecoder().decode(IngestAnswer.self, from: Data(try #require(try client.request("sb.ingest", body: [envelope("model-\(n)")])?.body.first).bytes))
            ids.append(try #require(accepted.id))
        }
        let page = try agent(client, "sb.agent.list", ["agent": "ana", "department": "front-office", "limit": 2], as: InquiryList.self)
        #expect(page.total == 3)
        #expect(page.inquiries.count == 2)
        #expect(page.nextOffset == 2)
        #expect(page.inquiries.allSatisfy { $0.state == "queued" && $0.department == "front-office" && $0.owner == nil })
        #expect(page.inquiries.first?.preview == "My bin was not collected")
        let last = try agent(client, "sb.agent.list", ["agent": "ana", "department": "front-office", "limit": 2, "offset": 2], as: InquiryList.self)
        #expect(last.inquiries.count == 1)
        #expect(last.nextOffset == nil)
        #expect(Set(page.inquiries.map(\.id) + last.inquiries.map(\.id)) == Set(ids))

        _ = try agent(client, "sb.agent.claim", ["agent": "ana", "department": "front-office", "id": ids[0]])
        let timeline = try agent(client, "sb.agent.timeline", ["agent": "ana", "id": ids[0]], as: InquiryTimeline.self)
        #expect(timeline.timeline.map(\.event) == ["inquiry.routed", "inquiry.claimed"])
        #expect(timeline.timeline.last?.actor == "agent ana")
        #expect(timeline.timeline.last?.from == "queued")
        let resolved = try agent(client, "sb.agent.resolve", ["agent": "ana", "prefix": String(ids[0].prefix(13))], as: InquiryIDs.self)
        #expect(resolved.ids == [ids[0]])

        let detail = try agent(client, "sb.agent.show", ["agent": "ana", "id": ids[0]], as: InquiryDetail.self)
        #expect(detail.id == ids[0] && detail.state == "in_progress" && detail.owner == "agent ana" && detail.leaseExpiresAt != nil)
        #expect(detail.inquiry?.text == "My bin was not collected")
        #expect(detail.inquiry?.source?.platform == "x")
        #expect(detail.routing?.unofficialChannel == nil)
        #expect(detail.sla.map(\.clock) == ["department_first_response", "department_resolution", "first_response", "resolution"])
        #expect(detail.sla.allSatisfy { $0.state == "running" && $0.targetSeconds > 0 })
        #expect(detail.timeline == timeline.timeline)
    }

    /// A claim and `show` send the envelope as it was stored at ingest, byte for byte
    /// (key order, escapes), inside a document that is itself valid JSON.
    @Test func storedEnvelopesGoOutAsStored() throws {
        let engine = try startEngine(configuration: try SwitchboardConfiguration.parse(yaml: Cities.handoff))
        defer { engine.stop() }
        let client = try MajordomoClient(context: try Context(), endpoint: try #require(engine.endpoint))
        defer { client.close() }
        let text = #"{"text":"Bin at 5\/7 Elm St \u00e9t\u00e9","source":{"platform":"x","account":"@RivertonCity","external_id":"raw-1"},"author":{"handle":"@jo"},"captured_at":"2026-11-22T09:30:00Z"}"#
        let accepted = try JSONDecoder().decode(IngestAnswer.self, from: Data(try #require(try client.request("sb.ingest", body: [Frame(text)])?.body.first).bytes))
        let id = try #require(accepted.id)
        let fields: [String: Any] = ["agent": "ana", "department": "front-office", "id": id]
        for service in ["sb.agent.claim", "sb.agent.show"] {
            let body = try #require(try client.request(service, body: [Frame(bytes: try JSONSerialization.data(withJSONObject: fields))])?.body.first)
            let answer = String(decoding: body.bytes, as: UTF8.self)
            #expect(answer.contains(#""text":"Bin at 5\/7 Elm St \u00e9t\u00e9","source":{"platform":"x""#), "\(service): \(answer)")
            let parsed = try #require(try JSONSerialization.jsonObject(with: Data(body.bytes)) as? [String: Any])
            #expect((parsed["inquiry"] as? [String: Any])?["text"] as? String == "Bin at 5/7 Elm St été")
        }
    }

    /// Every agent move's answer decodes through the model the CLI reads it with.
    @Test func everyMoveAnswerDecodesThroughTheWireModel() throws {
        let engine = try startEngine(configuration: try SwitchboardConfiguration.parse(yaml: Cities.handoff))
        defer { engine.stop() }
        let client = try MajordomoClient(context: try Context(), endpoint: try #require(engine.endpoint))
        defer { client.close() }
        let accepted = try JSONDecoder().decode(IngestAnswer.self, from: Data(try #require(try client.request("sb.ingest", body: [envelope("moves-1")])?.body.first).bytes))
        let id = try #require(accepted.id)
        let ana: [String: Any] = ["agent": "ana", "department": "front-office", "id": id]
        func move(_ service: AgentService, _ fields: [String: Any] = [:], as identity: [String: Any] = ana) throws -> InquiryMove {
            try agent(client, service.rawValue, identity.merging(fields) { $1 }, as: InquiryMove.self)
        }

        let claimed = try move(.claim)
        #expect(claimed.state == "in_progress" && claimed.owner == "agent ana" && claimed.leaseExpiresAt != nil)
        #expect(claimed.inquiry?.text == "My bin was not collected")
        #expect(claimed.allowed.contains("reply"))
        #expect(try move(.renew).leaseExpiresAt != nil)
        #expect(try move(.release, ["note": "lunch"]).state == "queued")
        _ = try move(.claim)
        let handed = try move(.handoff, ["to": "roads", "note": "a road"])
        #expect(handed.department == "roads" && handed.state == "queued" && handed.owner == nil)
        let rita: [String: Any] = ["agent": "rita", "department": "roads", "id": id]
        _ = try move(.claim, as: rita)
        #expect(try move(.returnToFrontOffice, ["note": "not ours"], as: rita).department == "front-office")
        _ = try move(.claim)
        let asked = try move(.requestInformation, ["text": "Which street?", "account": "@RivertonCity"])
        #expect(asked.state == "awaiting_citizen")
        let closed = try move(.close, ["resolution": "answered"])
        #expect(closed.state == "closed")
        #expect(try move(.reopen, ["note": "the citizen wrote again"]).state != "closed")
    }

    @Test func agentErrorsSayWhatToDo() throws {
        let engine = try startEngine(configuration: try SwitchboardConfiguration.parse(yaml: Cities.handoff))
        defer { engine.stop() }
        let client = try MajordomoClient(context: try Context(), endpoint: try #require(engine.endpoint))
        defer { client.close() }
        let id = try #require(jsonObject(try client.request("sb.ingest", body: [envelope("err-1")])?.body)["id"] as? String)

        let noAgent = try agent(client, "sb.agent.claim", ["department": "front-office"])
        #expect((noAgent["error"] as? [String: Any])?["code"] as? String == "missing_field")
        let wrongTeam = try agent(client, "sb.agent.claim", ["agent": "ana", "department": "roads", "id": id])
        #expect((wrongTeam["error"] as? [String: Any])?["code"] as? String == "wrong_department")
        let notClaimed = try agent(client, "sb.agent.close", ["agent": "ana", "department": "front-office", "id": id, "resolution": "spam"])
        let error = try #require(notClaimed["error"] as? [String: Any])
        #expect(error["code"] as? String == "invalid_transition")
        #expect(error["state"] as? String == "queued")
        // Only the moves this agent may make: never the broker's own (deliver, park).
        #expect(error["allowed"] as? [String] == ["claim", "handoff"])
        _ = try agent(client, "sb.agent.claim", ["agent": "ana", "department": "front-office", "id": id])
        let unofficial = try agent(client, "sb.agent.reply", ["agent": "ana", "department": "front-office", "id": id, "text": "hi", "account": "@FakeCityHall"])
        #expect((unofficial["error"] as? [String: Any])?["code"] as? String == "unofficial_account")
        let empty = try agent(client, "sb.agent.claim", ["agent": "ana", "department": "parks"])
        #expect((empty["error"] as? [String: Any])?["code"] as? String == "queue_empty")

        // Requests are read by the envelope's strict parser: what one broker accepts,
        // any tool reading the spec accepts too.
        let trailingComma = Frame(#"{"agent":"ana","department":"front-office","id":"\#(id)",}"#)
        let utf16 = Frame(bytes: Data(#"{"agent":"ana","department":"front-office"}"#.utf16.flatMap { [UInt8($0 & 0xFF), UInt8($0 >> 8)] }))
        let repeated = Frame(#"{"agent":"ana","agent":"bob","department":"front-office"}"#)
        for body in [trailingComma, utf16, repeated] {
            let refused = jsonObject(try client.request("sb.agent.list", body: [body])?.body)
            #expect((refused["error"] as? [String: Any])?["code"] as? String == "invalid_json", "\(refused)")
        }
        let badLimit = try agent(client, "sb.agent.list", ["agent": "ana", "department": "front-office", "limit": "2"])
        #expect(badLimit["status"] as? String == "ok", "a limit that is not a number is left at its default")
    }
}
