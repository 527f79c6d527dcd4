import Foundation
import Hummingbird
import Logging
import Prometheus
import SwitchboardCore
import SwitchboardProtocol
import SwitchboardStore
import Synchronization
import SwitchboardBroker

/// The operations endpoint: Prometheus `/metrics`, typed `/stats`, `/healthz`, `/readyz`
/// and a status page for people at `/`, and Open311's read side under `/open311/v2/`.
/// It only reads the engine's latest snapshot (``StatsBoard``) and the store's
/// projection: no request ever waits on the engine.
public struct OpsEndpoint: Sendable {
    public let board: StatsBoard
    /// With several brokers on one PostgreSQL database: this broker's role (9/SB-HA).
    public let roles: RoleBoard?
    /// The projection Open311's request lists are read from; without one, they answer 503.
    public let store: (any InquiryStore)?
    /// A snapshot older than this means the engine loop is stuck.
    public let staleAfter: TimeInterval
    private let metrics = MetricsMirror()
    /// A standby's own series: the active broker's figures it once served must not stay
    /// in its exposition as if current.
    private let standbyMetrics = MetricsMirror()
    /// Open311 is public: a crowd of request lists must not take the store's readers
    /// from the broker's agents. Beyond this many at once, the next is answered 503.
    private let open311Reads = ConcurrencyLimit(2)

    public init(board: StatsBoard, roles: RoleBoard? = nil, store: (any InquiryStore)? = nil, staleAfter: TimeInterval = 5) {
        self.board = board
        self.roles = roles
        self.store = store
        self.staleAfter = staleAfter
    }

    /// The HTTP application, listening on `host:port` (port 0 picks a free one, reported
    /// through `onRunning`).
    public func application(host: String, port: Int, logger: Logger, onRunning: @escaping @Sendable (Int) async -> Void = { _ in }) -> some ApplicationProtocol {
        let router = Router()
        router.get("metrics") { _, _ -> Response in
            let role = roles?.current
            // A standby has no engine: it is scraped for its role alone.
            let stats = role.map { $0.role == .active } ?? true ? board.current : nil
            guard stats != nil || role != nil else { return Self.text(.serviceUnavailable, "not ready\n") }
            return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                            body: .init(byteBuffer: ByteBuffer(bytes: (stats == nil ? standbyMetrics : metrics).render(stats, role: role))))
        }
        router.get("stats") { _, _ -> Response in
            if let role = roles?.current, role.role != .active { return Self.text(.serviceUnavailable, Self.standing(role) + "\n") }
            guard let stats = board.current else { return Self.text(.serviceUnavailable, "not ready\n") }
            let data = (try? BrokerStats.encoder.encode(stats)) ?? Data("{}".utf8)
            return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
        }
        router.get("healthz") { _, _ -> Response in
            // A standby is healthy while it can reach the database to take over.
            if let role = roles?.current, role.role != .active {
                if let error = role.databaseError { return Self.text(.serviceUnavailable, "standby, but the database cannot be reached: \(error)\n") }
                return Self.text(.ok, "ok: \(Self.standing(role))\n")
            }
            let problems = health(board.current, now: Date())
            return problems.isEmpty ? Self.text(.ok, "ok\n") : Self.text(.serviceUnavailable, problems.joined(separator: "\n") + "\n")
        }
        router.get("readyz") { _, _ -> Response in
            // Ready means "send traffic here": only the active broker is.
            if let role = roles?.current, role.role != .active { return Self.text(.serviceUnavailable, "not ready: \(Self.standing(role))\n") }
            return board.current?.ready == true ? Self.text(.ok, "ready\n")
                : Self.text(.serviceUnavailable, "not ready: the broker has not restored its queues\n")
        }
        router.get("/") { _, _ -> Response in
            let role = roles?.current
            let stats = role.map { $0.role == .active } ?? true ? board.current : nil
            return Response(status: .ok, headers: [.contentType: "text/html; charset=utf-8"],
                            body: .init(byteBuffer: ByteBuffer(string: StatusPage.html(stats, history: board.history, role: role, now: Date()))))
        }
        router.get("open311/v2/:resource") { request, context -> Response in
            var parameters: [String: String] = [:]
            for (key, value) in request.uri.queryParameters where parameters[String(key)] == nil { parameters[String(key)] = String(value) }
            return await open311(context.parameters.get("resource") ?? "", query: parameters)
        }
        // Without a format: the routes above do not see it (`requests` is a path of its own).
        router.get("open311/v2/requests") { _, _ -> Response in await open311("requests") }
        router.get("open311/v2/requests/:resource") { _, context -> Response in
            await open311(context.parameters.get("resource") ?? "", one: true)
        }
        return Application(
            router: router,
            configuration: .init(address: .hostname(host, port: port), serverName: "switchboardd"),
            onServerRunning: { channel in await onRunning(channel.localAddress?.port ?? port) },
            logger: logger
        )
    }

    /// Open311 GeoReport v2 (read side): `services`, `requests` and `requests/ID`, each
    /// `.json` or `.xml`. Served by the active broker only, from its configuration and
    /// projection; a problem is answered in the spec's error document.
    private func open311(_ resource: String, query parameters: [String: String] = [:], one: Bool = false) async -> Response {
        guard let (name, format) = GeoReportFormat.split(resource[...]) else {
            return Self.text(.notFound, "not found: GeoReport resources end in .json or .xml, such as /open311/v2/services.json\n")
        }
        func answer(_ status: HTTPResponse.Status, _ body: String) -> Response {
            Response(status: status, headers: [.contentType: format.contentType], body: .init(byteBuffer: ByteBuffer(string: body)))
        }
        func problem(_ problem: GeoReportProblem) -> Response {
            answer(HTTPResponse.Status(code: problem.code), format.errors([GeoReport.error(problem.code, problem.description)]))
        }
        if let role = roles?.current, role.role != .active { return problem(GeoReportProblem(503, Self.standing(role))) }
        guard let configuration = board.configuration else { return problem(GeoReportProblem(503, "the broker is starting; ask again in a moment")) }
        if !one && name == "services" {
            return answer(.ok, format.document(GeoReport.services(configuration), root: "services", element: "service"))
        }
        guard one || name == "requests" else {
            return problem(GeoReportProblem(404, "no resource \(name); there are services, requests and requests/ID"))
        }
        guard let store else { return problem(GeoReportProblem(503, "this endpoint has no store to read requests from")) }
        do throws(GeoReportProblem) {
            let asked = one ? PublicStatusQuery(caseNumbers: [try GeoReportQuery.caseNumber(String(name), configuration)], limit: 1)
                : try GeoReportQuery.read(parameters, configuration: configuration, now: Date())
            guard open311Reads.enter() else { throw GeoReportProblem(503, "the request store is busy with other requests; ask again in a moment") }
            defer { open311Reads.leave() }
            let statuses = try await Self.read(asked, from: store)
            if one && statuses.isEmpty { throw GeoReportProblem(404, "there is no request \(name)") }
            return answer(.ok, format.document(statuses.map { GeoReport.request($0, configuration) }, root: "service_requests", element: "request"))
        } catch {
            return problem(error)
        }
    }

    /// A store read, off the server's threads (the store's calls block).
    private static func read(_ query: PublicStatusQuery, from store: any InquiryStore) async throws(GeoReportProblem) -> [PublicStatus] {
        let result: Result<[PublicStatus], StoreError> = await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                do throws(StoreError) {
                    continuation.resume(returning: .success(try store.publicStatuses(query)))
                } catch {
                    continuation.resume(returning: .failure(error))
                }
            }
        }
        switch result {
        case .success(let statuses): return statuses
        case .failure: throw GeoReportProblem(503, "the request store cannot be read now; ask again in a moment")
        }
    }

    /// What is wrong, for `/healthz`: empty when healthy.
    public func health(_ stats: BrokerStats?, now: Date) -> [String] {
        guard let stats else { return ["the engine has published no statistics yet"] }
        var problems: [String] = []
        let age = now.timeIntervalSince(stats.engineTurnedAt)
        if age > staleAfter { problems.append("the engine loop has not turned for \(Int(age)) s") }
        if !stats.store.writable { problems.append("the store is not writable: \(stats.store.lastError ?? "commit failed")") }
        if let error = stats.projection.lastError {
            problems.append("the projection is not writable, so listings fall \(stats.projection.lag) batches behind (nothing is lost; "
                            + "acknowledgements go on): \(error)")
        }
        return problems
    }

    /// A standby's one line: what it is and who serves.
    static func standing(_ role: RoleBoard.Status) -> String {
        "\(role.name) is a standby; the active broker is \(role.activeHolder ?? "not known yet (no broker holds the lease)")"
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

    func render(_ stats: BrokerStats?, role: RoleBoard.Status?) -> [UInt8] {
        gauge("switchboard_up", "1 while the broker runs.", [], 1)
        if let role {
            gauge("switchboard_ha_active", "1 while this broker holds the lease and serves; 0 while it stands by.", [], role.role == .active ? 1 : 0)
            gauge("switchboard_ha_lease_epoch", "The epoch of the lease this broker serves under (0 on a standby).", [], Double(role.epoch ?? 0))
            gauge("switchboard_ha_lease_remaining_seconds", "Seconds before this broker stops acknowledging unless it renews its lease.", [],
                  role.leaseRemaining(at: .now))
            counter("switchboard_ha_takeovers_total", "Times this broker took the lease and became the active one.", [], Double(role.takeovers))
            gauge("switchboard_ha_takeover_seconds", "How long the last takeover took, from the lease to serving (journal replayed, queues restored).",
                  [], role.lastTakeoverSeconds ?? 0)
            gauge("switchboard_ha_database_reachable", "1 while the lease keeper reaches the database.", [], role.databaseError == nil ? 1 : 0)
        }
        guard let stats else { return registry.emitToBuffer() }
        gauge("switchboard_uptime_seconds", "Seconds since the broker started.", [], stats.at.timeIntervalSince(stats.startedAt))
        gauge("switchboard_build_info", "Always 1; the version is the label.", [("version", stats.build.version)], 1)
        gauge("switchboard_ready", "1 once configuration, sockets and queues are ready.", [], stats.ready ? 1 : 0)
        gauge("switchboard_store_writable", "1 while commits succeed.", [], stats.store.writable ? 1 : 0)
        gauge("switchboard_store_pending_batches", "Sealed batches waiting for the store writer.", [], Double(stats.store.pendingBatches))
        counter("switchboard_store_commits_total", "Batches committed.", [], Double(stats.store.commits))
        counter("switchboard_store_committed_rows_total", "Rows committed.", [], Double(stats.store.committedRows))
        gauge("switchboard_projection_lag_batches", "Journal entries not yet in the tables that reads use.", [], Double(stats.projection.lag))
        gauge("switchboard_projection_writable", "1 while projection transactions succeed.", [], stats.projection.lastError == nil ? 1 : 0)
        counter("switchboard_projection_transactions_total", "Projection transactions.", [], Double(stats.projection.transactions))
        counter("switchboard_projection_entries_total", "Journal entries applied to the tables.", [], Double(stats.projection.entries))
        counter("switchboard_projection_seconds_total", "Seconds spent in projection transactions.", [], stats.projection.seconds)
        counter("switchboard_ingested_total", "Envelopes ingested, by outcome.", [("outcome", "accepted")], Double(stats.ingest.accepted))
        counter("switchboard_ingested_total", "Envelopes ingested, by outcome.", [("outcome", "duplicate")], Double(stats.ingest.duplicate))
        counter("switchboard_ingested_total", "Envelopes ingested, by outcome.", [("outcome", "threaded")], Double(stats.ingest.threaded))
        counter("switchboard_ingested_total", "Envelopes ingested, by outcome.", [("outcome", "rejected")],
                Double(stats.ingest.rejected.values.reduce(0, +)))
        for code in Set(ErrorCode.ingest.map(\.rawValue)).union(stats.ingest.rejected.keys).sorted() {
            let count = stats.ingest.rejected[code] ?? 0
            counter("switchboard_ingest_rejected_total", "Envelopes rejected, by error code.", [("code", code)], Double(count))
        }
        for platform in Platform.allCases {
            counter("switchboard_unofficial_channel_total", "Inquiries through accounts that are not active official ones, by platform.",
                    [("platform", platform.rawValue)], Double(stats.ingest.unofficialByPlatform[platform.rawValue] ?? 0))
        }
        counter("switchboard_ingest_answers_held_total", "Ingest answers held back because their department's workers were behind.", [],
                Double(stats.ingest.answersHeld))
        for department in stats.departments {
            let labels = [("department", department.id)]
            gauge("switchboard_department_ready", "Inquiries waiting in the department's queue.", labels, Double(department.ready))
            gauge("switchboard_department_answers_held", "Ingest answers held back until the department's workers catch up.", labels,
                  Double(department.answersHeld))
            gauge("switchboard_department_in_flight", "Inquiries held by the department's workers.", labels, Double(department.inFlight))
            gauge("switchboard_department_workers", "Workers connected for the department.", labels, Double(department.workers))
            gauge("switchboard_department_expects_workers", "1 when worker processes are expected to serve the queue (workers: in the configuration).",
                  labels, department.expectsWorkers ? 1 : 0)
            gauge("switchboard_department_ready_overdue_seconds",
                  "Seconds the most overdue ready inquiry is past its own priority's first-response target; 0 when none is.", labels,
                  department.readyOverdueSeconds)
            gauge("switchboard_department_worker_credit", "Requests the department's workers may hold at once.", labels, Double(department.credit))
            gauge("switchboard_department_held", "Inquiries claimed by contact-centre agents.", labels, Double(department.heldByAgents))
            gauge("switchboard_department_accepted", "Inquiries the department accepted and owns.", labels, Double(department.accepted))
            gauge("switchboard_department_awaiting_citizen", "Inquiries waiting for the citizen's answer.", labels, Double(department.awaitingCitizen))
            gauge("switchboard_department_parked", "Inquiries parked after failed deliveries.", labels, Double(department.parked))
            gauge("switchboard_department_oldest_ready_age_seconds", "Seconds since the longest-waiting ready inquiry arrived.", labels,
                  department.oldestReadyAgeSeconds)
            gauge("switchboard_department_first_response_target_seconds", "First-response target at normal priority.", labels,
                  department.firstResponseTargetSeconds)
            gauge("switchboard_department_resolution_target_seconds", "Resolution target at normal priority.", labels,
                  department.resolutionTargetSeconds)
            counter("switchboard_delivered_total", "Deliveries to department workers.", labels, Double(department.delivered))
            counter("switchboard_redelivered_total", "Deliveries after a worker left without replying.", labels, Double(department.redelivered))
            counter("switchboard_parked_total", "Inquiries parked after failed deliveries.", labels, Double(department.parkedTotal))
            for (from, count) in department.handoffsIn {
                counter("switchboard_handoffs_in_total", "Inquiries handed to this department, by where from.", labels + [("from", from)], Double(count))
            }
            for (to, count) in department.handoffsOut {
                counter("switchboard_handoffs_out_total", "Inquiries this department handed on, by where to.", labels + [("to", to)], Double(count))
            }
            // Every clock and scope from the start, at 0: increase() sees the first alert.
            for clock in ["first_response", "resolution"] {
                for scope in ["department", "inquiry"] {
                    let key = "\(clock)/\(scope)", series = labels + [("clock", clock), ("scope", scope)]
                    counter("switchboard_sla_warnings_total", "SLA warnings (80% of a target), by clock and scope.", series,
                            Double(department.slaWarnings[key] ?? 0))
                    counter("switchboard_sla_breaches_total", "SLA breaches, by clock and scope.", series, Double(department.slaBreaches[key] ?? 0))
                }
            }
        }
        for outbound in stats.outbound {
            let labels = [("platform", outbound.platform)]
            gauge("switchboard_outbound_unsent", "Messages to citizens waiting for the platform's publishing gateway.", labels, Double(outbound.unsent))
            gauge("switchboard_outbound_oldest_unsent_seconds", "Seconds the oldest unsent message to a citizen has waited; 0 with none.",
                  labels, outbound.oldestUnsentSeconds)
            gauge("switchboard_outbound_gateways", "Publishing gateways connected for the platform.", labels, Double(outbound.gateways))
            gauge("switchboard_outbound_accounts_needing_reauthorization",
                  "Official accounts whose token the platform refused, as the gateways report them; their replies wait.",
                  labels, Double(outbound.needingReauthorization.count))
        }
        counter("switchboard_config_reloads_total", "Configuration reloads (SIGHUP), by result: applied, or refused (the running one stayed).",
                [("result", "applied")], Double(stats.reloads.applied))
        counter("switchboard_config_reloads_total", "Configuration reloads (SIGHUP), by result: applied, or refused (the running one stayed).",
                [("result", "refused")], Double(stats.reloads.refused))
        gauge("switchboard_config_last_reload_timestamp_seconds", "When a reloaded configuration was last applied (Unix time; 0 before the first).",
              [], stats.reloads.lastAppliedAt?.timeIntervalSince1970 ?? 0)
        gauge("switchboard_connections", "Connections open.", [], Double(stats.connections.open))
        counter("switchboard_connections_cut_total", "Connections closed for a limit or for silence.", [], Double(stats.connections.cut))
        for role in Set(Role.names).union(stats.connections.denials.keys).sorted() {
            let count = stats.connections.denials[role] ?? 0
            counter("switchboard_denials_total", "Requests refused by the access rules, by role.", [("role", role)], Double(count))
        }
        counter("switchboard_warnings_held_back_total", "Warnings about peers not written (rate limit).", [], Double(stats.connections.warningsHeldBack))
        counter("switchboard_events_dropped_total", "Events the stream could not queue for a slow subscriber.", [], Double(stats.eventsDropped))
        for department in stats.departments {
            counter("switchboard_retention_purged_total", "Closed inquiries whose personal data retention removed.", [("department", department.id)],
                    Double(stats.dataProtection.purged[department.id] ?? 0))
        }
        counter("switchboard_erasures_total", "Erasure requests carried out.", [], Double(stats.dataProtection.erasures))
        if let run = stats.dataProtection.lastRetentionRun {
            gauge("switchboard_retention_last_run_timestamp_seconds", "When the last retention run ended (Unix time).", [], run.timeIntervalSince1970)
        }
        var text = registry.emitToBuffer()
        var histograms = HistogramExposition()
        histograms.add("switchboard_first_response_seconds", "Seconds from arrival to the first response (SLA clock time).",
                       stats.departments.map { ([("department", $0.id)], $0.firstResponse) })
        histograms.add("switchboard_resolution_seconds", "Seconds from arrival to closing (SLA clock time).",
                       stats.departments.map { ([("department", $0.id)], $0.resolution) })
        histograms.add("switchboard_leg_seconds", "Seconds an inquiry spent with one department before a handoff or the close.",
                       stats.departments.map { ([("department", $0.id)], $0.leg) })
        histograms.add("switchboard_store_commit_seconds", "Seconds each group commit took, fsync included.", [([], stats.store.commitLatency)])
        histograms.add("switchboard_store_batch_rows", "Rows written by each group commit.", [([], stats.store.batchRows)])
        histograms.add("switchboard_engine_turn_seconds", "Seconds one busy turn of the engine loop took.", [([], stats.engineTurnSeconds)])
        text += histograms.text
        return text
    }


    private func gauge(_ name: String, _ help: String, _ labels: [(String, String)], _ value: Double) {
        registry.makeGauge(descriptor: MetricNameDescriptor(metricName: name, unitName: "", helpText: help), labels: labels).set(to: value)
    }

    private func counter(_ name: String, _ help: String, _ labels: [(String, String)], _ total: Double) {
        let key = name + labels.map { "\u{1F}\($0.0)=\($0.1)" }.joined()
        let increase = seen.withLock { seen -> Double in
            let previous = seen[key] ?? 0
            seen[key] = max(previous, total)
            return max(0, total - previous)
        }
        let counter = registry.makeCounter(descriptor: MetricNameDescriptor(metricName: name, unitName: "", helpText: help), labels: labels)
        if increase > 0 { counter.increment(by: increase) }
    }
}

/// Histograms in the Prometheus text format, written from the snapshot's buckets: the
/// engine counts observations itself, so that nothing on the HTTP side is ever on its
/// path, and a histogram's buckets cannot be mirrored into swift-prometheus's own.
struct HistogramExposition {
    private(set) var text: [UInt8] = []

    mutating func add(_ name: String, _ help: String, _ series: [([(String, String)], BucketHistogram)]) {
        var lines = "# HELP \(name) \(help)\n# TYPE \(name) histogram\n"
        for (labels, histogram) in series {
            let base = labels.map { "\($0.0)=\"\(Self.escape($0.1))\"" }
            for (bound, count) in zip(histogram.bounds, histogram.cumulative) {
                lines += "\(name)_bucket{\((base + ["le=\"\(Self.number(bound))\""]).joined(separator: ","))} \(count)\n"
            }
            lines += "\(name)_bucket{\((base + [#"le="+Inf""#]).joined(separator: ","))} \(histogram.count)\n"
            let suffix = base.isEmpty ? "" : "{\(base.joined(separator: ","))}"
            lines += "\(name)_sum\(suffix) \(Self.number(histogram.sum))\n\(name)_count\(suffix) \(histogram.count)\n"
        }
        text += Array(lines.utf8)
    }

    static func number(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int(value)) : String(value)
    }

    static func escape(_ value: String) -> String {
        value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"").replacingOccurrences(of: "\n", with: "\\n")
    }
}

/// At most `limit` of something at once, across threads: ``enter()`` says whether one
/// more may start; each that did calls ``leave()``.
final class ConcurrencyLimit: Sendable {
    private let running = Atomic<Int>(0)
    let limit: Int

    init(_ limit: Int) { self.limit = limit }

    func enter() -> Bool {
        if running.wrappingAdd(1, ordering: .acquiringAndReleasing).newValue <= limit { return true }
        running.wrappingSubtract(1, ordering: .acquiringAndReleasing)
        return false
    }

    func leave() { running.wrappingSubtract(1, ordering: .acquiringAndReleasing) }
}
