import DaemonHarness
import Foundation
import GRDB
import Majordomo
import SwitchboardCore
import SwitchboardOps
import SwitchboardStore
import Testing
import TestSupport
import ZeroMQ
@testable import SwitchboardBroker

/// The operations endpoint as an operator meets it: a spawned `switchboardd` serving
/// HTTP, read with plain blocking sockets (no shared thread pool to wait on).
@Suite(.serialized) struct OpsEndpointTests {
    /// A port the kernel says is free now.
    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        return Int(UInt16(bigEndian: address.sin_port))
    }

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
        _ = try client.request("sb.ingest", body: ["{not json"])
        var metrics = ""
        try waitUntil("the metrics count the ingests") {
            metrics = Self.get(port, "/metrics")?.body ?? ""
            return metrics.contains(#"switchboard_ingested_total{outcome="accepted"} 2"#)
        }
        #expect(metrics.contains(#"switchboard_ingest_rejected_total{code="invalid_json"} 1"#))
        #expect(metrics.contains(#"switchboard_department_ready{department="waste"} 2"#))
        #expect(metrics.contains("# TYPE switchboard_ingested_total counter"))
        #expect(!metrics.contains("ops-1"), "labels never carry ids")

        let stats = try #require(Self.get(port, "/stats"))
        let document = try #require(try JSONSerialization.jsonObject(with: Data(stats.body.utf8)) as? [String: Any])
        #expect((document["ingest"] as? [String: Any])?["accepted"] as? Int == 2)
        #expect((document["departments"] as? [[String: Any]])?.contains { $0["id"] as? String == "waste" && $0["ready"] as? Int == 2 } == true)
        #expect(Self.get(port, "/readyz")?.status == 200)
        #expect(Self.get(port, "/healthz")?.status == 200)
        let page = try #require(Self.get(port, "/"))
        #expect(page.body.contains("Waste and recycling"))
        #expect(page.body.contains("no worker"), "a department with waiting inquiries and no worker is flagged")

        // The same figures from the command line.
        let table = try runTool("switchboard", ["stats", "--stats", "http://127.0.0.1:\(port)"])
        #expect(table.status == 0, "\(table.error)")
        #expect(table.output.contains("2 accepted"))
        #expect(table.output.contains("waste"))
        let json = try runTool("switchboard", ["stats", "--json", "--stats", "http://127.0.0.1:\(port)"])
        #expect(json.output.contains(#""accepted" : 2"#))
        let top = try runTool("switchboard", ["top", "--count", "1", "--stats", "http://127.0.0.1:\(port)"])
        #expect(top.output.contains("switchboard top"))
        #expect(try daemon.terminate() == 0)
        let down = try runTool("switchboard", ["stats", "--stats", "http://127.0.0.1:\(port)"])
        #expect(down.status == 3)
        #expect(down.error.contains("is switchboardd running with --stats"))
    }

    /// The engine's snapshot follows a store that stops taking writes, and health says so.
    @Test func healthNamesAFailingStore() throws {
        let data = temporaryDirectory()
        let board = StatsBoard()
        var options = BrokerEngine.Options()
        options.endpoint = "tcp://127.0.0.1:*"
        options.eventsEndpoint = nil
        options.stats = board
        let store = try SQLiteInquiryStore(directory: data)
        let engine = try BrokerEngine(options: options, store: store, logger: CapturedLogs().logger(label: "test.ops"))
        _ = try engine.start()
        defer { engine.stop() }
        let client = try MajordomoClient(context: try Context(), endpoint: try #require(engine.endpoint))
        defer { client.close() }
        let ops = OpsEndpoint(board: board)
        try waitUntil("a first snapshot") { board.current != nil }
        #expect(ops.health(board.current, now: Date()).isEmpty)
        try store.database.writeWithoutTransaction { db in
            let pages = try Int.fetchOne(db, sql: "PRAGMA page_count") ?? 1
            try db.execute(sql: "PRAGMA max_page_count = \(pages)")
        }
        for n in 0..<20 { _ = try client.request("sb.ingest", body: [envelope("full-\(n)", text: String(repeating: "x", count: 4_000))]) }
        try waitUntil("the snapshot sees the failing store") { board.current?.store.writable == false }
        #expect(ops.health(board.current, now: Date()).contains { $0.contains("store is not writable") })
        #expect(ops.health(board.current, now: Date().addingTimeInterval(60)).contains { $0.contains("has not turned") })
        try store.database.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA max_page_count = 1073741823") }
        try waitUntil("the store recovers") { board.current?.store.writable == true }
    }
}
