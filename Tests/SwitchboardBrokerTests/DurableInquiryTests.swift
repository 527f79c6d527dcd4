import Foundation
import Majordomo
import Synchronization
import SwitchboardCore
import SwitchboardStore
import Testing
import TestSupport
import ZeroMQ
@testable import SwitchboardBroker

/// Ingest, routing, durable delivery, redelivery, parking and deduplication, through a
/// real engine, real sockets and a real SQLite file.
@Suite(.serialized) struct DurableInquiryTests {
    /// A broker on a fresh data directory, the store its projection is written to, and a client.
    func brokerWithItsStore() throws -> (SQLiteInquiryStore, BrokerEngine, MajordomoClient) {
        let data = temporaryDirectory()
        let store = try SQLiteInquiryStore(directory: data)
        let engine = try startEngine(dataDirectory: data, store: store)
        return (store, engine, try MajordomoClient(context: try Context(), endpoint: try #require(engine.endpoint)))
    }

    @Test func ingestedInquiryIsRoutedDeliveredAndAcknowledged() throws {
        let data = temporaryDirectory()
        let engine = try startEngine(dataDirectory: data)
        defer { engine.stop() }
        let endpoint = try #require(engine.endpoint)
        let client = try MajordomoClient(context: try Context(), endpoint: endpoint)
        defer { client.close() }

        let reply = jsonObject(try client.request("sb.ingest", body: [envelope("post-1", text: "My bin was not collected")])?.body)
        #expect(reply["status"] as? String == "accepted")
        #expect(reply["department"] as? String == "waste")
        #expect(reply["priority"] as? String == "normal")
        let id = try #require(reply["id"] as? String)

        let log = DeliveryLog()
        let worker = WorkerThread(endpoint: endpoint, service: "waste") { request in
            Delivery(request).map(log.append)
            return ["done"]
        }
        defer { worker.stop() }
        try waitUntil("delivery") { !log.all.isEmpty }
        #expect(log.all.first?.inquiryID == id)
        #expect(log.all.first?.count == 1)
        #expect(log.all.first?.text == "My bin was not collected")

        let store = try SQLiteInquiryStore(directory: data)
        try waitUntil("acknowledged") { try store.record(InquiryID(id)!)?.lifecycle.owner?.kind == .department }
    }

    @Test func badInputIsRejectedWithACodeAndNothingIsStored() throws {
        let data = temporaryDirectory()
        let engine = try startEngine(dataDirectory: data)
        defer { engine.stop() }
        let client = try MajordomoClient(context: try Context(), endpoint: try #require(engine.endpoint))
        defer { client.close() }

        let cases: [([Frame], String, String?)] = [
            (["{not json"], "invalid_json", nil),
            ([envelope("p", platform: "tiktok")], "unknown_platform", "source.platform"),
            ([Frame(#"{"source":{"platform":"x","account":"a","external_id":"1"},"text":"t","captured_at":"2026-11-22T09:30:00Z"}"#)], "missing_field", "author"),
            ([envelope("p", text: String(repeating: "a", count: 6_000))], "text_too_long", "text"),
            ([envelope("a"), envelope("b")], "invalid_json", nil),
        ]
        for (body, code, field) in cases {
            let reply = jsonObject(try client.request("sb.ingest", body: body)?.body)
            #expect(reply["status"] as? String == "rejected")
            let error = reply["error"] as? [String: Any]
            #expect(error?["code"] as? String == code)
            #expect(error?["field"] as? String == field)
            #expect((error?["message"] as? String)?.isEmpty == false)
        }
        #expect(try SQLiteInquiryStore(directory: data).list(InquiryFilter()).total == 0)
    }

    @Test func duplicatesInOneBatchAndAfterARestartGetTheFirstID() throws {
        let data = temporaryDirectory()
        var engine = try startEngine(dataDirectory: data)
        let endpoint = try #require(engine.endpoint)
        var client = try MajordomoClient(context: try Context(), endpoint: endpoint)

        // Both copies go out before either reply, so they land in the same loop turn.
        try client.send("sb.ingest", body: [envelope("same-post")])
        try client.send("sb.ingest", body: [envelope("same-post")])
        let replies = try (0..<2).map { _ in jsonObject(try #require(try client.receive(timeout: .seconds(5))).body) }
        let statuses = replies.compactMap { $0["status"] as? String }.sorted()
        #expect(statuses == ["accepted", "duplicate"])
        let ids = Set(replies.compactMap { $0["id"] as? String })
        #expect(ids.count == 1)
        let duplicate = try #require(replies.first { $0["status"] as? String == "duplicate" })
        #expect(duplicate["duplicate_of"] as? String == ids.first)
        client.close()
        engine.stop()

        engine = try startEngine(dataDirectory: data, endpoint: endpoint)
        defer { engine.stop() }
        client = try MajordomoClient(context: try Context(), endpoint: endpoint)
        defer { client.close() }
        let after = jsonObject(try client.request("sb.ingest", body: [envelope("same-post")])?.body)
        #expect(after["status"] as? String == "duplicate")
        #expect(after["duplicate_of"] as? String == ids.first)
        #expect(after["department"] as? String == "waste")
        #expect(try SQLiteInquiryStore(directory: data).restorable().queue.count == 1)
    }

    /// A broker stopped gracefully projects everything it appended before it ends: the
    /// tables alone (no replay) hold every acknowledged inquiry.
    @Test func aGracefulStopLeavesTheProjectionWhole() throws {
        let data = temporaryDirectory()
        let engine = try startEngine(dataDirectory: data)
        let client = try MajordomoClient(context: try Context(), endpoint: try #require(engine.endpoint))
        for index in 0..<20 {
            try client.send("sb.ingest", body: [envelope("whole-\(index)")])
        }
        for _ in 0..<20 { #expect(jsonObject(try #require(try client.receive(timeout: .seconds(5))).body)["status"] as? String == "accepted") }
        client.close()
        engine.stop()
        let tables = try SQLiteInquiryStore(path: (data as NSString).appendingPathComponent("inquiries.sqlite"))
        let journal = try SQLiteInquiryJournal(directory: data)
        #expect(try tables.projectedPosition() == journal.lastPosition())
        #expect(try journal.entries(after: tables.projectedPosition()).isEmpty)
        #expect(try tables.list(InquiryFilter()).total == 20)
    }

    /// Moves on an inquiry the engine no longer holds (at rest, and in the projection)
    /// are read by the load lane; several sent at once come back in order, each answered.
    @Test func movesOnAnInquiryAtRestAreReadInTheOrderTheyCame() throws {
        let (store, engine, client) = try brokerWithItsStore()
        defer { engine.stop() }
        defer { client.close() }
        let accepted = jsonObject(try client.request("sb.ingest", body: [envelope("rest-1", text: "A question for the city")])?.body)
        let id = try #require(accepted["id"] as? String)
        #expect(try agent(client, "sb.agent.claim", ["agent": "ana", "department": "front-office", "id": id])["state"] as? String == "in_progress")
        // Held by an agent it is at rest: once the projection has the claim, memory lets it go.
        try waitUntil("the claim is in the projection") { try store.record(InquiryID(id)!)?.lifecycle.owner?.id == "ana" }
        let send = { (service: String, fields: [String: Any]) throws in try sendAgent(client, service, fields) }
        try send("sb.agent.release", ["agent": "ana", "department": "front-office", "id": id])
        try send("sb.agent.claim", ["agent": "ben", "department": "front-office", "id": id])
        try send("sb.agent.handoff", ["agent": "ben", "department": "front-office", "id": id, "to": "roads", "note": "for roads"])
        let answers = try (0..<3).map { _ in jsonObject(try #require(try client.receive(timeout: .seconds(5))).body) }
        #expect(answers.map { $0["state"] as? String } == ["queued", "in_progress", "queued"])
        #expect(answers.last?["department"] as? String == "roads")
        let timeline = try agent(client, "sb.agent.timeline", ["agent": "ben", "id": id])["timeline"] as? [[String: Any]] ?? []
        #expect(timeline.compactMap { $0["event"] as? String } == ["inquiry.routed", "inquiry.claimed", "inquiry.released", "inquiry.claimed", "inquiry.handoff"])
    }

    /// A case number is resolved off the engine thread, for moves and reads alike: one
    /// given a moment ago is found, and one never given is refused by name.
    @Test func caseNumbersAreResolvedForMovesAndReads() throws {
        let (_, engine, client) = try brokerWithItsStore()
        defer { engine.stop() }
        defer { client.close() }
        #expect(jsonObject(try client.request("sb.ingest", body: [envelope("case-1", text: "A question for the city")])?.body)["status"] as? String == "accepted")
        let claimed = try agent(client, "sb.agent.claim", ["agent": "ana", "department": "front-office", "id": "R-1"])
        #expect(claimed["state"] as? String == "in_progress", "\(claimed)")
        #expect(try agent(client, "sb.agent.show", ["agent": "ana", "id": "R-1"])["owner"] as? String == "agent ana")
        for service in ["sb.agent.claim", "sb.agent.show"] {
            let refused = try agent(client, service, ["agent": "ana", "department": "front-office", "id": "R-999"])
            let error = refused["error"] as? [String: Any]
            #expect(error?["code"] as? String == "not_found", "\(service): \(refused)")
            #expect((error?["message"] as? String)?.contains("no case R-999") == true, "\(service): \(refused)")
        }
    }

    @Test func restartRestoresTheQueue() throws {
        let data = temporaryDirectory()
        var engine = try startEngine(dataDirectory: data)
        let endpoint = try #require(engine.endpoint)
        let client = try MajordomoClient(context: try Context(), endpoint: endpoint)
        for index in 0..<5 {
            #expect(jsonObject(try client.request("sb.ingest", body: [envelope("bin-\(index)", text: "bin \(index) missed")])?.body)["status"] as? String == "accepted")
        }
        #expect(jsonObject(try client.request("sb.ingest", body: [envelope("urgent", text: "rubbish fire next to the bins", account: "@RivertonWaste")])?.body)["priority"] as? String == "normal")
        client.close()
        engine.stop()

        engine = try startEngine(dataDirectory: data, endpoint: endpoint)
        defer { engine.stop() }
        let log = DeliveryLog()
        let worker = WorkerThread(endpoint: endpoint, service: "waste") { request in
            Delivery(request).map(log.append)
            return []
        }
        defer { worker.stop() }
        try waitUntil("all six delivered") { log.all.count == 6 }
        #expect(log.all.prefix(5).map(\.text) == (0..<5).map { "bin \($0) missed" })
    }

    @Test func urgentInquiriesJumpTheQueue() throws {
        let configuration = try SwitchboardConfiguration.parse(yaml: """
            departments:
              - id: front-office
                accounts: [{ platform: x, handle: "@RivertonCity" }]
              - id: water
            rules:
              - { name: burst, department: water, priority: urgent, match: { keywords: [burst] } }
              - { name: pressure, department: water, priority: low, match: { keywords: [pressure] } }
              - { name: meter, department: water, match: { keywords: [meter] } }
            """)
        let engine = try startEngine(configuration: configuration)
        defer { engine.stop() }
        let endpoint = try #require(engine.endpoint)
        let client = try MajordomoClient(context: try Context(), endpoint: endpoint)
        defer { client.close() }
        let texts = ["low pressure", "meter reading 1", "burst main", "meter reading 2"]
        for (index, text) in texts.enumerated() {
            #expect(jsonObject(try client.request("sb.ingest", body: [envelope("p\(index)", text: text)])?.body)["department"] as? String == "water")
        }
        let log = DeliveryLog()
        let worker = WorkerThread(endpoint: endpoint, service: "water") { request in
            Delivery(request).map(log.append)
            return []
        }
        defer { worker.stop() }
        try waitUntil("all delivered") { log.all.count == 4 }
        #expect(log.all.map(\.text) == ["burst main", "meter reading 1", "meter reading 2", "low pressure"])
    }

    /// A worker that dies holding an inquiry: it is redelivered with the count raised,
    /// parked after the maximum, and an operator can requeue it.
    @Test func redeliveryThenParkingThenRequeue() throws {
        var configuration = SwitchboardConfiguration.demo()
        configuration.maxDeliveries = 2
        let data = temporaryDirectory()
        let logs = CapturedLogs()
        let engine = try startEngine(logs: logs, dataDirectory: data, configuration: configuration)
        defer { engine.stop() }
        let endpoint = try #require(engine.endpoint)
        let client = try MajordomoClient(context: try Context(), endpoint: endpoint)
        defer { client.close() }
        let id = try #require(jsonObject(try client.request("sb.ingest", body: [envelope("doomed", text: "pothole on the road")])?.body)["id"] as? String)

        let log = DeliveryLog()
        for attempt in 1...2 {
            let crashing = WorkerThread(endpoint: endpoint, service: "roads") { request in
                Delivery(request).map(log.append)
                return nil   // die without replying
            }
            try waitUntil("delivery \(attempt)") { log.all.count == attempt }
            crashing.stop()
            #expect(log.all.last?.count == attempt)
        }
        let store = try SQLiteInquiryStore(directory: data)
        try waitUntil("parked") { try store.record(InquiryID(id)!)?.lifecycle.state == .parked }
        #expect(logs.contains("inquiry parked"))

        // A parked inquiry is not handed to the next worker…
        let healthy = WorkerThread(endpoint: endpoint, service: "roads") { request in
            Delivery(request).map(log.append)
            return ["fixed"]
        }
        defer { healthy.stop() }
        try waitUntil("healthy worker registered") { healthy.registered.withLock { $0 } }
        try waitUntil("roads served") { try client.request("mmi.service", body: ["roads"])?.body == ["200"] }
        // One more round trip through the broker after registration: still nothing delivered.
        _ = try client.request("mmi.service", body: ["roads"])
        #expect(log.all.count == 2)

        // …until an operator requeues it, with a fresh count.
        let requeue = jsonObject(try client.request("sb.admin.requeue", body: [Frame(#"{"id":"\#(id)"}"#)])?.body)
        #expect(requeue["status"] as? String == "requeued")
        try waitUntil("redelivered after requeue") { log.all.count == 3 }
        #expect(log.all.last?.count == 1)
        try waitUntil("acknowledged") { try store.record(InquiryID(id)!)?.lifecycle.owner?.kind == .department }

        let again = jsonObject(try client.request("sb.admin.requeue", body: [Frame(#"{"id":"\#(id)"}"#)])?.body)
        #expect(again["status"] as? String == "error")
        #expect((again["error"] as? [String: Any])?["code"] as? String == "not_parked")
    }

    /// A journal that refuses writes (read-only, as SQLite reports it): requests are
    /// answered store_unavailable, nothing unstored is acknowledged, the broker keeps
    /// running, and once it takes writes again every inquiry acknowledged before is
    /// still there and the retried batch went through.
    @Test func aFullJournalLosesNothingAndTheBrokerRecovers() throws {
        let data = temporaryDirectory()
        let store = try SQLiteInquiryStore(directory: data)
        let journal = try SQLiteInquiryJournal(directory: data)
        let engine = try startEngine(dataDirectory: data, store: store, journal: journal)
        defer { engine.stop() }
        let client = try MajordomoClient(context: try Context(), endpoint: try #require(engine.endpoint))
        defer { client.close() }
        func ingest(_ externalID: String) throws -> [String: Any] {
            jsonObject(try client.request("sb.ingest", body: [envelope(externalID, text: String(repeating: "full disk ", count: 400))], timeout: .seconds(5))?.body)
        }
        let first = try ingest("before")
        #expect(first["status"] as? String == "accepted")

        // The journal is trimmed as the projection catches up, so it reuses its pages and
        // a page limit would never fill it: it is made read-only instead.
        try journal.database.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA query_only = ON") }
        var refused: [String] = []
        var acknowledged = [try #require(first["id"] as? String)]
        for n in 0..<40 {
            let answer = try ingest("during-\(n)")
            if answer["status"] as? String == "accepted", let id = answer["id"] as? String {
                acknowledged.append(id)
            } else {
                #expect((answer["error"] as? [String: Any])?["code"] as? String == "store_unavailable")
                refused.append("during-\(n)")
            }
        }
        #expect(!refused.isEmpty, "the read-only journal took writes")

        try journal.database.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA query_only = OFF") }
        // Gateways retry what was refused: each is accepted now, or was stored by the
        // writer's retry and is a duplicate; none is lost.
        for externalID in refused {
            var answer: [String: Any] = [:]
            try waitUntil("\(externalID) stored after the disk has room") {
                answer = try ingest(externalID)
                return answer["status"] as? String == "accepted" || answer["status"] as? String == "duplicate"
            }
            acknowledged.append(try #require(answer["id"] as? String))
        }
        try waitUntil("the projection holds all 41") { try store.list(InquiryFilter()).total == 41 }
        for id in acknowledged {
            #expect(try store.inquiry(try #require(InquiryID(id))) != nil, "acknowledged \(id) is not in the store")
        }
    }

    /// The projection cannot be written (its disk full): acknowledgements go on, since
    /// they wait for the journal only; reads fall behind; once there is room the
    /// projection catches up and holds every acknowledged inquiry, each once.
    @Test func aProjectionThatFallsBehindDelaysNoAcknowledgementAndCatchesUp() throws {
        let (store, engine, client) = try brokerWithItsStore()
        defer { engine.stop() }
        defer { client.close() }
        func ingest(_ externalID: String) throws -> [String: Any] {
            jsonObject(try client.request("sb.ingest", body: [envelope(externalID, text: String(repeating: "projection ", count: 400))], timeout: .seconds(5))?.body)
        }
        #expect(try ingest("before")["status"] as? String == "accepted")
        try waitUntil("the first is projected") { try store.list(InquiryFilter()).total == 1 }

        try store.database.writeWithoutTransaction { db in
            let pages = try Int.fetchOne(db, sql: "PRAGMA page_count") ?? 1
            try db.execute(sql: "PRAGMA max_page_count = \(pages)")
        }
        var acknowledged: [String] = []
        for n in 0..<40 {
            let answer = try ingest("during-\(n)")
            #expect(answer["status"] as? String == "accepted", "refused while only the projection was full: \(answer)")
            if let id = answer["id"] as? String { acknowledged.append(id) }
        }
        #expect(try store.list(InquiryFilter()).total < 41, "the page limit did not hold the projection back")

        try store.database.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA max_page_count = 1073741823") }
        try waitUntil("the projection catches up") { try store.list(InquiryFilter()).total == 41 }
        for id in acknowledged {
            #expect(try store.inquiry(try #require(InquiryID(id))) != nil, "acknowledged \(id) is not in the projection")
        }
    }

    /// An edit of a post whose inquiry the broker no longer holds (closed, then a restart)
    /// is found by the load lane, not a new inquiry, and recorded on the original.
    @Test func anEditOfAnInquiryAtRestChangesIt() throws {
        let data = temporaryDirectory()
        var engine = try startEngine(dataDirectory: data)
        var client = try MajordomoClient(context: try Context(), endpoint: try #require(engine.endpoint))
        let accepted = jsonObject(try client.request("sb.ingest", body: [envelope("post-9", text: "Bins not collected")])?.body)
        let id = try #require(accepted["id"] as? String)
        _ = try agent(client, "sb.agent.claim", ["agent": "ana", "department": "waste", "id": id])
        #expect(try agent(client, "sb.agent.close", ["agent": "ana", "department": "waste", "id": id, "resolution": "answered"])["state"] as? String == "closed")
        client.close()
        engine.stop()

        engine = try startEngine(dataDirectory: data)
        defer { engine.stop() }
        client = try MajordomoClient(context: try Context(), endpoint: try #require(engine.endpoint))
        defer { client.close() }
        let edit = Frame(#"{"source":{"platform":"x","account":"@RivertonCity","external_id":"post-9"},"author":{"handle":"@resident"},"text":"Bins and recycling not collected","captured_at":"2026-11-22T09:40:00Z","change":{"kind":"edited","revision":"2"}}"#)
        let changed = jsonObject(try client.request("sb.ingest", body: [edit])?.body)
        #expect(changed["status"] as? String == "accepted" && changed["change_of"] as? String == id, "\(changed)")
        let timeline = try agent(client, "sb.agent.timeline", ["agent": "ana", "department": "waste", "id": id])
        let events = (timeline["timeline"] as? [[String: Any]])?.compactMap { $0["event"] as? String } ?? []
        #expect(events.suffix(1) == ["inquiry.edited"], "\(events)")
    }
}
