import Foundation
import SwitchboardBroker
import SwitchboardCore
import SwitchboardProtocol

/// The status page, for people who would rather look than read: server-rendered, no
/// script and nothing fetched from elsewhere (the charts are inline SVG), refreshes
/// itself, readable on a phone. What needs a person comes first, then the departments
/// in trouble first, the gateways, and an hour of each department in small charts.
enum StatusPage {
    /// What is wrong with a department, worst first; empty when it is fine.
    static func troubles(_ department: BrokerStats.Department) -> [(weight: Int, text: String)] {
        var found: [(Int, String)] = []
        // A desk of agents (the front office by default) has no workers by design.
        if department.workers == 0 && department.ready > 0 && department.expectsWorkers { found.append((8, "no worker")) }
        if department.readyOverdueSeconds > 0 { found.append((4, "inquiries past their target")) }
        if department.answersHeld > 0 { found.append((3, "workers behind: gateways slowed")) }
        if department.slaBreachedInquiriesToday > 0 {
            found.append((2, "\(department.slaBreachedInquiriesToday) inquiries breached an SLA target today"))
        }
        if department.parked > 0 { found.append((1, "\(department.parked) parked")) }
        return found
    }

    /// What a person must act on now, most urgent first, each with what to do.
    static func attention(_ stats: BrokerStats) -> [(level: String, text: String)] {
        var items: [(String, String)] = []
        if !stats.store.writable { items.append(("bad", "The store is not writable: \(stats.store.lastError ?? "commits fail"). Nothing new is accepted.")) }
        for department in stats.departments where department.workers == 0 && department.ready > 0 && department.expectsWorkers {
            items.append(("bad", "\(department.name): \(department.ready) waiting and no worker connected. Start its workers."))
        }
        for department in stats.departments where !department.overdueByPriority.isEmpty {
            let counts = Priority.allCases.compactMap { priority in department.overdueByPriority[priority.rawValue].map { "\($0) \(priority.rawValue)" } }
            items.append(("bad", "\(department.name): \(counts.joined(separator: ", ")) past their first-response target "
                          + "(the worst by \(DurationText.age(department.readyOverdueSeconds))). switchboard queue --department \(department.id)"))
        }
        for platform in stats.outbound {
            for account in platform.needingReauthorization {
                items.append(("bad", "\(platform.platform) account \(account.account) needs re-authorisation "
                              + "(for \(DurationText.age(stats.at.timeIntervalSince(account.since)))): its replies wait. \(account.reason). "
                              + "Put a new token in its token file and reload the gateway (systemctl reload switchboard-gateway)."))
            }
        }
        for platform in stats.outbound where platform.unsent > 0 {
            let gateway = platform.gateways == 0 ? "no \(platform.platform) gateway is connected" : "the gateway has not posted them yet"
            let replies = platform.unsent == 1 ? "1 reply" : "\(platform.unsent) replies"
            items.append((platform.gateways == 0 ? "bad" : "warn", "\(replies) to citizens on \(platform.platform) unsent, "
                          + "the oldest for \(DurationText.age(platform.oldestUnsentSeconds)): \(gateway)."))
        }
        for department in stats.departments where department.parked > 0 {
            items.append(("warn", "\(department.name): \(department.parked) parked after failed deliveries. switchboard parked"))
        }
        return items
    }

    static func html(_ stats: BrokerStats?, history: [StatsHistory.Sample] = [], role: RoleBoard.Status? = nil, now: Date) -> String {
        // Which broker serves, when several share one database.
        let roleLine = role.map { role in
            role.role == .active
                ? "<p id=role class=ok>Active broker <b>\(escape(role.name))</b> (lease epoch \(role.epoch ?? 0), \(role.takeovers) takeover(s))</p>"
                : "<p id=role class=warn>Standby <b>\(escape(role.name))</b>: the active broker is <b>\(escape(role.activeHolder ?? "not known yet"))</b>."
                    + (role.databaseError.map { " <span class=bad>The database cannot be reached: \(escape($0))</span>" } ?? "")
                    + " Its figures are on the active broker's status page.</p>"
        } ?? ""
        guard let stats else {
            return page(roleLine + (role?.role == .standby ? "" : "<p class=bad>The broker has not published statistics yet.</p>"))
        }
        let needs = attention(stats)
        let list = needs.isEmpty
            ? "<p class=ok id=attention>Nothing needs a person now.</p>"
            : "<ul id=attention>" + needs.map { "<li class=\($0.level)>\(escape($0.text))</li>" }.joined() + "</ul>"
        let weight: (BrokerStats.Department) -> Int = { troubles($0).reduce(0) { $0 + $1.weight } }
        let departments = stats.departments.sorted { (weight($0), $0.readyOverdueSeconds, $0.ready) > (weight($1), $1.readyOverdueSeconds, $1.ready) }
        var rows = ""
        for department in departments {
            let found = troubles(department)
            let state = found.isEmpty
                ? "<td class=ok>ok</td>"
                : "<td class=\(found.contains { $0.weight >= 4 } ? "bad" : "warn")>\(found.map { escape($0.text) }.joined(separator: ", "))</td>"
            let workers = department.expectsWorkers ? "\(department.workers)" : "agents"
            rows += "<tr data-department=\"\(escape(department.id))\"><td>\(escape(department.name)) <small>\(escape(department.id))</small></td>"
                + "<td>\(department.ready)</td><td>\(department.ready > 0 ? DurationText.age(department.oldestReadyAgeSeconds) : "-")</td>"
                + "<td>\(department.inFlight + department.heldByAgents)</td><td>\(workers)</td>"
                + "<td>\(department.slaBreachedInquiriesToday)</td>\(state)</tr>"
        }
        var gateways = ""
        for platform in stats.outbound where platform.gateways > 0 || platform.unsent > 0 || !platform.needingReauthorization.isEmpty {
            let refused = platform.needingReauthorization.map(\.account)
            gateways += "<tr data-platform=\"\(escape(platform.platform))\"><td>\(escape(platform.platform))</td>"
                + "<td class=\(platform.gateways == 0 ? "bad" : "ok")>\(platform.gateways)</td><td>\(platform.unsent)</td>"
                + "<td>\(platform.unsent > 0 ? DurationText.age(platform.oldestUnsentSeconds) : "-")</td>"
                + (refused.isEmpty ? "<td class=ok>none</td>" : "<td class=bad>\(escape(refused.joined(separator: ", ")))</td>") + "</tr>"
        }
        let gatewayTable = gateways.isEmpty
            ? "<p><small>No publishing gateway is connected and no reply waits for one.</small></p>"
            : "<table><thead><tr><th>Platform</th><th>Gateways</th><th>Unsent replies</th><th>Oldest</th><th>Accounts needing a new token</th></tr></thead>"
            + "<tbody>\(gateways)</tbody></table>"
        let charts = stats.departments.map { department -> String in
            let waiting = StatsHistory.waiting(history, department: department.id) + [Double(department.ready)]
            let response = StatsHistory.firstResponse(history, department: department.id)
            return "<figure data-chart=\"\(escape(department.id))\"><figcaption>\(escape(department.name))</figcaption>"
                + Sparkline.svg(waiting.map { $0 }, label: "waiting", format: { "\(Int($0))" })
                + Sparkline.svg(response, label: "time to first response", format: DurationText.age)
                + "</figure>"
        }.joined()
        let health = stats.store.writable ? "<span class=ok>store writable</span>" : "<span class=bad>store NOT writable</span>"
        let body = roleLine + """
            <p>\(health) · up \(DurationText.age(stats.at.timeIntervalSince(stats.startedAt))) · ingested \(stats.ingest.accepted) accepted, \
            \(stats.ingest.duplicate) duplicate, \(stats.ingest.rejected.values.reduce(0, +)) rejected · \
            \(stats.ingest.unofficialChannel) through unofficial channels</p>
            <h2>Needs a person</h2>\(list)
            <h2>Departments</h2>
            <table><thead><tr><th>Department</th><th>Waiting</th><th>Oldest</th><th>Being handled</th><th>Workers</th>\
            <th>Inquiries breached today</th><th>State</th></tr></thead>
            <tbody>\(rows)</tbody></table>
            <h2>Gateways</h2>\(gatewayTable)
            <h2>The last hour</h2><div class=charts>\(charts)</div>
            <p><small>Refreshes every 5 s · figures as of \(ISO8601DateFormatter().string(from: stats.at)) · <a href=/metrics>metrics</a> · <a href=/stats>stats</a></small></p>
            """
        return page(body)
    }

    static func page(_ body: String) -> String {
        """
        <!doctype html><html lang=en><head><meta charset=utf-8>
        <meta name=viewport content="width=device-width, initial-scale=1"><meta http-equiv=refresh content=5>
        <link rel=icon href="data:,">
        <title>Switchboard status</title>
        <style>body{font:16px system-ui,sans-serif;margin:1em}table{border-collapse:collapse;width:100%}
        td,th{padding:.4em;border-bottom:1px solid #ccc;text-align:left}.ok{color:#060}.warn{color:#a60}.bad{color:#b00;font-weight:bold}
        small{color:#666}h2{font-size:1.1em;margin-top:1.5em}#attention li{margin:.3em 0}
        .charts{display:flex;flex-wrap:wrap;gap:1em}figure{margin:0;min-width:14em}figcaption{font-weight:bold}
        svg{display:block}svg polyline{fill:none;stroke:#246;stroke-width:1.5}svg text{font-size:10px;fill:#666}</style></head>
        <body><h1>Switchboard</h1>\(body)</body></html>
        """
    }

    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
            .replacingOccurrences(of: "\"", with: "&quot;")
    }
}

/// A small line chart as inline SVG: no script, no library, nothing fetched.
enum Sparkline {
    static let width = 200.0, height = 40.0

    /// `values` oldest first; nil is a gap (nothing to measure then).
    static func svg(_ values: [Double?], label: String, format: (Double) -> String) -> String {
        let known = values.compactMap { $0 }
        let top = max(known.max() ?? 0, 1)
        let step = values.count > 1 ? width / Double(values.count - 1) : 0
        var segments: [[String]] = [[]]
        for (index, value) in values.enumerated() {
            guard let value else {
                if !(segments.last?.isEmpty ?? true) { segments.append([]) }
                continue
            }
            let x = Double(index) * step, y = height - 2 - (height - 4) * value / top
            segments[segments.count - 1].append(String(format: "%.1f,%.1f", x, y))
        }
        let lines: String = segments.filter { !$0.isEmpty }.map { (points: [String]) -> String in
            // A single point is drawn as a short flat line, so it shows.
            let drawn = points.count == 1 ? [points[0], points[0].split(separator: ",").map(String.init).enumerated()
                .map { $0.offset == 0 ? String(format: "%.1f", (Double($0.element) ?? 0) + 3) : $0.element }.joined(separator: ",")] : points
            return "<polyline points=\"\(drawn.joined(separator: " "))\"/>"
        }.joined()
        let latest = known.last.map(format) ?? "-"
        let box = "width=\"\(Int(width))\" height=\"\(Int(height + 12))\" viewBox=\"0 0 \(Int(width)) \(Int(height + 12))\""
        let caption = "<text x=\"0\" y=\"\(Int(height + 10))\">\(label): \(latest) (max \(format(top)))</text>"
        return "<svg role=img aria-label=\"\(label)\" \(box)>\(lines)\(caption)</svg>"
    }
}
