import Foundation
import SwitchboardProtocol

/// One inquiry as the manager's report reads it from the projection: where it came
/// from, where it is now, its clocks and its timeline. Never its text or its author.
public struct ReportInquiry: Sendable, Equatable {
    public var platform: Platform
    public var receivedAt: Date
    public var record: LifecycleRecord
    /// It came through an account that is not active and official.
    public var unofficial: Bool
    public var timeline: [TimelineEntry]

    public init(platform: Platform, receivedAt: Date, record: LifecycleRecord, unofficial: Bool, timeline: [TimelineEntry]) {
        self.platform = platform
        self.receivedAt = receivedAt
        self.record = record
        self.unofficial = unofficial
        self.timeline = timeline
    }
}

/// Works out the manager's report from the inquiries received in its window: pure, so
/// that the figures are checked against a day scripted with a fixed clock.
///
/// An inquiry counts for the department holding it now and the platform it came from.
/// First-response and resolution times are the whole inquiry's clocks, in their
/// calendars' opening time, for those whose goal was met; percentiles are nearest-rank.
/// A ``Tally`` takes the inquiries a page at a time and keeps only counts and times, so a
/// year of a city's inquiries is never held in memory at once.
public enum ManagerReportBuilder {
    public static func build(_ inquiries: [ReportInquiry], configuration: SwitchboardConfiguration, from: Date, to: Date,
                             department: String? = nil, now: Date, format: (Date) -> String) -> ManagerReport {
        var tally = Tally(from: from, to: to, department: department)
        tally.add(inquiries)
        return tally.report(configuration: configuration, now: now, format: format)
    }

    /// The report's figures so far.
    public struct Tally: Sendable {
        let from: Date, to: Date, department: String?
        /// Per department, per platform (and `all` for both): the running figures.
        var rows: [String: [String: RowTally]] = [:]
        /// Received per UTC day and department.
        var perDay: [Date: [String: Int]] = [:]
        var calendar: Calendar

        public init(from: Date, to: Date, department: String?) {
            self.from = from
            self.to = to
            self.department = department
            calendar = Calendar(identifier: .gregorian)
            calendar.timeZone = TimeZone(identifier: "UTC")!
        }

        public mutating func add(_ inquiries: [ReportInquiry]) {
            for inquiry in inquiries where inquiry.receivedAt >= from && inquiry.receivedAt < to {
                let holder = inquiry.record.lifecycle.department
                guard department == nil || holder == department else { continue }
                rows[holder, default: [:]][inquiry.platform.rawValue, default: RowTally()].add(inquiry)
                rows[holder, default: [:]]["all", default: RowTally()].add(inquiry)
                rows["all", default: [:]]["all", default: RowTally()].add(inquiry)
                perDay[calendar.startOfDay(for: inquiry.receivedAt), default: [:]][holder, default: 0] += 1
            }
        }

        public func report(configuration: SwitchboardConfiguration, now: Date, format: (Date) -> String) -> ManagerReport {
            let names = Dictionary(configuration.departments.map { ($0.id, $0.name) }, uniquingKeysWith: { first, _ in first })
            // Every configured department is listed (an empty one says so), in the file's order.
            let order = (department.map { [$0] } ?? configuration.departments.map(\.id)) + rows.keys.sorted().filter { names[$0] == nil && $0 != "all" }
            var lines: [ManagerReport.Row] = [], totals: [ManagerReport.Row] = []
            for id in order {
                let name = names[id] ?? id, platforms = rows[id] ?? [:]
                for platform in Platform.allCases.map(\.rawValue) {
                    if let tally = platforms[platform] { lines.append(tally.row(department: id, name: name, platform: platform)) }
                }
                totals.append((platforms["all"] ?? RowTally()).row(department: id, name: name, platform: "all"))
            }
            lines += totals
            lines.append((rows["all"]?["all"] ?? RowTally()).row(department: "all", name: "All departments", platform: "all"))
            var days: [Date] = []
            var day = calendar.startOfDay(for: from)
            while day < to {
                days.append(day)
                day = calendar.date(byAdding: .day, value: 1, to: day) ?? to
            }
            let perDayRows = Set(days + perDay.keys).sorted().flatMap { day in
                order.map { ManagerReport.Day(day: String(format(day).prefix(10)), department: $0, received: perDay[day]?[$0] ?? 0) }
            }
            return ManagerReport(from: format(from), to: format(to), generatedAt: format(now), rows: lines, days: perDayRows)
        }
    }

    /// One row's running figures.
    struct RowTally: Sendable {
        var row = ManagerReport.Row(department: "", departmentName: "", platform: "")
        var firstResponses: [Double] = [], resolutions: [Double] = []
        var everClosed = 0

        mutating func add(_ inquiry: ReportInquiry) {
            let events = inquiry.timeline.map(\.event)
            let sla = inquiry.record.sla
            row.received += 1
            if events.contains("inquiry.answered") { row.answered += 1 }
            if inquiry.record.lifecycle.state == .closed { row.closed += 1 }
            // A close stops every clock: only an answer or a question to the citizen is a
            // first response (spam closed unanswered is not one, met or fast).
            let responded = inquiry.timeline.contains { $0.to == .answered || $0.to == .awaitingCitizen }
            if responded, sla.wholeFirstResponse.met { firstResponses.append(sla.wholeFirstResponse.accrued) }
            if sla.wholeResolution.met { resolutions.append(sla.wholeResolution.accrued) }
            if sla.wholeFirstResponse.breached { row.firstResponseBreached += 1 } else if responded, sla.wholeFirstResponse.met { row.firstResponseMet += 1 }
            if sla.wholeResolution.breached { row.resolutionBreached += 1 } else if sla.wholeResolution.met { row.resolutionMet += 1 }
            let handoffs = events.filter { $0 == "inquiry.handoff" }.count, returns = events.filter { $0 == "inquiry.returned" }.count
            row.handoffs += handoffs
            row.returns += returns
            if handoffs + returns >= 3 { row.handedOnThreeTimes += 1 }
            if events.contains("inquiry.reopened") { row.reopened += 1 }
            if events.contains("inquiry.closed") { everClosed += 1 }
            if inquiry.unofficial { row.unofficial += 1 }
        }

        func row(department: String, name: String, platform: String) -> ManagerReport.Row {
            var row = row
            row.department = department
            row.departmentName = name
            row.platform = platform
            row.firstResponseP50 = ManagerReportBuilder.percentile(firstResponses, 0.5)
            row.firstResponseP90 = ManagerReportBuilder.percentile(firstResponses, 0.9)
            row.resolutionP50 = ManagerReportBuilder.percentile(resolutions, 0.5)
            row.resolutionP90 = ManagerReportBuilder.percentile(resolutions, 0.9)
            row.reopenRate = everClosed == 0 ? nil : Double(row.reopened) / Double(everClosed)
            return row
        }
    }

    /// The nearest-rank percentile: the smallest value with at least `q` of them at or
    /// below it. Nil for none.
    public static func percentile(_ values: [Double], _ q: Double) -> Double? {
        guard !values.isEmpty else { return nil }
        let sorted = values.sorted()
        let rank = Int((q * Double(sorted.count)).rounded(.up))
        return sorted[max(0, min(sorted.count - 1, rank - 1))]
    }
}
