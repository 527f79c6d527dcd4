import Foundation
import Histogram

struct Row {
    let mode: String
    let result: LoadResult
    let rss: Int?
    /// A durable mode, also compared with the SQLite limit.
    var durable = false
    /// Share of CPU time the hypervisor took from this VM during the mode, in percent.
    var steal: Double? = nil
}

/// Reads the `cpu` line of /proc/stat: (steal ticks, all ticks).
func cpuTicks() -> (steal: Double, total: Double) {
    // /proc files report a size of 0, so read them as a stream.
    guard let data = FileHandle(forReadingAtPath: "/proc/stat")?.readDataToEndOfFile(),
          let line = String(decoding: data, as: UTF8.self).split(separator: "\n").first, line.hasPrefix("cpu ") else { return (0, 0) }
    let values = line.split(separator: " ").dropFirst().compactMap { Double($0) }
    return (values.count > 7 ? values[7] : 0, values.prefix(8).reduce(0, +))
}

struct DepthResult {
    let queued: Int
    let fillSeconds: Double
    let baselineRSS: Int
    let filledRSS: Int
    let bytesPerInquiry: Double
    let restartSeconds: Double
    let restoredRSS: Int
}

struct StoredResult {
    let closed: Int
    let queued: Int
    let fillSeconds: Double
    let databaseBytes: Int
    let restartSeconds: Double
    let restoredRSS: Int
    let ingest: LoadResult
    /// The same ingest on an empty store, in the same run.
    let emptyIngest: LoadResult
}

/// Collects the rows and prints them as a table or JSON, with each mode's ratio to the
/// ZeroMQ limit measured in the same run.
struct Report {
    let clients, workers, outstanding, services, size, seconds: Int
    var rows: [Row] = []
    /// Inquiries delivered to department workers per second, end to end, per durable
    /// mode, and how much the ready backlog grew while it was measured (accepted minus
    /// delivered): flow control bounds it at `limits.max_ready_backlog` per department.
    var delivered: [(mode: String, perSecond: Double, backlogGrowth: Int)] = []
    /// Batched durable inserts per second into SQLite on the same disk.
    var sqliteLimit: Double?
    var depth: DepthResult?
    var stored: StoredResult?
    var gateway: GatewayFigures?
    /// RabbitMQ with the same load in the same run, by number of queues.
    var rabbitmq: [RabbitMQPeer.Result] = []
    var failover: FailoverFigures?
    /// The `sustained` mode's figures, one per minute.
    var sustained: [SustainedMinute] = []

    struct SustainedMinute {
        var acknowledged: Double
        var delivered: Double
        /// The broker's resident memory at the minute's end.
        var rss: Int
    }

    var sustainedLines: [String] {
        guard let first = sustained.first, let final = sustained.last else { return [] }
        var lines = ["", "sustained: durable-credit load held; per minute, acknowledged/s, delivered/s, broker RSS MiB"]
        for (index, minute) in sustained.enumerated() {
            lines.append(String(format: "  minute %2d %10.0f %10.0f %8.1f", index + 1, minute.acknowledged, minute.delivered, Double(minute.rss) / 1_048_576))
        }
        let mean = sustained.map(\.acknowledged).reduce(0, +) / Double(sustained.count)
        lines.append(String(format: "  last minute %.2f of the first (acknowledged), %.2f (delivered); the whole run's mean %.2f of the first minute's; goal at least 0.90",
                            final.acknowledged / max(first.acknowledged, 1), final.delivered / max(first.delivered, 1), mean / max(first.acknowledged, 1)))
        return lines
    }

    /// Two brokers on PostgreSQL: how long until the standby acknowledged.
    struct FailoverFigures {
        var queued: Int
        /// From the end to the first acknowledgement, and the part the standby spent after
        /// it took the lease (replaying the journal, restoring the queues).
        var seconds: [(cause: String, seconds: Double, takeover: Double?)] = []

        var lines: [String] {
            ["", "failover: two brokers on one PostgreSQL database (lease 6 s), \(queued) inquiries waiting; from the active broker's end to the standby's first acknowledgement"]
                + seconds.map { cause, seconds, takeover in
                    let goal = cause == "kill -9" ? " (goal: within 5 s, 2 s with the hint lock)" : " (a paused broker keeps its connections: the lease must run out)"
                    return String(format: "  %@: %.2f s, of which %@ s replaying and restoring", cause, seconds, takeover.map { String(format: "%.2f", $0) } ?? "?")
                        + goal
                }
        }
    }

    /// PostgreSQL's durable rate against SQLite's in this run, and RabbitMQ's quorum queues.
    var postgresLines: [String] {
        guard let postgres = rows.first(where: { $0.mode.hasPrefix("durable-postgres") }) else { return [] }
        var lines = [""]
        if let sqlite = rows.first(where: { $0.mode.hasPrefix("durable-credit") }) {
            let ratio = postgres.result.throughput / sqlite.result.throughput
            lines.append(String(format: "postgres: durable ingest on PostgreSQL %.0f/s = %.2f of SQLite's %.0f/s in this run (goal at least 0.5: %@)",
                                postgres.result.throughput, ratio, sqlite.result.throughput, ratio >= 0.5 ? "met" : "NOT met"))
        }
        for peer in rabbitmq where peer.quorum {
            lines.append(String(format: "  against RabbitMQ's %d quorum %@: %.2f of its confirmed rate (%.0f/s)", peer.queues, peer.queues == 1 ? "queue" : "queues",
                                postgres.result.throughput / peer.confirmedPerSecond, peer.confirmedPerSecond))
        }
        return lines
    }

    /// Switchboard's credited durable modes (as fast as it acknowledges, and held to the
    /// workers' pace) against each RabbitMQ figure.
    var rabbitmqLines: [String] {
        guard !rabbitmq.isEmpty else { return [] }
        var lines = ["", Self.pad("rabbitmq", 22) + Self.left("conf/s", 10) + Self.left("p50 ms", 10) + Self.left("p99 ms", 10)
                        + Self.left("delivered/s", 13) + Self.left("lost", 6)]
        for peer in rabbitmq {
            lines.append(Self.pad("  \(peer.queues) \(peer.quorum ? "quorum" : "durable") \(peer.queues == 1 ? "queue" : "queues")", 22)
                + Self.left(String(format: "%.0f", peer.confirmedPerSecond), 10) + Self.left(String(format: "%.3f", peer.confirmP50), 10)
                + Self.left(String(format: "%.3f", peer.confirmP99), 10) + Self.left(String(format: "%.0f", peer.deliveredPerSecond), 13)
                + Self.left("\(peer.lost)", 6))
        }
        for durable in rows where durable.mode.hasPrefix("durable-credit") || durable.mode.hasPrefix("durable-steady") {
            let p50 = Double(durable.result.histogram.valueAtPercentile(50)) / 1e6
            let delivered = self.delivered.first { $0.mode == durable.mode }?.perSecond
            for peer in rabbitmq where !peer.quorum {
                lines.append(String(format: "  %@ against %d %@: acknowledged %.2f of its rate, delivered %@ of its rate, p50 %.1f times its confirm p50",
                                    durable.mode, peer.queues, peer.queues == 1 ? "queue" : "queues", durable.result.throughput / peer.confirmedPerSecond,
                                    delivered.map { String(format: "%.2f", $0 / peer.deliveredPerSecond) } ?? "-", p50 / max(peer.confirmP50, 0.001)))
            }
        }
        return lines
    }

    /// The gateway mode's figures against the issue's goals: at least a fifth of the
    /// broker's own durable ingest, and a webhook answer p99 under 100 ms at half load.
    struct GatewayFigures {
        /// The broker's own durable ingest in the same run, per second.
        var reference: Double
        /// Entries acknowledged per second, by entries per delivery.
        var rates: [(entries: Int, perSecond: Double)] = []
        var halfLoadP99: Double?
        var gatewayPeakRSS = 0

        var lines: [String] {
            var lines = ["", String(format: "gateway: the broker's own durable ingest in this run %.0f/s; goal: the gateway at least 0.20 of it", reference)]
            for (entries, perSecond) in rates {
                let ratio = perSecond / reference
                lines.append(String(format: "  %d-entry webhooks: %.0f entries/s, %.2f of the broker's durable ingest (%@)", entries, perSecond, ratio,
                                    ratio >= 0.2 ? "meets the goal" : "BELOW the goal"))
            }
            if let halfLoadP99 {
                lines.append(String(format: "  webhook answer p99 at half the 1-entry rate: %.1f ms (goal under 100 ms: %@)", halfLoadP99,
                                    halfLoadP99 < 100 ? "met" : "NOT met"))
            }
            lines.append(String(format: "  gateway peak RSS %.1f MiB", Double(gatewayPeakRSS) / 1_048_576))
            return lines
        }
    }

    /// Ticks at the start of the mode being measured.
    var ticksAtStart = cpuTicks()

    mutating func add(_ row: Row) {
        let now = cpuTicks()
        var row = row
        let total = now.total - ticksAtStart.total
        row.steal = total > 0 ? 100 * (now.steal - ticksAtStart.steal) / total : nil
        rows.append(row)
        ticksAtStart = now
    }

    mutating func startMode() { ticksAtStart = cpuTicks() }

    var limit: Double? { rows.first { $0.mode == "zeromq-limit" }?.result.throughput }

    static func pad(_ text: String, _ width: Int) -> String {
        text.count >= width ? text + " " : text + String(repeating: " ", count: width - text.count)
    }

    static func left(_ text: String, _ width: Int) -> String {
        text.count >= width ? " " + text : String(repeating: " ", count: width - text.count) + text
    }

    static func ms(_ nanos: UInt64) -> String { String(format: "%.3f", Double(nanos) / 1e6) }
    static func mib(_ bytes: Int?) -> String { bytes.map { String(format: "%.1f", Double($0) / 1_048_576) } ?? "-" }

    func table() -> String {
        var lines: [String] = [
            "switchboard-bench: \(clients) clients, \(workers) workers, \(outstanding) outstanding, \(services) departments, \(size)-byte bodies, \(seconds) s per mode",
        ]
        if !rows.isEmpty {
            lines += ["", Self.pad("mode", 22) + Self.left("ops/s", 10) + Self.left("p50 ms", 10) + Self.left("p99 ms", 10) + Self.left("p99.9 ms", 10)
                + Self.left("broker peak RSS MiB", 21) + Self.left("ratio to ZeroMQ limit", 23) + Self.left("steal %", 8)]
        }
        for row in rows {
            let h = row.result.histogram
            let ratio = limit.map { String(format: "%.2f", row.result.throughput / $0) } ?? "-"
            lines.append(Self.pad(row.mode, 22) + Self.left(String(format: "%.0f", row.result.throughput), 10)
                + Self.left(Self.ms(h.valueAtPercentile(50)), 10) + Self.left(Self.ms(h.valueAtPercentile(99)), 10)
                + Self.left(Self.ms(h.valueAtPercentile(99.9)), 10) + Self.left(Self.mib(row.rss), 21) + Self.left(ratio, 23)
                + Self.left(row.steal.map { String(format: "%.0f", $0) } ?? "-", 8))
        }
        for (mode, perSecond, growth) in delivered {
            lines.append(Self.pad("  delivered", 22) + Self.left(String(format: "%.0f", perSecond), 10)
                + "   \(mode): inquiries delivered to department workers per second, end to end; backlog \(growth >= 0 ? "+" : "")\(growth)")
        }
        if let sqliteLimit {
            lines += ["", Self.pad("sqlite-limit", 22) + Self.left(String(format: "%.0f", sqliteLimit), 10)
                + "   batched 512-byte inserts/s, WAL, synchronous=FULL, same disk: the ceiling for durable modes"]
            for row in rows where row.durable {
                lines.append("  \(row.mode) at \(String(format: "%.2f", row.result.throughput / sqliteLimit)) of the SQLite limit")
            }
        }
        if let stored {
            lines += [
                "",
                "stored: \(stored.closed) closed and \(stored.queued) queued inquiries written through the store in "
                    + String(format: "%.0f s; database %.1f GiB", stored.fillSeconds, Double(stored.databaseBytes) / 1_073_741_824),
                String(format: "  restart and restore on it: %.2f s (RSS after restore %.1f MiB)", stored.restartSeconds, Double(stored.restoredRSS) / 1_048_576),
                String(format: "  durable ingest on it, credited workers: %.0f/s, p99 %.1f ms", stored.ingest.throughput,
                       Double(stored.ingest.histogram.valueAtPercentile(99)) / 1e6),
                String(format: "  the same ingest on an empty store: %.0f/s, p99 %.1f ms; on the full store %.2f of it", stored.emptyIngest.throughput,
                       Double(stored.emptyIngest.histogram.valueAtPercentile(99)) / 1e6, stored.ingest.throughput / max(1, stored.emptyIngest.throughput)),
            ]
        }
        lines += rabbitmqLines
        lines += postgresLines
        if let failover { lines += failover.lines }
        lines += sustainedLines
        if let gateway { lines += gateway.lines }
        if let depth {
            lines += [
                "",
                "depth: \(depth.queued) queued inquiries in one department, filled in \(String(format: "%.1f", depth.fillSeconds)) s",
                String(format: "  broker RSS %.1f MiB empty, %.1f MiB full: %.0f bytes per queued inquiry", Double(depth.baselineRSS) / 1_048_576,
                       Double(depth.filledRSS) / 1_048_576, depth.bytesPerInquiry),
                String(format: "  restart and restore: %.2f s (RSS after restore %.1f MiB)", depth.restartSeconds, Double(depth.restoredRSS) / 1_048_576),
            ]
        }
        lines.append("")
        lines.append("steal %: CPU time the hypervisor took from this machine during the mode; figures measured under steal understate the broker.")
        return lines.joined(separator: "\n")
    }

    func json() -> String {
        var object: [String: Any] = [
            "parameters": ["clients": clients, "workers": workers, "outstanding": outstanding, "departments": services, "body_bytes": size, "seconds": seconds],
        ]
        object["modes"] = rows.map { row -> [String: Any] in
            let h = row.result.histogram
            var entry: [String: Any] = [
                "mode": row.mode, "ops_per_second": row.result.throughput.rounded(),
                "p50_ms": Double(h.valueAtPercentile(50)) / 1e6, "p99_ms": Double(h.valueAtPercentile(99)) / 1e6,
                "p999_ms": Double(h.valueAtPercentile(99.9)) / 1e6, "completed": row.result.completed,
            ]
            entry["broker_peak_rss_bytes"] = row.rss
            entry["ratio_to_zeromq_limit"] = limit.map { row.result.throughput / $0 }
            if row.durable { entry["ratio_to_sqlite_limit"] = sqliteLimit.map { row.result.throughput / $0 } }
            entry["cpu_steal_percent"] = row.steal
            return entry
        }
        object["delivered_per_second"] = Dictionary(delivered.map { ($0.mode, $0.perSecond.rounded()) }, uniquingKeysWith: { $1 })
        object["backlog_growth"] = Dictionary(delivered.map { ($0.mode, $0.backlogGrowth) }, uniquingKeysWith: { $1 })
        object["sqlite_limit_per_second"] = sqliteLimit?.rounded()
        if let stored {
            object["stored"] = [
                "closed": stored.closed, "queued": stored.queued, "fill_seconds": stored.fillSeconds, "database_bytes": stored.databaseBytes,
                "restart_seconds": stored.restartSeconds, "restored_rss_bytes": stored.restoredRSS,
                "durable_ingest_per_second": stored.ingest.throughput.rounded(),
                "empty_store_ingest_per_second": stored.emptyIngest.throughput.rounded(),
                "durable_ingest_p99_ms": Double(stored.ingest.histogram.valueAtPercentile(99)) / 1e6,
            ]
        }
        if !rabbitmq.isEmpty {
            object["rabbitmq"] = rabbitmq.map { peer -> [String: Any] in
                ["queues": peer.queues, "quorum": peer.quorum, "confirmed_per_second": peer.confirmedPerSecond.rounded(), "delivered_per_second": peer.deliveredPerSecond.rounded(),
                 "confirm_p50_ms": peer.confirmP50, "confirm_p99_ms": peer.confirmP99, "lost": peer.lost]
            }
        }
        if let failover {
            object["failover"] = ["queued": failover.queued,
                                  "seconds": Dictionary(failover.seconds.map { ($0.cause, $0.seconds) }, uniquingKeysWith: { $1 }),
                                  "takeover_seconds": Dictionary(failover.seconds.map { ($0.cause, $0.takeover ?? -1) }, uniquingKeysWith: { $1 })] as [String: Any]
        }
        if !sustained.isEmpty {
            object["sustained"] = sustained.map { ["acknowledged_per_second": $0.acknowledged.rounded(), "delivered_per_second": $0.delivered.rounded(),
                                                   "rss_bytes": $0.rss] as [String: Any] }
        }
        if let gateway {
            object["gateway"] = [
                "broker_durable_ingest_per_second": gateway.reference.rounded(),
                "entries_per_second": Dictionary(gateway.rates.map { ("\($0.entries)", $0.perSecond.rounded()) }, uniquingKeysWith: { $1 }),
                "ratio_to_broker_durable_ingest": Dictionary(gateway.rates.map { ("\($0.entries)", $0.perSecond / gateway.reference) }, uniquingKeysWith: { $1 }),
                "half_load_p99_ms": gateway.halfLoadP99 as Any, "peak_rss_bytes": gateway.gatewayPeakRSS,
            ]
        }
        if let depth {
            object["depth"] = [
                "queued": depth.queued, "fill_seconds": depth.fillSeconds, "bytes_per_queued_inquiry": depth.bytesPerInquiry.rounded(),
                "restart_seconds": depth.restartSeconds, "filled_rss_bytes": depth.filledRSS, "baseline_rss_bytes": depth.baselineRSS,
            ]
        }
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }
}
