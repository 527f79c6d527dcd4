import ArgumentParser
import Foundation
import Histogram
import Majordomo
import SwitchboardCore
import SwitchboardProtocol
import Synchronization
import ZeroMQ

/// `switchboard-bench`: throughput, latency and memory of a real `switchboardd`,
/// side by side with the ZeroMQ limit measured in the same run.
@main
struct SwitchboardBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "switchboard-bench",
        abstract: "Measure switchboardd against a plain zmq_proxy in the same run. Build with -c release."
    )

    @Option(name: .customShort("c"), help: "Client sockets.") var clients = 16
    @Option(name: .customShort("w"), help: "Worker sockets.") var workers = 8
    @Option(name: .customShort("p"), help: "Requests each client keeps outstanding.") var outstanding = 16
    @Option(name: .customShort("s"), help: "Departments (services) the load is spread over, 1 to 4.") var services = 4
    @Option(help: "Request body size in bytes.") var size = 512
    @Option(help: "Seconds each mode is measured, after one second of warm-up.") var seconds = 5
    @Option(help: "Modes to run, comma-separated: zmq, sqlite, mdp, credit, latency, durable, rabbitmq, gateway, postgres, failover; and, only when named, sustained (the credited durable load held for --seconds, figures each minute).")
    var modes = "zmq,sqlite,mdp,credit,latency,durable,rabbitmq,gateway,postgres,failover"
    @Option(help: "The port of a private PostgreSQL on loopback, superuser postgres, for the postgres and failover modes (make bench starts one with scripts/postgres.sh); without it they are skipped.") var postgresPort: Int?
    @Option(help: "Inquiries waiting when the failover mode kills the active broker (the standby restores them before it serves).") var failoverQueued = 10_000
    @Option(help: "The port of a private RabbitMQ on loopback for the rabbitmq mode (make bench starts one with scripts/rabbitmq.sh); without it the mode is skipped.") var rabbitmqPort: Int?
    @Option(help: "The RabbitMQ load generator, bench/amqp-load.c built by make bench.") var amqpLoad = ".build/amqp-load"
    @Option(help: "Messages each RabbitMQ publisher keeps unconfirmed (its confirm window).") var rabbitmqWindow = 100
    @Option(help: "HTTP connections posting webhooks to switchboard-gateway in the gateway mode's closed loops.") var gatewayConnections = 32
    @Option(help: "The credit credited workers announce in READY (the credit mode).") var credit = 16
    @Option(help: "Also fill one department with this many queued inquiries and measure memory and restart (0 skips).") var depth = 0
    @Option(help: "libzmq I/O threads of the spawned broker.") var brokerIoThreads = 1
    @Option(help: "Also measure on a database already holding this many closed inquiries (0 skips): its size, the restart, and durable ingest on it.") var stored = 0
    @Option(help: "With --stored: this many of them queued (waiting in roads, which then gets no worker) instead, to measure their restore.") var storedQueued = 0
    @Option(help: "With --stored: measure on this database directory, written by an earlier --stored run, instead of writing a new one.") var storedDirectory: String?
    @Option(help: "The durable modes' limits.max_ready_backlog (flow control), instead of the demo city's 10,000 per department.") var maxReadyBacklog: Int?
    @Flag(help: "Print machine-readable JSON instead of a table.") var json = false

    func validate() throws {
        guard (1...4).contains(services) else { throw ValidationError("--services must be 1 to 4 (the demo city's departments used are waste, roads, parks, permits)") }
        guard clients > 0, workers > 0, outstanding > 0, seconds > 0, size >= 8 else { throw ValidationError("counts must be positive and --size at least 8") }
    }

    func run() throws {
        defer { Self.removeScratchDirectories() }
        let wanted = Set(modes.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) })
        var report = Report(clients: clients, workers: workers, outstanding: outstanding, services: services, size: size, seconds: seconds)
        let duration = Duration.seconds(seconds)

        if wanted.contains("zmq") {
            progress("zmq: plain ROUTER/DEALER zmq_proxy with echo workers")
            report.startMode()
            let proxy = try ZeroMQProxy()
            let pool = WorkerPool(endpoint: proxy.backend, count: workers, kind: .echo)
            let result = try LoadGenerator.closedLoop(endpoint: proxy.frontend, clients: clients, outstanding: outstanding,
                                                     duration: duration, warmup: .seconds(1), protocol: EchoProtocol(size: size))
            pool.stop()
            proxy.stop()
            report.add(Row(mode: "zeromq-limit", result: result, rss: nil))
        }

        let departments = Array(IngestProtocol.departments.prefix(services))
        if wanted.contains("mdp") || wanted.contains("latency") {
            let broker = try BrokerProcess(dataDirectory: Self.temporaryDirectory(), extra: ["--io-threads", "\(brokerIoThreads)"])
            defer { broker.stop() }
            let names = (0..<services).map { "bench-\($0)" }
            let pool = WorkerPool(endpoint: broker.endpoint, count: workers, kind: .majordomo(services: names, reply: nil, credit: 1))
            defer { pool.stop() }
            try waitForServices(names, at: broker.endpoint)
            let proto = MDPProtocol(services: names, size: size)
            var passthrough: Double?
            if wanted.contains("mdp") {
                progress("mdp: 7/MDP request/reply through switchboardd, nothing stored")
                report.startMode()
                let result = try LoadGenerator.closedLoop(endpoint: broker.endpoint, clients: clients, outstanding: outstanding,
                                                         duration: duration, warmup: .seconds(1), protocol: proto)
                passthrough = result.throughput
                report.add(Row(mode: "mdp-passthrough", result: result, rss: broker.memory().peak))
            }
            if wanted.contains("latency") {
                let rate = max(100, (passthrough ?? 10_000) / 2)
                progress("latency: open loop at \(Int(rate))/s (half the passthrough maximum)")
                report.startMode()
                let result = try LoadGenerator.openLoop(endpoint: broker.endpoint, clients: clients, rate: rate, duration: duration, protocol: proto)
                report.add(Row(mode: "mdp-open-loop@\(Int(rate))", result: result, rss: broker.memory().peak))
            }
        }

        if wanted.contains("credit") {
            progress("credit: 7/MDP request/reply with workers announcing a credit of \(credit)")
            let broker = try BrokerProcess(dataDirectory: Self.temporaryDirectory(), extra: ["--io-threads", "\(brokerIoThreads)"])
            defer { broker.stop() }
            let names = (0..<services).map { "bench-\($0)" }
            let pool = WorkerPool(endpoint: broker.endpoint, count: workers, kind: .majordomo(services: names, reply: nil, credit: credit))
            defer { pool.stop() }
            try waitForServices(names, at: broker.endpoint)
            report.startMode()
            let result = try LoadGenerator.closedLoop(endpoint: broker.endpoint, clients: clients, outstanding: outstanding,
                                                     duration: duration, warmup: .seconds(1), protocol: MDPProtocol(services: names, size: size))
            report.add(Row(mode: "mdp-credit-\(credit)", result: result, rss: broker.memory().peak))
        }

        if wanted.contains("sqlite") {
            progress("sqlite-limit: batched 512-byte inserts, WAL, synchronous=FULL, on the broker's disk")
            report.sqliteLimit = try SQLiteLimit.measure(directory: Self.temporaryDirectory(), duration: duration)
        }

        if wanted.contains("durable") {
            // Department workers with a credit (RabbitMQ's prefetch); the same with ingest
            // held to the workers' pace (1,000 ready per department), so that deliveries
            // keep up with acknowledgements; then plain 7/MDP workers.
            let modes: [(name: String, credit: Int, backlog: Int?)] = [
                ("durable-credit-\(credit)", credit, nil), ("durable-steady-\(credit)", credit, Self.steadyBacklog), ("durable-plain", 1, nil),
            ]
            for (name, workerCredit, backlog) in modes {
                progress("\(name): sb.ingest with commit-before-acknowledge, routing, delivery to \(departments.joined(separator: ", ")) workers"
                         + (backlog.map { ", ingest held past \($0) ready per department" } ?? ""))
                let broker = try BrokerProcess(dataDirectory: Self.temporaryDirectory(),
                                               extra: ["--io-threads", "\(brokerIoThreads)"] + (try durableConfiguration(backlog: backlog)))
                defer { broker.stop() }
                let pool = WorkerPool(endpoint: broker.endpoint, count: workers, kind: .majordomo(services: departments, reply: "accepted", credit: workerCredit))
                defer { pool.stop() }
                try waitForServices(departments, at: broker.endpoint)
                report.startMode()
                var deliveredAtStart = 0
                let result = try LoadGenerator.closedLoop(endpoint: broker.endpoint, clients: clients, outstanding: outstanding,
                                                         duration: duration, warmup: .seconds(1), protocol: IngestProtocol(departments: departments.count),
                                                         atMeasureStart: { deliveredAtStart = pool.count })
                let delivered = pool.count - deliveredAtStart
                report.add(Row(mode: name, result: result, rss: broker.memory().peak, durable: true))
                report.delivered.append((name, Double(delivered) / result.seconds, result.completed - delivered))
                if workerCredit > 1, backlog == nil {
                    // Ingest latency when the broker is not saturated: open loop at half
                    // the rate just measured, counted from each request's scheduled time.
                    // The closed loop leaves a backlog; while workers drain it the broker
                    // is at full load, so the open loop starts once it is gone.
                    let rate = max(100, result.throughput / 2)
                    let queued = result.answeredInAll - pool.count
                    if queued > 0 {
                        let drained = try pool.waitUntilHandled(result.answeredInAll, deadline: .seconds(300))
                        progress("  \(queued) queued inquiries delivered before the open loop (\(String(format: "%.1f", drained.seconds)) s)")
                    }
                    progress("durable-open-loop: sb.ingest at \(Int(rate))/s (half the credited durable rate)")
                    report.startMode()
                    let open = try LoadGenerator.openLoop(endpoint: broker.endpoint, clients: clients, rate: rate, duration: duration,
                                                          protocol: IngestProtocol(departments: departments.count, prefix: "o"))
                    report.add(Row(mode: "durable-open-loop@\(Int(rate))", result: open, rss: broker.memory().peak))
                }
            }
        }

        if wanted.contains("sustained") {
            // The credited durable load held for the whole run: does the rate keep up as the
            // store grows, and does memory stay flat?
            progress("sustained: durable-credit-\(credit) held for \(seconds) s, figures each minute")
            let broker = try BrokerProcess(dataDirectory: Self.temporaryDirectory(),
                                           extra: ["--io-threads", "\(brokerIoThreads)"] + (try durableConfiguration()))
            defer { broker.stop() }
            let pool = WorkerPool(endpoint: broker.endpoint, count: workers, kind: .majordomo(services: departments, reply: "accepted", credit: credit))
            defer { pool.stop() }
            try waitForServices(departments, at: broker.endpoint)
            report.startMode()
            var last = (acknowledged: 0, delivered: 0, at: ContinuousClock.now)
            var deliveredAtStart = 0
            var minutes: [Report.SustainedMinute] = []
            _ = try LoadGenerator.closedLoop(
                endpoint: broker.endpoint, clients: clients, outstanding: outstanding, duration: duration, warmup: .seconds(1),
                protocol: IngestProtocol(departments: departments.count), atMeasureStart: {
                    deliveredAtStart = pool.count
                    last = (0, 0, .now)
                }, every: .seconds(60)) { acknowledged in
                    let now = ContinuousClock.now, delivered = pool.count - deliveredAtStart, span = (now - last.at).seconds
                    minutes.append(Report.SustainedMinute(acknowledged: Double(acknowledged - last.acknowledged) / span,
                                                          delivered: Double(delivered - last.delivered) / span, rss: broker.memory().current))
                    progress(String(format: "  minute %d: %.0f acknowledged/s, %.0f delivered/s", minutes.count, minutes.last!.acknowledged, minutes.last!.delivered))
                    last = (acknowledged, delivered, now)
                }
            report.sustained = minutes
        }

        if wanted.contains("postgres") || wanted.contains("failover") {
            if let postgresPort {
                let postgres = PostgresModes(port: postgresPort, bench: self)
                if wanted.contains("postgres") { try postgres.durable(departments: departments, configuration: try durableConfiguration(), report: &report) }
                if wanted.contains("failover") { report.failover = try postgres.failover(queued: failoverQueued) }
            } else {
                progress("postgres, failover: skipped (no --postgres-port; make bench starts a private PostgreSQL)")
            }
        }

        if wanted.contains("rabbitmq") {
            if let rabbitmqPort {
                let peer = RabbitMQPeer(loadGenerator: amqpLoad, port: rabbitmqPort, publishers: clients, consumers: workers, prefetch: credit,
                                        window: rabbitmqWindow, size: size, seconds: seconds)
                for (queues, quorum) in [(1, false), (4, false), (1, true), (4, true)] {
                    progress("rabbitmq-\(queues)\(quorum ? "-quorum" : ""): \(clients) publishers with confirms (window \(rabbitmqWindow)), persistent messages, "
                             + "\(queues) durable \(quorum ? "quorum" : "classic") \(queues == 1 ? "queue" : "queues"), \(workers) consumers with manual "
                             + "acknowledgements and prefetch \(credit)")
                    report.rabbitmq.append(try peer.measure(queues: queues, quorum: quorum))
                }
            } else if modes.contains("rabbitmq") {
                progress("rabbitmq: skipped (no --rabbitmq-port; make bench starts a private RabbitMQ)")
            }
        }

        if wanted.contains("gateway") {
            try measureGateway(departments: departments, report: &report)
        }

        if depth > 0 {
            report.depth = try measureDepth(depth)
        }
        if stored > 0 {
            report.stored = try measureStored(closed: stored, queued: storedQueued, departments: departments)
        }

        if json {
            print(report.json())
        } else {
            print(report.table())
        }
    }

    /// `switchboard-gateway` in front of a broker: the broker's own durable ingest first
    /// (the reference, in this run), then signed Meta webhooks of 1 and of 50 entries
    /// through the gateway, counting entries acknowledged (a 200 means the broker stored
    /// every one), and 1-entry webhooks at half the gateway's rate for the answer's p99.
    func measureGateway(departments: [String], report: inout Report) throws {
        let broker = try BrokerProcess(dataDirectory: Self.temporaryDirectory(), extra: ["--io-threads", "\(brokerIoThreads)"])
        defer { broker.stop() }
        let pool = WorkerPool(endpoint: broker.endpoint, count: workers, kind: .majordomo(services: departments, reply: "accepted", credit: credit))
        defer { pool.stop() }
        try waitForServices(departments, at: broker.endpoint)
        progress("gateway: the broker's own durable ingest (sb.ingest from \(clients) clients), the reference")
        report.startMode()
        let reference = try LoadGenerator.closedLoop(endpoint: broker.endpoint, clients: clients, outstanding: outstanding, duration: .seconds(seconds),
                                                     warmup: .seconds(1), protocol: IngestProtocol(departments: departments.count, prefix: "g"))
        report.add(Row(mode: "gateway-reference", result: reference, rss: broker.memory().peak, durable: true))
        let gateway = try GatewayProcess(brokerEndpoint: broker.endpoint, directory: Self.temporaryDirectory())
        defer { gateway.stop() }
        var figures = Report.GatewayFigures(reference: reference.throughput)
        for entries in [1, 50] {
            let deliveries = WebhookDeliveries(entries: entries, secret: gateway.secret, texts: Array(IngestProtocol.texts.prefix(departments.count)))
            progress("gateway-\(entries): signed Meta webhooks of \(entries) \(entries == 1 ? "entry" : "entries") from \(gatewayConnections) connections")
            report.startMode()
            let result = try GatewayLoad.closedLoop(port: gateway.port, connections: gatewayConnections, deliveries: deliveries,
                                                    duration: .seconds(seconds), warmup: .seconds(1))
            report.add(Row(mode: "gateway-\(entries)x\(gatewayConnections)", result: result, rss: broker.memory().peak))
            figures.rates.append((entries, result.throughput))
            if entries == 1 {
                let rate = max(10, result.throughput / 2)
                progress("gateway-open-loop: 1-entry webhooks at \(Int(rate))/s (half the gateway's rate)")
                report.startMode()
                let open = try GatewayLoad.openLoop(port: gateway.port, connections: max(32, gatewayConnections), rate: rate,
                                                    deliveries: deliveries, duration: .seconds(seconds))
                report.add(Row(mode: "gateway-open@\(Int(rate))", result: open, rss: broker.memory().peak))
                figures.halfLoadP99 = Double(open.histogram.valueAtPercentile(99)) / 1e6
            }
        }
        figures.gatewayPeakRSS = gateway.peakMemory
        report.gateway = figures
    }

    /// Fills one department that has no worker, then measures memory per queued
    /// inquiry and how long a restart takes to restore the backlog.
    func measureDepth(_ total: Int) throws -> DepthResult {
        let data = Self.temporaryDirectory()
        var broker = try BrokerProcess(dataDirectory: data)
        let baseline = broker.memory().current
        progress("depth: queueing \(total) inquiries for roads with no worker")
        let started = ContinuousClock.now
        let accepted = try LoadGenerator.fill(endpoint: broker.endpoint, total: total, clients: clients, outstanding: outstanding) { done in
            progress("  \(done)/\(total) accepted")
        }
        let fillSeconds = (ContinuousClock.now - started).seconds
        let filled = broker.memory()
        let endpoint = broker.endpoint
        broker.stop()
        progress("depth: restarting on the same database")
        let restart = ContinuousClock.now
        broker = try BrokerProcess(dataDirectory: data, endpoint: endpoint)
        try waitForServices([], at: broker.endpoint)
        let restoreSeconds = (ContinuousClock.now - restart).seconds
        let restored = broker.memory()
        broker.stop()
        return DepthResult(
            queued: accepted, fillSeconds: fillSeconds, baselineRSS: baseline, filledRSS: filled.current,
            bytesPerInquiry: Double(filled.current - baseline) / Double(max(1, accepted)),
            restartSeconds: restoreSeconds, restoredRSS: restored.current
        )
    }

    /// Writes a history of `closed` (and `queued`) inquiries through the store, then
    /// measures a broker started on it: restart and restore time, memory, and durable
    /// ingest with credited workers, against the same figures on an empty store.
    func measureStored(closed: Int, queued: Int, departments all: [String]) throws -> StoredResult {
        // The queued history waits in roads: served here, its draining would be measured
        // instead of the ingest.
        let departments = queued > 0 ? all.filter { $0 != StoredHistory.queuedDepartment } : all
        let data: String
        let filled: StoredHistory.Filled
        if let storedDirectory {
            data = storedDirectory
            let size = (try? FileManager.default.attributesOfItem(atPath: data + "/inquiries.sqlite")[.size] as? Int) ?? 0
            filled = StoredHistory.Filled(seconds: 0, bytes: size)
            progress("stored: reusing \(data)")
        } else {
            // Kept: writing a city's history takes long, and --stored-directory reuses it.
            data = Self.temporaryDirectory(keep: true)
            progress("stored: writing \(closed) closed and \(queued) queued inquiries through the store into \(data) (kept for --stored-directory)")
            filled = try StoredHistory.fill(directory: data, closed: closed, queued: queued) { progress("  \($0) written") }
        }
        progress("stored: starting the broker on \(filled.bytes / 1_048_576) MiB")
        let restart = ContinuousClock.now
        let broker = try BrokerProcess(dataDirectory: data, extra: ["--io-threads", "\(brokerIoThreads)"])
        defer { broker.stop() }
        try waitForServices([], at: broker.endpoint)
        let restartSeconds = (ContinuousClock.now - restart).seconds
        let restoredRSS = broker.memory().current
        progress("stored: durable ingest with credited workers on the full store")
        let full = try storedIngest(on: broker, departments: departments)
        broker.stop() // stopping again when this returns changes nothing
        // The same load, departments and arguments on an empty store, in the same run:
        // the ratio the city's history costs.
        progress("stored: the same ingest on an empty store")
        let empty = try BrokerProcess(dataDirectory: Self.temporaryDirectory(), extra: ["--io-threads", "\(brokerIoThreads)"])
        defer { empty.stop() }
        let baseline = try storedIngest(on: empty, departments: departments)
        return StoredResult(closed: closed, queued: queued, fillSeconds: filled.seconds, databaseBytes: filled.bytes,
                            restartSeconds: restartSeconds, restoredRSS: restoredRSS, ingest: full, emptyIngest: baseline)
    }

    /// Durable ingest with credited workers serving `departments`, the load routed to them only.
    private func storedIngest(on broker: BrokerProcess, departments: [String]) throws -> LoadResult {
        let pool = WorkerPool(endpoint: broker.endpoint, count: workers, kind: .majordomo(services: departments, reply: "accepted", credit: credit))
        defer { pool.stop() }
        try waitForServices(departments, at: broker.endpoint)
        return try LoadGenerator.closedLoop(endpoint: broker.endpoint, clients: clients, outstanding: outstanding,
                                            duration: .seconds(seconds), warmup: .seconds(1),
                                            protocol: IngestProtocol(only: departments, prefix: "s\(UInt32.random(in: 0...UInt32.max))-"))
    }

    /// Waits until the broker answers `mmi.service` 200 for every service (or, with
    /// none, answers at all: its loop is running, so the queues are restored).
    func waitForServices(_ names: [String], at endpoint: String) throws {
        let client = try MajordomoClient(context: try Context(), endpoint: endpoint)
        defer { client.close() }
        let deadline = ContinuousClock.now + .seconds(120)
        for name in names.isEmpty ? [""] : names {
            while true {
                guard ContinuousClock.now < deadline else { throw BenchError("service \(name) never became available") }
                if let reply = try client.request("mmi.service", body: [Frame(name)], timeout: .seconds(1), retries: 0) {
                    if names.isEmpty || reply.body.first == "200" { break }
                }
            }
        }
    }

    /// A fresh directory for one mode's database, removed when the run ends (a full
    /// run writes hundreds of MiB; the directories once piled up in /tmp).
    /// `--config` with the demo city and `--max-ready-backlog`, or nothing without it.
    /// The broker's arguments for the durable modes: the demo city, with `backlog` (else
    /// `--max-ready-backlog`, else the demo city's own) as `limits.max_ready_backlog`.
    func durableConfiguration(backlog: Int? = nil) throws -> [String] {
        guard let maxReadyBacklog = backlog ?? maxReadyBacklog else { return [] }
        let demo = SwitchboardConfiguration.demoYAML, line = "max_ready_backlog: 10000"
        guard demo.contains(line) else {
            throw ValidationError("the demo city no longer sets \(line); update the benchmark")
        }
        let yaml = demo.replacingOccurrences(of: line, with: "max_ready_backlog: \(maxReadyBacklog)")
        let path = Self.temporaryDirectory() + "/switchboard.yaml"
        try yaml.write(toFile: path, atomically: true, encoding: .utf8)
        return ["--config", path]
    }

    /// `durable-steady`'s flow control: ready inquiries per department past which ingest
    /// waits. Eight workers with a credit of 16 hold 128; a thousand keeps them busy.
    static let steadyBacklog = 1_000

    static func temporaryDirectory(keep: Bool = false) -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("switchboard-bench-\(UUID().uuidString)").path
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        if !keep { scratch.withLock { $0.append(path) } }
        return path
    }

    private static let scratch = Mutex<[String]>([])

    static func removeScratchDirectories() {
        for path in scratch.withLock({ paths in defer { paths.removeAll() }; return paths }) {
            try? FileManager.default.removeItem(atPath: path)
        }
    }
}

/// Progress goes to standard error, so that `--json` output stays clean.
func progress(_ line: String) {
    FileHandle.standardError.write(Data("\(line)\n".utf8))
}


struct EchoProtocol: Protocol {
    let size: Int
    func request(sequence: Int, sentAt: UInt64) -> [Frame] { [stampedBody(sentAt, size: size)] }
    func stamp(of reply: [Frame]) -> UInt64? { reply.first.flatMap(readStamp) }
}

struct MDPProtocol: Protocol {
    let services: [String]
    let size: Int
    func request(sequence: Int, sentAt: UInt64) -> [Frame] {
        ClientMessage(service: services[sequence % services.count], body: [stampedBody(sentAt, size: size)]).frames
    }
    func stamp(of reply: [Frame]) -> UInt64? { reply.count >= 4 ? readStamp(reply[3]) : nil }
}

/// Envelopes whose text routes them, through the demo city's rules, to one of four
/// departments; the send time travels in the external id and comes back in the reply.
struct IngestProtocol: Protocol {
    static let departments = ["waste", "roads", "parks", "permits"]
    static let texts = ["my bin was not collected", "a pothole opened on our street", "the park bench is broken", "how long does a building permit take"]
    /// Texts that route to the departments the load is spread over.
    let routed: [String]
    var prefix = "b"
    let padding = String(repeating: " ", count: 300)

    init(departments count: Int, prefix: String = "b") {
        routed = Array(Self.texts.prefix(count))
        self.prefix = prefix
    }

    /// Load for these departments only (of ``departments``).
    init(only departments: [String], prefix: String) {
        routed = departments.compactMap { Self.departments.firstIndex(of: $0).map { Self.texts[$0] } }
        self.prefix = prefix
    }

    func request(sequence: Int, sentAt: UInt64) -> [Frame] {
        let text = routed[sequence % routed.count] + padding
        let envelope = #"{"source":{"platform":"x","account":"@RivertonCity","external_id":"\#(prefix)\#(sequence)-\#(sentAt)"},"author":{"handle":"@bench"},"text":"\#(text)","captured_at":"2026-11-22T09:30:00Z"}"#
        return ClientMessage(service: ServiceName.ingest, body: [Frame(envelope)]).frames
    }

    /// The send time is the part of the external id after its last "-": found with a
    /// byte scan, so the load generator spends its CPU on load, not on parsing.
    func stamp(of reply: [Frame]) -> UInt64? {
        guard reply.count >= 4 else { return nil }
        let bytes = reply[3].bytes
        guard bytes.starts(with: Self.acceptedPrefix), let start = Self.end(of: Self.externalKey, in: bytes) else { return nil }
        var value: UInt64 = 0
        var digits = 0
        var index = start
        while index < bytes.count, bytes[index] != UInt8(ascii: "\"") {
            let byte = bytes[index]
            if byte == UInt8(ascii: "-") { value = 0; digits = 0 } else if (48...57).contains(byte) { value = value * 10 + UInt64(byte - 48); digits += 1 }
            index += 1
        }
        return digits > 0 ? value : nil
    }

    /// Where `needle` ends in `bytes`. Foundation's generic `firstRange(of:)` took half
    /// of the load generator's CPU (a core's worth beside the broker's two threads on this
    /// two-core machine), so the benchmark measured its own client instead of the broker.
    static func end(of needle: [UInt8], in bytes: [UInt8]) -> Int? {
        guard let first = needle.first, bytes.count >= needle.count else { return nil }
        return bytes.withUnsafeBufferPointer { haystack in
            needle.withUnsafeBufferPointer { needle in
                var index = 0
                while index <= haystack.count - needle.count {
                    if haystack[index] == first, memcmp(haystack.baseAddress! + index, needle.baseAddress!, needle.count) == 0 {
                        return index + needle.count
                    }
                    index += 1
                }
                return nil
            }
        }
    }

    static let acceptedPrefix = Array(#"{"status":"accepted""#.utf8)
    static let externalKey = Array(#""external_id":""#.utf8)
}
