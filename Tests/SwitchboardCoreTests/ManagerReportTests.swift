import Foundation
import SwitchboardProtocol
import SwitchboardReports
import Testing
@testable import SwitchboardCore

/// The manager's report against a day scripted with a fixed clock: every figure is
/// worked out here by hand, and each format says the same.
@Suite struct ManagerReportTests {
    static let t0 = CalendarDate.parse("2026-11-23T08:00:00Z")!
    static let hour = 3_600.0
    let city = SwitchboardConfiguration.demo()

    /// An inquiry received at `t0 + offset` hours at `department`, moved by `moves`.
    func inquiry(_ platform: Platform, at offset: Double, department: String = "front-office", unofficial: Bool = false,
                 _ moves: [(Double, LifecycleCommand, Actor)] = [], checks: [Double] = []) throws -> ReportInquiry {
        let received = Self.t0.addingTimeInterval(offset * Self.hour)
        let id = InquiryID.generate(at: received)
        var record = LifecycleRecord(lifecycle: InquiryLifecycle(id: id, department: department), priority: .normal,
                                     sla: InquirySLA(department: department, priority: .normal, policy: city.sla, at: received))
        var timeline = [InquiryLifecycle.routedEntry(id: id, department: department, at: received)]
        var pending = checks.sorted()
        for (at, command, actor) in moves {
            let when = Self.t0.addingTimeInterval(at * Self.hour)
            while let check = pending.first, check <= at {
                _ = record.sla.check(at: Self.t0.addingTimeInterval(check * Self.hour))
                pending.removeFirst()
            }
            let entry = try record.lifecycle.apply(command, by: actor, actingFor: actor.kind == .agent ? record.lifecycle.department : nil,
                                                   at: when, frontOffice: city.frontOffice, departments: city.departmentIDs)
            record.sla.follow(entry, priority: .normal, policy: city.sla)
            timeline.append(entry)
        }
        return ReportInquiry(platform: platform, receivedAt: received, record: record, unofficial: unofficial, timeline: timeline)
    }

    /// Monday 23 November 2026, from 08:00 UTC, with the demo city's targets (first
    /// response one day, resolution five):
    /// - A (x): claimed, answered after 1 h, closed after 2 h;
    /// - B (facebook), 08:30: handed to roads, answered by its worker after 3 h, closed after 4 h;
    /// - C (x, unofficial), 09:00: to parks, back to the front office, to roads; not answered;
    /// - D (x), 13:00: answered after 26 h (breached), closed, reopened, closed again;
    /// - E (x): received the next day, outside the window.
    func scriptedDay() throws -> [ReportInquiry] {
        let ana = Actor.agent("ana"), roads = Actor.worker("roads-1"), parks = Actor.worker("parks-1")
        return [
            try inquiry(.x, at: 0, [(0.2, .claim, ana), (1, .reply(account: "@RivertonCity"), ana), (2, .close(.answered, note: nil), ana)]),
            try inquiry(.facebook, at: 0.5, [(0.7, .handoff(to: "roads", note: "pothole"), ana), (1, .deliver, roads),
                                             (3.5, .reply(account: "@RivertonRoads"), roads), (4.5, .close(.answered, note: nil), roads)]),
            try inquiry(.x, at: 1, unofficial: true, [(2, .handoff(to: "parks", note: "a tree"), ana), (2.5, .deliver, parks),
                                                      (3, .returnToFrontOffice(note: "not ours"), parks), (4, .handoff(to: "roads", note: "the road"), ana)]),
            try inquiry(.x, at: 5, [(5.5, .claim, ana), (31, .reply(account: "@RivertonCity"), ana), (32, .close(.answered, note: nil), ana),
                                    (33, .reopen(note: "wrote back"), ana), (33.5, .claim, ana), (34, .close(.answered, note: nil), ana)],
                        checks: [29]),
            try inquiry(.x, at: 30),
        ]
    }

    func report() throws -> ManagerReport {
        ManagerReportBuilder.build(try scriptedDay(), configuration: city, from: Self.t0.addingTimeInterval(-8 * Self.hour),
                                   to: Self.t0.addingTimeInterval(16 * Self.hour), now: Self.t0.addingTimeInterval(40 * Self.hour),
                                   format: { $0.ISO8601Format() })
    }

    func row(_ report: ManagerReport, _ department: String, _ platform: String) throws -> ManagerReport.Row {
        try #require(report.rows.first { $0.department == department && $0.platform == platform }, "\(department)/\(platform)")
    }

    @Test func theFiguresAreThoseWorkedOutByHand() throws {
        let report = try report()
        let front = try row(report, "front-office", "x")
        #expect((front.received, front.answered, front.closed) == (2, 2, 2))
        // A's first response took 1 h, D's 26 h; A's resolution 2 h, D's 24 + 3 h then 1 h after its reopening.
        #expect(front.firstResponseP50 == Self.hour && front.firstResponseP90 == 26 * Self.hour)
        #expect(front.resolutionP50 == 2 * Self.hour && front.resolutionP90 == 28 * Self.hour)
        #expect((front.firstResponseMet, front.firstResponseBreached, front.resolutionMet, front.resolutionBreached) == (1, 1, 2, 0))
        #expect((front.reopened, front.reopenRate) == (1, 0.5))
        #expect(try row(report, "front-office", "all") == ManagerReport.Row(copying: front, platform: "all"))

        let pothole = try row(report, "roads", "facebook")
        #expect((pothole.received, pothole.answered, pothole.closed, pothole.handoffs) == (1, 1, 1, 1))
        #expect(pothole.firstResponseP50 == 3 * Self.hour && pothole.resolutionP50 == 4 * Self.hour)
        let bounced = try row(report, "roads", "x")
        #expect((bounced.received, bounced.answered, bounced.handoffs, bounced.returns, bounced.handedOnThreeTimes, bounced.unofficial) == (1, 0, 2, 1, 1, 1))
        #expect(bounced.firstResponseP50 == nil && bounced.reopenRate == nil)

        let city = try row(report, "all", "all")
        #expect((city.received, city.answered, city.closed, city.handoffs) == (4, 3, 3, 3))
        #expect((city.returns, city.handedOnThreeTimes, city.unofficial, city.reopened) == (1, 1, 1, 1))
        #expect(city.firstResponseP50 == 3 * Self.hour && city.firstResponseP90 == 26 * Self.hour, "nearest rank of 1 h, 3 h, 26 h")
        #expect(try row(report, "parks", "all").received == 0, "every department is listed")
        #expect(report.days.filter { $0.received > 0 }.map { "\($0.day) \($0.department) \($0.received)" }
            == ["2026-11-23 front-office 2", "2026-11-23 roads 2"])
    }

    /// Closing stops every clock; an inquiry closed as spam without a word to the citizen
    /// had no first response, so it counts neither as met nor in the times.
    @Test func anInquiryClosedUnansweredIsNoFirstResponse() throws {
        let ana = Actor.agent("ana")
        let spam = try inquiry(.instagram, at: 0, [(0.5, .claim, ana), (1, .close(.spam, note: nil), ana)])
        let asked = try inquiry(.instagram, at: 0, [(0.5, .claim, ana), (2, .requestInformation(note: "which street?"), ana),
                                                    (3, .close(.answered, note: nil), ana)])
        let report = ManagerReportBuilder.build([spam, asked], configuration: city, from: Self.t0, to: Self.t0.addingTimeInterval(24 * Self.hour),
                                                now: Self.t0.addingTimeInterval(24 * Self.hour), format: { $0.ISO8601Format() })
        let row = try row(report, "front-office", "instagram")
        #expect((row.received, row.closed, row.firstResponseMet, row.firstResponseBreached) == (2, 2, 1, 0))
        #expect(row.firstResponseP50 == 2 * Self.hour && row.firstResponseP90 == 2 * Self.hour, "the question after 2 h, not the spam's close")
        #expect(row.resolutionMet == 2)
    }

    @Test func everyFormatSaysTheSame() throws {
        let report = try report()
        let csv = ReportDocuments.csv(report).split(separator: "\r\n").map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
        let headings = try #require(csv.first)
        func field(_ department: String, _ platform: String, _ name: String) -> String? {
            guard let line = csv.first(where: { $0.first == department && $0.dropFirst().first == platform }),
                  let index = headings.firstIndex(of: name) else { return nil }
            return line[index]
        }
        #expect(field("front-office", "x", "first_response_p90_seconds") == "93600")
        #expect(field("front-office", "x", "reopen_rate") == "0.5000")
        #expect(field("roads", "x", "handed_on_three_times") == "1" && field("all", "all", "received") == "4")

        let table = ReportDocuments.table(report)
        let cityLine = try #require(table.split(separator: "\n").first { $0.hasPrefix("all ") })
        #expect(cityLine.split(separator: " ").prefix(5) == ["all", "all", "4", "3", "3"], "\(cityLine)")
        #expect(table.contains("1d 2h"), "D's first response, as people read it")

        let decoded = try JSONDecoder().decode(ManagerReport.self, from: try JSONEncoder().encode(report))
        #expect(decoded == report)

        let html = ReportDocuments.html(report)
        #expect(html.contains("4 received, 3 answered, 3 closed; 1 handed on three times or more; 1 through unofficial accounts."))
        #expect(html.contains(#"<tr data-department="roads" data-platform="x"><td>Roads and street lighting</td><td>x</td><td>1</td><td>0</td>"#))
        #expect(html.components(separatedBy: "<svg").count - 1 == 3 && html.contains("<polyline"))
        #expect(!html.contains("http://") && !html.contains("https://") && !html.contains("<script"), "renders without the network")
    }

    @Test func percentilesAreNearestRank() {
        #expect(ManagerReportBuilder.percentile([], 0.5) == nil)
        #expect(ManagerReportBuilder.percentile([5], 0.9) == 5)
        #expect(ManagerReportBuilder.percentile([4, 1, 3, 2], 0.5) == 2)
        #expect(ManagerReportBuilder.percentile(Array(1...10).map(Double.init), 0.9) == 9)
    }
}

extension ManagerReport.Row {
    /// The same figures under another platform: a department with one platform totals to it.
    init(copying row: ManagerReport.Row, platform: String) {
        self = row
        self.platform = platform
    }
}
