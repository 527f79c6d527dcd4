import Foundation
import Hummingbird
import Logging
import Prometheus
import Synchronization
import SwitchboardBroker

/// The operations endpoint: Prometheus `/metrics`, typed `/stats`, `/healthz`, `/readyz`
/// and a status page for people at `/`. It only reads the engine's latest snapshot
/// (``StatsBoard``): no request ever waits on the engine.
public struct OpsEndpoint: Sendable {
    public let board: StatsBoard
    /// A snapshot older than this means the engine loop is stuck.
    public let staleAfter: TimeInterval
    private let metrics = MetricsMirror()

    public init(board: StatsBoard, staleAfter: TimeInterval = 5) {
        self.board = board
        self.staleAfter = staleAfter
    }

    /// The HTTP application, listening on `host:port` (port 0 picks a free one, reported
    /// through `onRunning`).
    public func application(host: String, port: Int, logger: Logger, onRunning: @escaping @Sendable (Int) async -> Void = { _ in }) -> some ApplicationProtocol {
        let router = Router()
        router.get("metrics") { _, _ -> Response in
            guard let stats = board.current else { return Self.text(.serviceUnavailable, "not ready\n") }
            return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                            body: .init(byteBuffer: ByteBuffer(bytes: metrics.render(stats))))
        }
        router.get("stats") { _, _ -> Response in
            guard let stats = board.current else { return Self.text(.serviceUnavailable, "not ready\n") }
            let encoder = JSONEncoder()
            encoder.keyEncodingStrategy = .convertToSnakeCase
            encoder.dateEncodingStrategy = .iso8601
            encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
            let data = (try? encoder.encode(stats)) ?? Data("{}".utf8)
            return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
        }
        router.get("healthz") { _, _ -> Response in
            let problems = health(board.current, now: Date())
            return problems.isEmpty ? Self.text(.ok, "ok\n") : Self.text(.serviceUnavailable, problems.joined(separator: "\n") + "\n")
        }
        router.get("readyz") { _, _ -> Response in
            board.current?.ready == true ? Self.text(.ok, "ready\n") : Self.text(.serviceUnavailable, "not ready: the broker has not restored its queues\n")
        }
        router.get("/") { _, _ -> Response in
            Response(status: .ok, headers: [.contentType: "text/html; charset=utf-8"],
                     body: .init(byteBuffer: ByteBuffer(string: StatusPage.html(board.current, now: Date()))))
        }
        return Application(
            router: router,
            configuration: .init(address: .hostname(host, port: port), serverName: "switchboardd"),
            onServerRunning: { channel in await onRunning(channel.localAddress?.port ?? port) },
            logger: logger
        )
    }

    /// What is wrong, for `/healthz`: empty when healthy.
    public func health(_ stats: BrokerStats?, now: Date) -> [String] {
        guard let stats else { return ["the engine has published no statistics yet"] }
        var problems: [String] = []
        let age = now.timeIntervalSince(stats.engineTurnedAt)
        if age > staleAfter { problems.append("the engine loop has not turned for \(Int(age)) s") }
        if !stats.store.writable { problems.append("the store is not writable: \(stats.store.lastError ?? "commit failed")") }
        return problems
    }

    static func text(_ status: HTTPResponse.Status, _ body: String) -> Response {
        Response(status: status, headers: [.contentType: "text/plain; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: body)))
    }
}

/// The snapshot as Prometheus series, through swift-prometheus's registry. Totals the
/// broker counts are mirrored into counters by their increase since the last scrape.
final class MetricsMirror: Sendable {
    private let registry = PrometheusCollectorRegistry()
    private let seen = Mutex<[String: Double]>([:])

    func render(_ stats: BrokerStats) -> [UInt8] {
        gauge("switchboard_up", "1 while the broker runs.", [], 1)
        gauge("switchboard_uptime_seconds", "Seconds since the broker started.", [], stats.at.timeIntervalSince(stats.startedAt))
        gauge("switchboard_ready", "1 once configuration, sockets and queues are ready.", [], stats.ready ? 1 : 0)
        gauge("switchboard_store_writable", "1 while commits succeed.", [], stats.store.writable ? 1 : 0)
        gauge("switchboard_store_pending_batches", "Sealed batches waiting for the store writer.", [], Double(stats.store.pendingBatches))
        counter("switchboard_store_commits_total", "Batches committed.", [], Double(stats.store.commits))
        counter("switchboard_store_committed_rows_total", "Rows committed.", [], Double(stats.store.committedRows))
        counter("switchboard_store_commit_seconds_total", "Seconds spent committing.", [], stats.store.commitSeconds)
        counter("switchboard_ingested_total", "Envelopes ingested, by outcome.", [("outcome", "accepted")], Double(stats.ingest.accepted))
        counter("switchboard_ingested_total", "Envelopes ingested, by outcome.", [("outcome", "duplicate")], Double(stats.ingest.duplicate))
        counter("switchboard_ingested_total", "Envelopes ingested, by outcome.", [("outcome", "threaded")], Double(stats.ingest.threaded))
        for (code, count) in stats.ingest.rejected {
            counter("switchboard_ingest_rejected_total", "Envelopes rejected, by error code.", [("code", code)], Double(count))
        }
        counter("switchboard_unofficial_channel_total", "Inquiries through accounts that are not active official ones.", [], Double(stats.ingest.unofficialChannel))
        for department in stats.departments {
            let labels = [("department", department.id)]
            gauge("switchboard_department_ready", "Inquiries waiting in the department's queue.", labels, Double(department.ready))
            gauge("switchboard_department_in_flight", "Inquiries held by the department's workers.", labels, Double(department.inFlight))
            gauge("switchboard_department_workers", "Workers connected for the department.", labels, Double(department.workers))
            gauge("switchboard_department_worker_credit", "Requests the department's workers may hold at once.", labels, Double(department.credit))
        }
        gauge("switchboard_connections", "Connections open.", [], Double(stats.connections.open))
        counter("switchboard_connections_cut_total", "Connections closed for a limit or for silence.", [], Double(stats.connections.cut))
        for (role, count) in stats.connections.denials {
            counter("switchboard_denials_total", "Requests refused by the access rules, by role.", [("role", role)], Double(count))
        }
        counter("switchboard_warnings_held_back_total", "Warnings about peers not written (rate limit).", [], Double(stats.connections.warningsHeldBack))
        counter("switchboard_events_dropped_total", "Events the stream could not queue for a slow subscriber.", [], Double(stats.eventsDropped))
        return registry.emitToBuffer()
    }

    private func gauge(_ name: String, _ help: String, _ labels: [(String, String)], _ value: Double) {
        registry.makeGauge(name: name, labels: labels, help: help).set(to: value)
    }

    private func counter(_ name: String, _ help: String, _ labels: [(String, String)], _ total: Double) {
        let key = name + labels.map { "\u{1F}\($0.0)=\($0.1)" }.joined()
        let increase = seen.withLock { seen -> Double in
            let previous = seen[key] ?? 0
            seen[key] = max(previous, total)
            return max(0, total - previous)
        }
        let counter = registry.makeCounter(name: name, labels: labels, help: help)
        if increase > 0 { counter.increment(by: increase) }
    }
}

/// The status page: server-rendered, no script, refreshes itself, readable on a phone;
/// departments in trouble first.
enum StatusPage {
    static func html(_ stats: BrokerStats?, now: Date) -> String {
        guard let stats else {
            return page("<p class=bad>The broker has not published statistics yet.</p>")
        }
        let trouble: (BrokerStats.Department) -> Int = { department in
            (department.workers == 0 && department.ready > 0 ? 2 : 0) + (department.ready > 100 ? 1 : 0)
        }
        let departments = stats.departments.sorted { (trouble($0), $0.ready) > (trouble($1), $1.ready) }
        var rows = ""
        for department in departments {
            let status = trouble(department) >= 2 ? "<td class=bad>no worker</td>" : (trouble(department) == 1 ? "<td class=warn>backlog</td>" : "<td class=ok>ok</td>")
            rows += "<tr><td>\(escape(department.name)) <small>\(escape(department.id))</small></td><td>\(department.ready)</td>"
                + "<td>\(department.inFlight)</td><td>\(department.workers)</td>\(status)</tr>"
        }
        let health = stats.store.writable ? "<span class=ok>store writable</span>" : "<span class=bad>store NOT writable</span>"
        let body = """
            <p>\(health) · up \(Int(stats.at.timeIntervalSince(stats.startedAt)))s · ingested \(stats.ingest.accepted) accepted, \
            \(stats.ingest.duplicate) duplicate, \(stats.ingest.rejected.values.reduce(0, +)) rejected · \
            \(stats.ingest.unofficialChannel) through unofficial channels</p>
            <table><thead><tr><th>Department</th><th>Waiting</th><th>With workers</th><th>Workers</th><th>State</th></tr></thead>
            <tbody>\(rows)</tbody></table>
            """
        return page(body)
    }

    static func page(_ body: String) -> String {
        """
        <!doctype html><html lang=en><head><meta charset=utf-8>
        <meta name=viewport content="width=device-width, initial-scale=1"><meta http-equiv=refresh content=5>
        <title>Switchboard status</title>
        <style>body{font:16px system-ui,sans-serif;margin:1em}table{border-collapse:collapse;width:100%}
        td,th{padding:.4em;border-bottom:1px solid #ccc;text-align:left}.ok{color:#060}.warn{color:#a60}.bad{color:#b00;font-weight:bold}
        small{color:#666}</style></head><body><h1>Switchboard</h1>\(body)</body></html>
        """
    }

    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
    }
}
