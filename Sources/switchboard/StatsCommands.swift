import ArgumentParser
import Foundation
import SwitchboardCore
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
            let (data, document) = try Self.fetch(stats)
            if json {
                print(String(decoding: data, as: UTF8.self))
                return
            }
            print(Self.render(document))
        }

        /// GET /stats, or the documented exit code and a hint.
        static func fetch(_ base: String) throws -> (Data, [String: Any]) {
            guard let url = URL(string: base.hasSuffix("/") ? base + "stats" : base + "/stats"), url.scheme?.hasPrefix("http") == true else {
                printError("--stats must be an http:// address, such as http://127.0.0.1:8222")
                throw Exit.usage
            }
            guard let data = try? Data(contentsOf: url),
                  let document = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
                printError("no figures from \(base)/stats; is switchboardd running with --stats (it is on 127.0.0.1:8222 unless told otherwise)?")
                throw Exit.unreachable
            }
            return (data, document)
        }

        static func render(_ document: [String: Any]) -> String {
            let store = document["store"] as? [String: Any] ?? [:]
            let ingest = document["ingest"] as? [String: Any] ?? [:]
            let rejected = (ingest["rejected"] as? [String: Int] ?? [:]).values.reduce(0, +)
            let commits = store["commits"] as? Int ?? 0
            let seconds = store["commit_seconds"] as? Double ?? 0
            var lines = [
                "store      " + ((store["writable"] as? Bool ?? false) ? "writable" : Table.highlight("NOT writable: \(store["last_error"] as? String ?? "")", when: true))
                    + ", \(commits) commits" + (commits > 0 ? String(format: ", %.1f ms on average", 1_000 * seconds / Double(commits)) : ""),
                "ingested   \(ingest["accepted"] as? Int ?? 0) accepted, \(ingest["duplicate"] as? Int ?? 0) duplicate, \(rejected) rejected, "
                    + "\(ingest["unofficial_channel"] as? Int ?? 0) through unofficial channels",
                "",
            ]
            let departments = document["departments"] as? [[String: Any]] ?? []
            let header = ["DEPARTMENT", "WAITING", "OLDEST", "WITH WORKERS", "WITH AGENTS", "PARKED", "WORKERS", "CREDIT", "BREACHES TODAY"]
            lines.append(Table.render(header, departments.map { department in
                let number = { (key: String) in department[key] as? Int ?? 0 }
                let waiting = number("ready"), workers = number("workers")
                let oldest = department["oldest_ready_age_seconds"] as? Double ?? 0
                let target = department["first_response_target_seconds"] as? Double ?? .infinity
                return [department["id"] as? String ?? "", Table.highlight("\(waiting)", when: waiting > 0 && workers == 0 && department["front_office"] as? Bool != true),
                        Table.highlight(waiting > 0 ? DurationText.age(oldest) : "-", when: waiting > 0 && oldest > target),
                        "\(number("in_flight"))", "\(number("held_by_agents"))", Table.highlight("\(number("parked"))", when: number("parked") > 0),
                        "\(workers)", "\(number("credit"))",
                        Table.highlight("\(number("sla_breaches_today"))", when: number("sla_breaches_today") > 0)]
            }))
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
                let (_, document) = try Stats.fetch(stats)
                if Table.colour { print("\u{1B}[H\u{1B}[2J", terminator: "") }
                print("switchboard top: \(document["at"] as? String ?? "")  (Ctrl-C to stop)\n")
                print(Stats.render(document))
                fflush(nil)
                shown += 1
                if count.map({ shown < $0 }) ?? true { Thread.sleep(forTimeInterval: 1) }
            }
        }
    }
}
