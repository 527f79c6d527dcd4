import DaemonHarness
import Foundation
import GRDB
import Majordomo
import SwitchboardCore
import SwitchboardOps
import SwitchboardStore
import Synchronization
import Testing
import TestSupport
import ZeroMQ
@testable import SwitchboardBroker

/// The operations endpoint as an operator meets it: a spawned `switchboardd` serving
/// HTTP, read with plain blocking sockets (no shared thread pool to wait on).
@Suite(.serialized) struct OpsEndpointTests {
    /// A port the kernel says is free now.
    static func freePort() throws -> Int { Int(Loopback.freePort()) }

    /// GET over a TCP socket: (status, body), or nil when nothing listens yet.
    static func get(_ port: Int, _ path: String) -> (status: Int, body: String)? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard connected == 0 else { return nil }
        let request = Array("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".utf8)
        _ = request.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
        var response: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            guard count > 0 else { break }
            response.append(contentsOf: buffer.prefix(count))
        }
        let text = String(decoding: response, as: UTF8.self)
        guard let status = text.split(separator: " ").dropFirst().first.flatMap({ Int($0) }),
              let split = text.range(of: "\r\n\r\n") else { return nil }
        return (status, String(text[split.upperBound...]))
    }

    @Test func metricsStatsHealthAndTheStatusPageShowTheBroker() throws {
        let port = try Self.freePort()
        let daemon = try SpawnedDaemon(arguments: ["--stats", "127.0.0.1:\(port)"])
        let client = try MajordomoClient(context: try Context(), endpoint: daemon.endpoint)
        defer { client.close() }
        for n in 1...2 { _ = try client.request("sb.ingest", body: [envelope("ops-\(n)", text: "My bin was not collected")]) }
        _ = try client.request("sb.ingest", body: [envelope("ops-front", text: "Thanks for the great festival")])
        _ = try client.request("sb.ingest", body: ["{not json"])
        var metrics = ""
        try waitUntil("the metrics count the ingests") {
            metrics = Self.get(port, "/metrics")?.body ?? ""
            return metrics.contains(#"switchboard_ingested_total{outcome="accepted"} 3"#)
        }
        #expect(metrics.contains(#"switchboard_ingest_rejected_total{code="invalid_json"} 1"#))
        #expect(metrics.contains(#"switchboard_department_ready{department="waste"} 2"#))
        #expect(metrics.contains("# TYPE switchboard_ingested_total counter"))
        #expect(!metrics.contains("ops-1"), "labels never carry ids")

        let stats = try #require(Self.get(port, "/stats"))
        let document = try #require(try JSONSerialization.jsonObject(with: Data(stats.body.utf8)) as? [String: Any])
        #expect((document["ingest"] as? [String: Any])?["accepted"] as? Int == 3)
        #expect((document["departments"] as? [[String: Any]])?.contains { $0["id"] as? String == "waste" && $0["ready"] as? Int == 2 } == true)
        #expect(Self.get(port, "/readyz")?.status == 200)
        #expect(Self.get(port, "/healthz")?.status == 200)
        let page = try #require(Self.get(port, "/"))
        #expect(page.body.contains("Waste and recycling"))
        #expect(page.body.contains("no worker"), "a department with waiting inquiries and no worker is flagged")
        let frontRow = page.body.components(separatedBy: "<tr").first { $0.contains(#"data-department="front-office""#) } ?? ""
        #expect(frontRow.contains("<td>1</td>"), "one inquiry waits at the front office: \(frontRow)")
        #expect(!frontRow.contains("no worker"), "agents serve the front office: no worker is not a fault there")

        // The same figures from the command line.
        let table = try runTool("switchboard", ["stats", "--stats", "http://127.0.0.1:\(port)"])
        #expect(table.status == 0, "\(table.error)")
        #expect(table.output.contains("3 accepted"))
        #expect(table.output.contains("waste"))
        let json = try runTool("switchboard", ["stats", "--json", "--stats", "http://127.0.0.1:\(port)"])
        #expect(json.output.contains(#""accepted" : 3"#))
        let top = try runTool("switchboard", ["top", "--count", "1", "--stats", "http://127.0.0.1:\(port)"])
        #expect(top.output.contains("switchboard top"))
        #expect(try daemon.terminate() == 0)
        let down = try runTool("switchboard", ["stats", "--stats", "http://127.0.0.1:\(port)"])
        #expect(down.status == 3)
        #expect(down.error.contains("is switchboardd running with --stats"))
    }

    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The value of one series in a scrape, by its exact name and labels.
    static func value(_ metrics: String, _ series: String) -> Double? {
        metrics.split(separator: "\n").first { $0.hasPrefix(series + " ") }.flatMap { Double($0.split(separator: " ").last ?? "") }
    }

    /// Scripted traffic (ingests, deliveries, a handoff by a worker, an SLA breach on a
    /// two-second target) shows in `/metrics` as an operator would read it; the scrape
    /// passes `promtool check metrics`, and exports exactly the metrics the shipped
    /// rules and dashboard are written against (`deploy/prometheus/metrics.txt`).
    @Test func metricsFollowDeliveriesHandoffsAndBreaches() throws {
        let port = try Self.freePort()
        let config = temporaryDirectory() + "/city.yaml"
        let yaml = try String(contentsOf: Self.root.appendingPathComponent("deploy/switchboard.yaml"), encoding: .utf8)
            .replacingOccurrences(of: "normal: { first_response: 1d, resolution: 5d }", with: "normal: { first_response: 2s, resolution: 1h }")
            .replacingOccurrences(of: "escalation: { action: raise_priority }", with: "escalation: { action: none }")
        try yaml.write(toFile: config, atomically: true, encoding: .utf8)
        let daemon = try SpawnedDaemon(arguments: ["--stats", "127.0.0.1:\(port)", "--config", config])
        let client = try MajordomoClient(context: try Context(), endpoint: daemon.endpoint)
        defer { client.close() }
        func ingest(_ n: Int) throws {
            let reply = try client.request("sb.ingest", body: [envelope("metrics-\(n)", text: "My bin was not collected")])
            #expect(reply?.body.first.map { String(decoding: $0.bytes, as: UTF8.self) }?.contains("accepted") == true)
        }
        // The first delivery is handed to roads, the second accepted; then the worker
        // goes, and a third inquiry waits in the queue.
        let answers = Mutex(0)
        let waste = WorkerThread(endpoint: daemon.endpoint, service: "waste") { _ in
            answers.withLock { count -> [Frame] in
                count += 1
                return count == 1 ? [#"{"outcome":"handoff","department":"roads","note":"a street bin"}"#] : ["ok"]
            }
        }
        try ingest(1)
        try ingest(2)
        try waitUntil("the worker answered both") { waste.served.withLock { $0 } == 2 }
        waste.stop()
        try ingest(3)
        var metrics = ""
        do {
            try waitUntil(timeout: .seconds(20), "the metrics show two deliveries, the handoff and a first-response breach") {
                metrics = Self.get(port, "/metrics")?.body ?? ""
                return Self.value(metrics, #"switchboard_delivered_total{department="waste"}"#) == 2
                    && Self.value(metrics, #"switchboard_handoffs_out_total{department="waste",to="roads"}"#) == 1
                    && (Self.value(metrics, #"switchboard_sla_breaches_total{department="waste",clock="first_response",scope="inquiry"}"#) ?? 0) >= 1
                    && Self.value(metrics, "switchboard_retention_last_run_timestamp_seconds") != nil
            }
        } catch {
            let lines = metrics.split(separator: "\n").filter { $0.contains("waste") && !$0.contains("_bucket") }
            Issue.record("\(error); the waste series:\n\(lines.joined(separator: "\n"))")
            throw error
        }
        #expect(Self.value(metrics, #"switchboard_department_ready{department="waste"}"#) == 1)
        #expect(Self.value(metrics, #"switchboard_handoffs_in_total{department="roads",from="waste"}"#) == 1)
        #expect(Self.value(metrics, #"switchboard_department_ready{department="roads"}"#) == 1)
        #expect(Self.value(metrics, #"switchboard_department_accepted{department="waste"}"#) == 1)
        #expect(Self.value(metrics, #"switchboard_leg_seconds_count{department="waste"}"#) == 1, "the leg with waste ended at the handoff")
        #expect(Self.value(metrics, #"switchboard_department_first_response_target_seconds{department="waste"}"#) == 2)
        #expect((Self.value(metrics, #"switchboard_department_oldest_ready_age_seconds{department="roads"}"#) ?? 0) > 0)
        #expect(Self.value(metrics, #"switchboard_sla_breaches_total{department="parks",clock="resolution",scope="department"}"#) == 0,
                "every clock is exported from the start, so increase() sees the first breach")
        #expect((Self.value(metrics, "switchboard_store_commit_seconds_count") ?? 0) >= 1)
        #expect(metrics.contains(#"switchboard_build_info{version="\#(SwitchboardVersion.current)"} 1"#))
        #expect(!metrics.contains("metrics-1"), "labels never carry ids")

        let check = try runInstalled("promtool", ["check", "metrics"], input: metrics)
        #expect(check.status == 0, "promtool check metrics: \(check.output)\(check.error)")

        // Exactly the documented metrics, each with its documented type.
        let listed = try String(contentsOf: Self.root.appendingPathComponent("deploy/prometheus/metrics.txt"), encoding: .utf8)
            .split(separator: "\n").filter { !$0.hasPrefix("#") && !$0.trimmingCharacters(in: .whitespaces).isEmpty }
            .map { $0.split(separator: " ", omittingEmptySubsequences: true).map(String.init).joined(separator: " ") }
        let exported = metrics.split(separator: "\n").filter { $0.hasPrefix("# TYPE ") }.map { String($0.dropFirst("# TYPE ".count)) }
        // A broker on its own exports everything listed but the role of brokers sharing a
        // database (FailoverTests checks those).
        let alone = listed.filter { !$0.hasPrefix("switchboard_ha_") }
        #expect(Set(exported) == Set(alone), "exported but not listed: \(Set(exported).subtracting(alone)); listed but not exported: \(Set(alone).subtracting(exported))")

        let page = try #require(Self.get(port, "/"))
        #expect(page.body.contains("Inquiries breached today"))
        #expect(try daemon.terminate() == 0)
    }

    /// The engine's snapshot follows a journal, then a projection, that stops taking
    /// writes, and health says which and what it means.
    @Test func healthNamesAFailingStore() throws {
        let data = temporaryDirectory()
        let board = StatsBoard()
        var options = BrokerEngine.Options()
        options.endpoint = "tcp://127.0.0.1:*"
        options.eventsEndpoint = nil
        options.stats = board
        let store = try SQLiteInquiryStore(directory: data)
        let journal = try SQLiteInquiryJournal(directory: data)
        let engine = try BrokerEngine(options: options, store: store, journal: journal, logger: CapturedLogs().logger(label: "test.ops"))
        _ = try engine.start()
        defer { engine.stop() }
        let client = try MajordomoClient(context: try Context(), endpoint: try #require(engine.endpoint))
        defer { client.close() }
        let ops = OpsEndpoint(board: board)
        try waitUntil("a first snapshot") { board.current != nil }
        #expect(ops.health(board.current, now: Date()).isEmpty)
        func fill(_ database: any DatabaseWriter) throws {
            try database.writeWithoutTransaction { db in
                let pages = try Int.fetchOne(db, sql: "PRAGMA page_count") ?? 1
                try db.execute(sql: "PRAGMA max_page_count = \(pages)")
            }
        }
        func makeRoom(_ database: any DatabaseWriter) throws {
            try database.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA max_page_count = 1073741823") }
        }
        try journal.database.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA query_only = ON") }
        for n in 0..<20 { _ = try client.request("sb.ingest", body: [envelope("full-\(n)", text: String(repeating: "x", count: 4_000))]) }
        try waitUntil("the snapshot sees the failing store") { board.current?.store.writable == false }
        #expect(ops.health(board.current, now: Date()).contains { $0.contains("store is not writable") })
        #expect(ops.health(board.current, now: Date().addingTimeInterval(60)).contains { $0.contains("has not turned") })
        try journal.database.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA query_only = OFF") }
        try waitUntil("the store recovers") { board.current?.store.writable == true }

        try fill(store.database)
        for n in 0..<20 { _ = try client.request("sb.ingest", body: [envelope("behind-\(n)", text: String(repeating: "y", count: 4_000))]) }
        try waitUntil("the snapshot sees the failing projection") { board.current?.projection.lastError != nil }
        #expect(board.current?.store.writable == true)
        #expect(ops.health(board.current, now: Date()).contains { $0.contains("projection is not writable") })
        try makeRoom(store.database)
        try waitUntil("the projection catches up") {
            board.current.map { $0.projection.lastError == nil && $0.projection.lag == 0 } ?? false
        }
    }
}
