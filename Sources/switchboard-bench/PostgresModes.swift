import DaemonHarness
import Foundation
import Majordomo
import SwitchboardCore
import SwitchboardProtocol
import ZeroMQ

/// The modes that need a PostgreSQL server (9/SB-HA): durable ingest with the broker on
/// PostgreSQL, beside the SQLite figure of the same run, and how long a standby takes to
/// acknowledge after the active broker dies or is paused.
struct PostgresModes {
    /// A private server on loopback (`make bench` starts one with scripts/postgres.sh).
    let port: Int
    let bench: SwitchboardBench

    /// A fresh database on the server: its URL.
    func freshDatabase() throws -> String {
        let name = "bench_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(12)
        let psql = Process()
        psql.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        psql.arguments = ["psql", "-q", "postgres://postgres@127.0.0.1:\(port)/postgres", "-c", "CREATE DATABASE \(name)"]
        psql.standardOutput = FileHandle.nullDevice
        try psql.run()
        psql.waitUntilExit()
        guard psql.terminationStatus == 0 else {
            throw BenchError("cannot create a database on 127.0.0.1:\(port); is PostgreSQL there? scripts/postgres.sh start DIR \(port)")
        }
        return "postgres://postgres@127.0.0.1:\(port)/\(name)"
    }

    /// Durable ingest with credited workers, the broker on PostgreSQL.
    func durable(departments: [String], configuration: [String], report: inout Report) throws {
        let name = "durable-postgres-\(bench.credit)"
        progress("\(name): sb.ingest with the journal and the projection on PostgreSQL (fsync'd commits), credited workers")
        // A fixed port: the broker stands by on it, then serves on it.
        let broker = try BrokerProcess(dataDirectory: SwitchboardBench.temporaryDirectory(), endpoint: "tcp://127.0.0.1:\(Loopback.freePort())",
                                       extra: ["--io-threads", "\(bench.brokerIoThreads)", "--store", try freshDatabase(), "--events", "off"] + configuration)
        defer { broker.stop() }
        try broker.waitUntilActive()
        let pool = WorkerPool(endpoint: broker.endpoint, count: bench.workers, kind: .majordomo(services: departments, reply: "accepted", credit: bench.credit))
        defer { pool.stop() }
        try bench.waitForServices(departments, at: broker.endpoint)
        report.startMode()
        var deliveredAtStart = 0
        let result = try LoadGenerator.closedLoop(endpoint: broker.endpoint, clients: bench.clients, outstanding: bench.outstanding,
                                                 duration: .seconds(bench.seconds), warmup: .seconds(1), protocol: IngestProtocol(departments: departments.count, prefix: "pg"),
                                                 atMeasureStart: { deliveredAtStart = pool.count })
        let delivered = pool.count - deliveredAtStart
        report.add(Row(mode: name, result: result, rss: broker.memory().peak, durable: true))
        report.delivered.append((name, Double(delivered) / result.seconds, result.completed - delivered))
    }

    /// Two brokers on one database, `queued` inquiries waiting: the time from the active
    /// broker's death (kill -9) or pause (SIGSTOP) until the standby acknowledges an ingest.
    func failover(queued: Int) throws -> Report.FailoverFigures {
        let url = try freshDatabase()
        let endpoints = (0..<2).map { _ in "tcp://127.0.0.1:\(Loopback.freePort())" }
        func start(_ n: Int) throws -> SpawnedDaemon {
            try SpawnedDaemon(endpoint: endpoints[n], arguments: ["--store", url, "--name", "bench-\(n)", "--events", "off"], logLevel: "notice")
        }
        var brokers = [try start(0), try start(1)]
        func active() throws -> Int {
            let deadline = ContinuousClock.now + .seconds(60)
            while ContinuousClock.now < deadline {
                if let found = brokers.indices.first(where: { brokers[$0].role == "active" }) { return found }
                Thread.sleep(forTimeInterval: 0.005)
            }
            throw BenchError("no broker became active")
        }
        progress("failover: two brokers on one PostgreSQL database, \(queued) inquiries waiting")
        let filler = try MajordomoClient(context: try Context(), endpoints: endpoints, redirect: { ErrorAnswer.isNotActive($0.body.first?.bytes ?? []) })
        defer { filler.close() }
        _ = try active()
        let load = IngestProtocol(only: ["roads"], prefix: "fo")
        var answered = 0, sent = 0
        while answered < queued {
            while sent < queued, sent - answered < 256 {
                try filler.send(ServiceName.ingest, body: [load.request(sequence: sent, sentAt: 0)[3]])
                sent += 1
            }
            guard try filler.receive(timeout: .seconds(10)) != nil else { throw BenchError("the active broker stopped answering while filled") }
            answered += 1
        }
        var figures = Report.FailoverFigures(queued: queued)
        for (signal, label) in [(SIGKILL, "kill -9"), (SIGSTOP, "SIGSTOP")] {
            let victim = try active(), standby = 1 - victim
            progress("failover: \(label) of the active broker; waiting for the standby to acknowledge")
            let probe = try MajordomoClient(context: try Context(), endpoint: endpoints[standby])
            let started = ContinuousClock.now
            if signal == SIGKILL { try brokers[victim].crash() } else { brokers[victim].send(SIGSTOP) }
            var probes = 0
            while true {
                guard ContinuousClock.now - started < .seconds(60) else { throw BenchError("the standby did not acknowledge within 60 s") }
                probes += 1
                let reply = try probe.request(ServiceName.ingest, body: [load.request(sequence: 1_000_000 + probes, sentAt: UInt64(label.count))[3]],
                                              timeout: .milliseconds(200), retries: 0)
                if let body = reply?.body.first, body.bytes.starts(with: IngestProtocol.acceptedPrefix) { break }
                Thread.sleep(forTimeInterval: 0.01)
            }
            // What the standby itself says it spent serving after it took the lease.
            let said = brokers[standby].log.components(separatedBy: "takeover.seconds=").last.flatMap { Double($0.prefix { $0 == "." || $0.isNumber }) }
            figures.seconds.append((label, (ContinuousClock.now - started).seconds, said))
            probe.close()
            if signal == SIGKILL {
                brokers[victim] = try start(victim)
            } else {
                brokers[victim].send(SIGCONT)
            }
        }
        for broker in brokers { _ = try? broker.terminate() }
        return figures
    }
}
