import ArgumentParser
import Foundation
import SwitchboardCore
import SwitchboardProtocol
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

extension Switchboard {
    /// The broker's figures from its operations endpoint, as a table.
    struct Stats: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show the broker's figures (from its operations endpoint, /stats).")

        @Option(help: "The operations endpoint. Default: $SWITCHBOARD_STATS, else http://127.0.0.1:8222.")
        var stats = CLIConfig.value(environment: "SWITCHBOARD_STATS", file: "stats") ?? "http://127.0.0.1:8222"
        @Flag(help: "Print the /stats document as it is.") var json = false

        func run() throws {
            let (data, figures) = try Self.fetch(stats)
            if json {
                print(String(decoding: data, as: UTF8.self))
                return
            }
            print(Self.render(figures))
        }

        /// GET /stats, read through its model, or the documented exit code and a hint.
        static func fetch(_ given: String) throws -> (Data, BrokerStats) {
            // HOST:PORT, as switchboardd's own --stats takes it, or an http:// address.
            let base = given.contains("://") ? given : "http://" + given
            guard let url = URL(string: base.hasSuffix("/") ? base + "stats" : base + "/stats"), url.scheme?.hasPrefix("http") == true else {
                printError("--stats must be HOST:PORT or an http:// address, such as 127.0.0.1:8222")
                throw Exit.usage
            }
            guard let data = try? Data(contentsOf: url) else {
                printError("no figures from \(base)/stats; is switchboardd running with --stats (it is on 127.0.0.1:8222 unless told otherwise)?")
                throw Exit.unreachable
            }
            guard let stats = try? BrokerStats.decoder.decode(BrokerStats.self, from: data) else {
                printError("\(base)/stats is not the figures this version reads; is switchboard as new as switchboardd?")
                throw Exit.refused
            }
            return (data, stats)
        }

        static func render(_ stats: BrokerStats) -> String {
            let store = stats.store, ingest = stats.ingest
            let rejected = ingest.rejected.values.reduce(0, +)
            var lines = [
                "store      " + (store.writable ? "writable" : Table.highlight("NOT writable: \(store.lastError ?? "")", when: true))
                    + ", \(store.commits) commits"
                    + (store.commits > 0 ? String(format: ", %.1f ms on average", 1_000 * store.commitSeconds / Double(store.commits)) : ""),
                "ingested   \(ingest.accepted) accepted, \(ingest.duplicate) duplicate, \(rejected) rejected, "
                    + "\(ingest.unofficialChannel) through unofficial channels",
                "",
            ]
            // Breaches are counted per inquiry (one that breached two clocks is one).
            let header = ["DEPARTMENT", "WAITING", "OLDEST", "WITH WORKERS", "WITH AGENTS", "PARKED", "WORKERS", "CREDIT", "INQUIRIES BREACHED TODAY"]
            lines.append(Table.render(header, stats.departments.map { department in
                let waiting = department.ready, oldest = department.oldestReadyAgeSeconds
                let breached = department.slaBreachedInquiriesToday
                return [department.id, Table.highlight("\(waiting)", when: waiting > 0 && department.workers == 0 && department.expectsWorkers),
                        Table.highlight(waiting > 0 ? DurationText.age(oldest) : "-", when: department.readyOverdueSeconds > 0),
                        "\(department.inFlight)", "\(department.heldByAgents)", Table.highlight("\(department.parked)", when: department.parked > 0),
                        "\(department.workers)", "\(department.credit)", Table.highlight("\(breached)", when: breached > 0)]
            }))
            // Messages to citizens that no gateway has posted yet: said, not left to be found.
            let unsent = stats.outbound.filter { $0.unsent > 0 }
            if !unsent.isEmpty {
                lines.append("")
                for platform in unsent {
                    let gateway = platform.gateways == 0 ? "no gateway connected" : "\(platform.gateways) gateway(s) connected"
                    lines.append(Table.highlight("unsent     \(platform.unsent) to citizens on \(platform.platform), the oldest waiting "
                                                 + "\(DurationText.age(platform.oldestUnsentSeconds)); \(gateway)", when: true))
                }
            }
            return lines.joined(separator: "\n")
        }
    }

    /// The same figures, refreshed every second, until Ctrl-C.
    struct Top: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show the broker's figures live, refreshing every second, until Ctrl-C.")

        @Option(help: "The operations endpoint. Default: $SWITCHBOARD_STATS, else http://127.0.0.1:8222.")
        var stats = CLIConfig.value(environment: "SWITCHBOARD_STATS", file: "stats") ?? "http://127.0.0.1:8222"
        @Option(help: "Stop after this many refreshes (for scripts).") var count: Int?

        func run() throws {
            var shown = 0
            while count.map({ shown < $0 }) ?? true {
                let (_, figures) = try Stats.fetch(stats)
                if Table.colour { print("\u{1B}[H\u{1B}[2J", terminator: "") }
                print("switchboard top: \(figures.at.formatted(.iso8601))  (Ctrl-C to stop)\n")
                print(Stats.render(figures))
                fflush(nil)
                shown += 1
                if count.map({ shown < $0 }) ?? true { Thread.sleep(forTimeInterval: 1) }
            }
        }
    }
}
