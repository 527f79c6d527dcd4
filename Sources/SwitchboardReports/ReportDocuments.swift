import Foundation
import SwitchboardCore
import SwitchboardProtocol

/// The manager's report as people read it: a text table for the terminal, CSV for a
/// spreadsheet, and a self-contained HTML page with its charts drawn inline (SVG, no
/// script, nothing loaded from the network), to mail or print. JSON is the answer as
/// the broker gave it (``ManagerReport``). Every format holds the same rows.
public enum ReportDocuments {
    /// The columns, in order: a heading and each row's value, as text.
    static let columns: [(heading: String, value: @Sendable (ManagerReport.Row) -> String)] = [
        ("department", { $0.department }), ("platform", { $0.platform }), ("received", { "\($0.received)" }), ("answered", { "\($0.answered)" }),
        ("closed", { "\($0.closed)" }),
        ("first response p50", { seconds($0.firstResponseP50) }), ("first response p90", { seconds($0.firstResponseP90) }),
        ("resolution p50", { seconds($0.resolutionP50) }), ("resolution p90", { seconds($0.resolutionP90) }),
        ("first response met", { "\($0.firstResponseMet)" }), ("first response breached", { "\($0.firstResponseBreached)" }),
        ("resolution met", { "\($0.resolutionMet)" }), ("resolution breached", { "\($0.resolutionBreached)" }),
        ("handoffs", { "\($0.handoffs)" }), ("handed on 3+ times", { "\($0.handedOnThreeTimes)" }), ("returns", { "\($0.returns)" }),
        ("reopened", { "\($0.reopened)" }), ("reopen rate", { $0.reopenRate.map { percent($0) } ?? "" }), ("unofficial", { "\($0.unofficial)" }),
    ]

    /// A duration as a manager reads it (`3h 5m`); empty when there is none.
    static func seconds(_ value: Double?) -> String { value.map(DurationText.age) ?? "" }
    static func percent(_ value: Double) -> String { "\(Int((value * 100).rounded()))%" }

    // MARK: CSV

    /// RFC 4180: a heading line, then one line per row; durations in whole seconds and
    /// the reopen rate as a fraction, for a spreadsheet to compute with.
    public static func csv(_ report: ManagerReport) -> String {
        let headings = ["department", "platform", "received", "answered", "closed", "first_response_p50_seconds", "first_response_p90_seconds",
                        "resolution_p50_seconds", "resolution_p90_seconds", "first_response_met", "first_response_breached", "resolution_met",
                        "resolution_breached", "handoffs", "handed_on_three_times", "returns", "reopened", "reopen_rate", "unofficial"]
        var lines = [headings.joined(separator: ",")]
        for row in report.rows {
            let whole = { (value: Double?) in value.map { String(Int($0.rounded())) } ?? "" }
            let fields = [row.department, row.platform, "\(row.received)", "\(row.answered)", "\(row.closed)", whole(row.firstResponseP50),
                          whole(row.firstResponseP90), whole(row.resolutionP50), whole(row.resolutionP90), "\(row.firstResponseMet)",
                          "\(row.firstResponseBreached)", "\(row.resolutionMet)", "\(row.resolutionBreached)", "\(row.handoffs)",
                          "\(row.handedOnThreeTimes)", "\(row.returns)", "\(row.reopened)",
                          row.reopenRate.map { String(format: "%.4f", $0) } ?? "", "\(row.unofficial)"]
            lines.append(fields.map(csvField).joined(separator: ","))
        }
        return lines.joined(separator: "\r\n") + "\r\n"
    }

    static func csvField(_ text: String) -> String {
        text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) ? "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : text
    }

    // MARK: Table

    /// Padded columns for a terminal: the window, then every row.
    public static func table(_ report: ManagerReport) -> String {
        let rows = [columns.map(\.heading)] + report.rows.map { row in columns.map { $0.value(row) } }
        let widths = columns.indices.map { index in rows.map { $0[index].count }.max() ?? 0 }
        var out = "Inquiries received from \(report.from) to \(report.to)\n\n"
        for row in rows {
            out += zip(row, widths).map { $0.padding(toLength: $1, withPad: " ", startingAt: 0) }.joined(separator: "  ")
                .trimmingCharacters(in: .whitespaces) + "\n"
        }
        return out
    }

    // MARK: HTML

    /// One page: the figures per department, then per platform, and three charts:
    /// inquiries received per day (a line per department), the share of first-response
    /// targets met per department, and the median time to first response per department.
    public static func html(_ report: ManagerReport) -> String {
        let departments = report.departments.filter { $0.received > 0 }
        var body = "<h1>Inquiries received from \(escape(report.from)) to \(escape(report.to))</h1>"
        body += "<p class=\"note\">Times count the opening hours of each department's SLA calendar. Made \(escape(report.generatedAt)).</p>"
        if let city = report.city {
            body += "<p class=\"summary\">\(city.received) received, \(city.answered) answered, \(city.closed) closed; "
                + "\(city.handedOnThreeTimes) handed on three times or more; \(city.unofficial) through unofficial accounts.</p>"
        }
        body += "<section class=\"charts\">"
        body += figure("Received per day", chart: lines(report))
        body += figure("First-response targets met", chart: bars(departments.map { row in
            let judged = row.firstResponseMet + row.firstResponseBreached
            return (row.departmentName, judged == 0 ? nil : Double(row.firstResponseMet) / Double(judged))
        }, format: percent, scale: 1))
        body += figure("Median time to first response", chart: bars(departments.map { ($0.departmentName, $0.firstResponseP50) },
                                                                     format: DurationText.age, scale: nil))
        body += "</section>"
        body += "<h2>Departments</h2>" + htmlTable(report.departments + (report.city.map { [$0] } ?? []))
        let byPlatform = report.rows.filter { $0.platform != "all" }
        if !byPlatform.isEmpty { body += "<h2>Departments by platform</h2>" + htmlTable(byPlatform) }
        return """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8"><title>Switchboard report \(escape(report.from)) to \(escape(report.to))</title>
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <style>body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222}h1{font-size:1.4em}table{border-collapse:collapse;margin:1em 0}
            .wide{overflow-x:auto}table{font-size:12px}th,td{border-bottom:1px solid #ddd;padding:.3em .5em;text-align:right}th:first-child,td:first-child,th:nth-child(2),td:nth-child(2){text-align:left}
            .charts{display:flex;flex-wrap:wrap;gap:2em}figure{margin:0}figcaption{font-weight:600;margin-bottom:.3em}
            svg text{font-size:11px;fill:#444}svg polyline{fill:none;stroke-width:2}.note{color:#666}</style></head>
            <body>\(body)</body></html>

            """
    }

    static let palette = ["#1f6feb", "#d73a49", "#2da44e", "#bf8700", "#8250df", "#0a7d8c", "#cf222e", "#57606a"]

    static func figure(_ caption: String, chart: String) -> String {
        "<figure><figcaption>\(escape(caption))</figcaption>\(chart)</figure>"
    }

    /// Received per day, a line per department that received any.
    static func lines(_ report: ManagerReport) -> String {
        let days = Array(Set(report.days.map(\.day))).sorted()
        let departments = report.departments.filter { $0.received > 0 }
        let width = 420.0, height = 160.0, left = 30.0, bottom = 20.0
        let peak = Double(max(1, report.days.map(\.received).max() ?? 1))
        var svg = "<svg width=\"\(Int(width + 230))\" height=\"\(Int(height + bottom + 10))\" role=\"img\" aria-label=\"Received per day\">"
        svg += "<text x=\"0\" y=\"12\">\(Int(peak))</text><text x=\"0\" y=\"\(Int(height))\">0</text>"
        if let first = days.first, let last = days.last {
            svg += "<text x=\"\(Int(left))\" y=\"\(Int(height + bottom))\">\(escape(first))</text>"
            if days.count > 1 { svg += "<text x=\"\(Int(left + width - 70))\" y=\"\(Int(height + bottom))\">\(escape(last))</text>" }
        }
        for (index, department) in departments.enumerated() {
            let colour = palette[index % palette.count]
            let counts = days.map { day in report.days.first { $0.day == day && $0.department == department.department }?.received ?? 0 }
            let step = days.count > 1 ? width / Double(days.count - 1) : 0
            let points = counts.enumerated().map { offset, count in
                "\(Int(left + Double(offset) * step)),\(Int(height - Double(count) / peak * (height - 10)))"
            }
            svg += "<polyline stroke=\"\(colour)\" points=\"\(points.joined(separator: " "))\"/>"
            // A dot per day, so that a one-day window still shows its counts.
            for point in points {
                let xy = point.split(separator: ",")
                svg += "<circle cx=\"\(xy[0])\" cy=\"\(xy[1])\" r=\"3\" fill=\"\(colour)\"/>"
            }
            svg += "<text x=\"\(Int(left + width + 10))\" y=\"\(14 + index * 14)\" fill=\"\(colour)\">\(escape(department.departmentName))</text>"
        }
        return svg + "</svg>"
    }

    /// A horizontal bar per department; `scale` is the value of a full bar (the largest
    /// value when nil). A department with no value says so.
    static func bars(_ values: [(String, Double?)], format: (Double) -> String, scale: Double?) -> String {
        let full = scale ?? max(1, values.compactMap(\.1).max() ?? 1)
        let rowHeight = 18, labelWidth = 170, barWidth = 220.0
        var svg = "<svg width=\"\(labelWidth + Int(barWidth) + 70)\" height=\"\(max(1, values.count) * rowHeight + 4)\" role=\"img\">"
        for (index, (label, value)) in values.enumerated() {
            let y = index * rowHeight
            svg += "<text x=\"0\" y=\"\(y + 13)\">\(escape(String(label.prefix(26))))</text>"
            if let value {
                let length = max(1, Int(barWidth * min(1, value / full)))
                svg += "<rect x=\"\(labelWidth)\" y=\"\(y + 3)\" width=\"\(length)\" height=\"12\" fill=\"\(palette[0])\"/>"
                svg += "<text x=\"\(labelWidth + length + 4)\" y=\"\(y + 13)\">\(escape(format(value)))</text>"
            } else {
                svg += "<text x=\"\(labelWidth)\" y=\"\(y + 13)\">none yet</text>"
            }
        }
        return svg + "</svg>"
    }

    static func htmlTable(_ rows: [ManagerReport.Row]) -> String {
        var out = "<div class=\"wide\"><table><thead><tr>" + columns.map { "<th>\(escape($0.heading))</th>" }.joined() + "</tr></thead><tbody>"
        for row in rows {
            let cells = columns.enumerated().map { index, column in
                index == 0 ? "<td>\(escape(row.departmentName))</td>" : "<td>\(escape(column.value(row)))</td>"
            }
            out += "<tr data-department=\"\(escape(row.department))\" data-platform=\"\(escape(row.platform))\">" + cells.joined() + "</tr>"
        }
        return out + "</tbody></table></div>"
    }

    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }
}
