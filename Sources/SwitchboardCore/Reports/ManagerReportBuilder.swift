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
public enum ManagerReportBuilder {
    public static func build(_ inquiries: [ReportInquiry], configuration: SwitchboardConfiguration, from: Date, to: Date,
                             department: String? = nil, now: Date, format: (Date) -> String) -> ManagerReport {
        let names = Dictionary(configuration.departments.map { ($0.id, $0.name) }, uniquingKeysWith: { first, _ in first })
        let chosen = inquiries.filter { $0.receivedAt >= from && $0.receivedAt < to && (department == nil || $0.record.lifecycle.department == department) }
        var groups: [String: [String: [ReportInquiry]]] = [:]
        for inquiry in chosen { groups[inquiry.record.lifecycle.department, default: [:]][inquiry.platform.rawValue, default: []].append(inquiry) }
        // Every configured department is listed (an empty one says so), in the file's order.
        let order = (department.map { [$0] } ?? configuration.departments.map(\.id)) + groups.keys.sorted().filter { names[$0] == nil }
        var rows: [ManagerReport.Row] = []
        var totals: [ManagerReport.Row] = []
        for id in order {
            let name = names[id] ?? id
            let platforms = groups[id] ?? [:]
            for platform in Platform.allCases.map(\.rawValue) where platforms[platform] != nil {
                rows.append(row(platforms[platform]!, department: id, name: name, platform: platform))
            }
            totals.append(row(platforms.values.flatMap { $0 }, department: id, name: name, platform: "all"))
        }
        rows += totals
        rows.append(row(chosen, department: "all", name: "All departments", platform: "all"))
        var perDay: [String: [String: Int]] = [:]
        var day = from
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        func dayText(_ date: Date) -> String { String(format(calendar.startOfDay(for: date)).prefix(10)) }
        while day < to {
            perDay[dayText(day)] = [:]
            day = calendar.date(byAdding: .day, value: 1, to: calendar.startOfDay(for: day)) ?? to
        }
        for inquiry in chosen { perDay[dayText(inquiry.receivedAt), default: [:]][inquiry.record.lifecycle.department, default: 0] += 1 }
        let days = perDay.keys.sorted().flatMap { key in
            order.map { ManagerReport.Day(day: key, department: $0, received: perDay[key]?[$0] ?? 0) }
        }
        return ManagerReport(from: format(from), to: format(to), generatedAt: format(now), rows: rows, days: days)
    }

    static func row(_ inquiries: [ReportInquiry], department: String, name: String, platform: String) -> ManagerReport.Row {
        var row = ManagerReport.Row(department: department, departmentName: name, platform: platform)
        var firstResponses: [Double] = [], resolutions: [Double] = []
        var everClosed = 0
        for inquiry in inquiries {
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
        row.firstResponseP50 = percentile(firstResponses, 0.5)
        row.firstResponseP90 = percentile(firstResponses, 0.9)
        row.resolutionP50 = percentile(resolutions, 0.5)
        row.resolutionP90 = percentile(resolutions, 0.9)
        row.reopenRate = everClosed == 0 ? nil : Double(row.reopened) / Double(everClosed)
        return row
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
