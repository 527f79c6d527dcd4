import ArgumentParser
import Foundation
import SwitchboardCore
import SwitchboardProtocol
import SwitchboardReports

/// `switchboard report`: the manager's figures for a window (sb.admin.report), from the
/// broker's record of inquiries, never from its engine.
struct Report: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The manager's report: inquiries received, answered and closed, response times, SLA met and breached, handoffs (sb.admin.report).",
        discussion: """
            Per department and per platform, for inquiries received from --from to --to (days are \
            whole days, UTC; or ISO 8601 times with their zone). Times count the opening hours of \
            each department's SLA calendar. --format html writes a page with charts that needs no \
            network: save it with --output report.html and open it in a browser.
            """
    )

    enum Format: String, ExpressibleByArgument, CaseIterable {
        case table, csv, json, html
    }

    @OptionGroup var broker: BrokerOptions
    @Option(help: "The first day (2026-11-01) or time received.") var from: String
    @Option(help: "The last day (2026-11-30, included) or the time before which received.") var to: String
    @Option(help: "Only this department's inquiries.") var department: String?
    @Option(help: "table, csv, json or html.") var format: Format = .table
    @Option(help: "Write to this file instead of standard output.") var output: String?

    func validate() throws {
        for (name, value) in [("--from", from), ("--to", to)] where CalendarDate.parse(value) == nil {
            throw ValidationError("\(name) \(value) is not a day (2026-11-01, UTC) or an ISO 8601 time with its zone (2026-11-01T08:00:00+01:00)")
        }
    }

    func run() throws {
        var asker = try AgentOptions.parse([])
        asker.broker = broker
        // A year's report reads the whole window, a page at a time: it may take longer
        // than a move, so it waits two minutes at least.
        asker.broker.timeout = max(broker.timeout, 120)
        // The report's --department is the filter, not the department an agent acts for.
        asker.departmentOption = ""
        let report = try asker.ask(AdminService.report.rawValue, body: ReportRequest(from: from, to: to, department: department), as: ManagerReport.self)
        let text: String
        switch format {
        case .table: text = ReportDocuments.table(report)
        case .csv: text = ReportDocuments.csv(report)
        case .html: text = ReportDocuments.html(report)
        case .json:
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            text = String(decoding: try encoder.encode(report), as: UTF8.self) + "\n"
        }
        if let output {
            do {
                try text.write(toFile: output, atomically: true, encoding: .utf8)
            } catch {
                printError("cannot write \(output): \(error.localizedDescription); check the directory exists and is writable")
                throw Exit.refused
            }
            FileHandle.standardError.write(Data("report written to \(output)\n".utf8))
        } else {
            FileHandle.standardOutput.write(Data(text.utf8))
        }
    }
}
