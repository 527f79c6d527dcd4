import Foundation
import Majordomo
import SwitchboardCore
import SwitchboardStore
import Testing
import TestSupport
import ZeroMQ

/// Kills a spawned `switchboardd` with SIGKILL several times while inquiries are
/// ingested and consumed, and checks that nothing acknowledged is lost.
@Suite(.serialized) struct CrashTests {
    static let total = 3_000
    static let kills = 3
    static let window = 64

    @Test func killingTheBrokerMidLoadLosesNoAcceptedInquiry() throws {
        let data = temporaryDirectory()
        let heartbeat = ["--heartbeat-interval", "100ms"]
        var daemon = try SpawnedDaemon(dataDirectory: data, arguments: heartbeat)
        let endpoint = daemon.endpoint

        let log = DeliveryLog()
        let worker = WorkerThread(endpoint: endpoint, service: "waste") { request in
            Delivery(request).map(log.append)
            return ["ok"]
        }
        defer { worker.stop() }

        let client = try MajordomoClient(context: try Context(), endpoint: endpoint)
        defer { client.close() }
        var accepted: [String: String] = [:]            // external id -> inquiry id
        var outstanding: [String: ContinuousClock.Instant] = [:]
        var next = 0
        var killsDone = 0
        var inFlightAtKills = 0
        let deadline = ContinuousClock.now + .seconds(240)

        while accepted.count < Self.total {
            guard ContinuousClock.now < deadline else { throw TestTimeout(what: "all inquiries accepted (\(accepted.count))") }
            // Keep a window of requests outstanding; resend any unanswered for a second,
            // as a gateway would after a broker restart.
            let now = ContinuousClock.now
            for (externalID, sentAt) in outstanding where now - sentAt > .seconds(1) {
                try client.send("sb.ingest", body: [envelope(externalID, text: "bin \(externalID) not collected")])
                outstanding[externalID] = now
            }
            while outstanding.count < Self.window && next < Self.total {
                let externalID = "crash-\(next)"
                try client.send("sb.ingest", body: [envelope(externalID, text: "bin \(externalID) not collected")])
                outstanding[externalID] = now
                next += 1
            }
            while let reply = try client.receive(timeout: .milliseconds(50)) {
                let object = jsonObject(reply.body)
                guard let status = object["status"] as? String, status == "accepted" || status == "duplicate",
                      let externalID = object["external_id"] as? String, let id = object["id"] as? String
                else { Issue.record("unexpected ingest reply \(object)"); continue }
                accepted[externalID] = id
                outstanding[externalID] = nil
            }
            // Crash at evenly spaced points of the load.
            if killsDone < Self.kills && accepted.count >= (killsDone + 1) * Self.total / (Self.kills + 1) {
                try daemon.crash()
                killsDone += 1
                // What was delivered but not durably acknowledged may be delivered again.
                let store = try SQLiteInquiryStore(directory: data)
                let delivered = Set(log.all.map(\.inquiryID))
                let acknowledged = try delivered.filter { try store.record(InquiryID($0)!)?.lifecycle.owner?.kind == .department }
                inFlightAtKills += delivered.count - acknowledged.count
                daemon = try SpawnedDaemon(dataDirectory: data, endpoint: endpoint, arguments: heartbeat)
            }
        }

        let acceptedIDs = Set(accepted.values)
        // An inquiry whose deliveries all went to workers the broker had given up on (a
        // starved CI machine misses 100 ms heartbeats) is parked after its fifth: kept and
        // requeueable, not lost. The wait ends when each is delivered or parked, and on a
        // timeout it says where the missing ones stand.
        let reader = try SQLiteInquiryStore(directory: data)
        var parked: Set<String> = []
        func undelivered() -> Set<String> { acceptedIDs.subtracting(log.all.map(\.inquiryID)).subtracting(parked) }
        do {
            try waitUntil(timeout: .seconds(120), "every accepted inquiry delivered or parked") {
                for id in undelivered() where try reader.record(InquiryID(id)!)?.lifecycle.state == .parked { parked.insert(id) }
                return undelivered().isEmpty
            }
        } catch {
            let missing = undelivered().sorted().prefix(20)
            let states = try missing.map { id in "\(id): \(try reader.record(InquiryID(id)!).map { "\($0.lifecycle.state) deliveries=\($0.deliveries)" } ?? "not in the projection")" }
            Issue.record("\(undelivered().count) accepted inquiries neither delivered nor parked; the first: \(states.joined(separator: "; "))\nbroker log:\n\(daemon.log.suffix(4_000))")
            throw error
        }
        let deliveries = log.all.count
        let unique = Set(log.all.map(\.inquiryID)).count
        let lost = acceptedIDs.subtracting(log.all.map(\.inquiryID)).subtracting(parked).count
        let duplicates = deliveries - unique
        print("crash test: kills=\(killsDone) accepted=\(acceptedIDs.count) delivered=\(unique) deliveries=\(deliveries) duplicates=\(duplicates) in-flight-at-kills=\(inFlightAtKills) parked=\(parked.count) lost=\(lost)")
        #expect(killsDone == Self.kills)
        #expect(acceptedIDs.count == Self.total)
        #expect(lost == 0)
        #expect(duplicates <= inFlightAtKills)
        #expect(try daemon.terminate() == 0)
    }

    /// Agents' moves at full speed, then SIGKILL the moment the last answers arrive: after
    /// the restart every move that was acknowledged is in the inquiry's state and its
    /// timeline, in order, with its note (the journal is replayed into the projection).
    @Test func killingTheBrokerRightAfterAcknowledgedMovesKeepsEveryMove() throws {
        let data = temporaryDirectory()
        var daemon = try SpawnedDaemon(dataDirectory: data)
        let endpoint = daemon.endpoint
        let client = try MajordomoClient(context: try Context(), endpoint: endpoint)
        let count = 150
        // Routed to the front office (no rule matches), where agents claim.
        for n in 0..<count { try client.send("sb.ingest", body: [envelope("moves-\(n)", text: "A question for the city \(n)")]) }
        var ids: [String] = []
        while ids.count < count {
            let reply = jsonObject(try #require(try client.receive(timeout: .seconds(10))).body)
            #expect(reply["department"] as? String == "front-office")
            ids.append(try #require(reply["id"] as? String))
        }
        let send = { (service: String, fields: [String: Any]) throws in try sendAgent(client, service, fields) }
        for id in ids { try send("sb.agent.claim", ["agent": "ana", "department": "front-office", "id": id]) }
        for _ in ids { #expect(jsonObject(try #require(try client.receive(timeout: .seconds(10))).body)["state"] as? String == "in_progress") }
        for id in ids {
            try send("sb.agent.handoff", ["agent": "ana", "department": "front-office", "id": id, "to": "roads", "note": "pothole \(id)"])
        }
        // The handoffs' answers as they come; the broker dies as soon as half are in.
        var handedOff: [String] = []
        while handedOff.count < count / 2 {
            let answer = jsonObject(try #require(try client.receive(timeout: .seconds(10))).body)
            #expect(answer["department"] as? String == "roads")
            handedOff.append(try #require(answer["id"] as? String))
        }
        try daemon.crash()
        client.close()

        daemon = try SpawnedDaemon(dataDirectory: data, endpoint: endpoint)
        let after = try MajordomoClient(context: try Context(), endpoint: endpoint)
        defer { after.close() }
        for id in handedOff {
            let timeline = try agent(after, "sb.agent.timeline", ["agent": "ana", "id": id])["timeline"] as? [[String: Any]] ?? []
            #expect(timeline.compactMap { $0["event"] as? String } == ["inquiry.routed", "inquiry.claimed", "inquiry.handoff"], "inquiry \(id)")
            #expect(timeline.last?["note"] as? String == "pothole \(id)")
            let shown = try agent(after, "sb.agent.show", ["agent": "ana", "id": id])
            #expect(shown["department"] as? String == "roads", "inquiry \(id)")
            #expect(shown["state"] as? String == "queued", "inquiry \(id)")
        }
        // Every inquiry is still there, claimed at least (its claim was acknowledged).
        for id in ids {
            let timeline = try agent(after, "sb.agent.timeline", ["agent": "ana", "id": id])["timeline"] as? [[String: Any]] ?? []
            #expect(timeline.compactMap { $0["event"] as? String }.starts(with: ["inquiry.routed", "inquiry.claimed"]), "inquiry \(id)")
        }
        #expect(try daemon.terminate() == 0)
    }
}
