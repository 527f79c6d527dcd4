import Foundation
import Testing
@testable import SwitchboardCore

/// SLA clocks that count a city's working hours, with fixed moments: an inquiry that
/// arrives on Friday evening is due on Monday, on Tuesday after a Monday holiday, and a
/// daylight-saving change on the weekend moves the due time in UTC, not in local time.
@Suite struct BusinessCalendarTests {
    /// Brussels office hours, 08:00 to 16:00 on weekdays: eight hours, "one working day".
    static let yaml = """
        departments:
          - id: front-office
          - id: roads
            sla:
              calendar: roads-depot
              normal: {first_response: 8h, resolution: 16h}
        calendars:
          office:
            time_zone: Europe/Brussels
            hours:
              monday: 08:00-16:00
              tuesday: 08:00-16:00
              wednesday: 08:00-16:00
              thursday: 08:00-16:00
              friday: 08:00-12:00, 13:00-17:00
              saturday: closed
            holidays: [2026-10-26, 2026-12-25]
          roads-depot:
            time_zone: Europe/Brussels
            hours: {monday: 06:00-22:00, tuesday: 06:00-22:00, wednesday: 06:00-22:00, thursday: 06:00-22:00, friday: 06:00-22:00}
        sla:
          calendar: office
          targets:
            urgent: {first_response: 1h, resolution: 8h, calendar: 24/7}
            normal: {first_response: 8h, resolution: 40h}
        """

    static func at(_ text: String) -> Date { CalendarDate.parse(text)! }

    let policy: SLAPolicy
    let office: BusinessCalendar

    init() throws {
        policy = try SwitchboardConfiguration.parse(yaml: Self.yaml).sla
        office = try #require(policy.calendars["office"])
    }

    @Test func aFridayEveningInquiryWithOneWorkingDayIsDueMondayThroughTheChangeOfClocks() throws {
        // Friday 23 October 2026, 17:55 in Brussels (summer time, UTC+2). The clocks go
        // back on Sunday the 25th; Monday the 26th is a holiday in this calendar.
        let friday = Self.at("2026-10-23T17:55:00+02:00")
        #expect(office.date(after: 8 * 3_600, from: friday) == Self.at("2026-10-27T16:00:00+01:00"), "Tuesday, after the Monday holiday")
        var noHoliday = office
        noHoliday.holidays = []
        let monday = Self.at("2026-10-26T16:00:00+01:00")
        #expect(noHoliday.date(after: 8 * 3_600, from: friday) == monday)
        // Winter time: 16:00 in Brussels is 15:00 UTC, one hour later than a day's 24 h.
        #expect(monday == Self.at("2026-10-26T15:00:00Z"))
        #expect(noHoliday.openSeconds(from: friday, to: monday) == 8 * 3_600)
        // The clocks go forward on Sunday 28 March 2027: 16:00 is then 14:00 UTC.
        #expect(noHoliday.date(after: 8 * 3_600, from: Self.at("2027-03-26T17:55:00+01:00")) == Self.at("2027-03-29T14:00:00Z"))
    }

    @Test func openingHoursWithALunchBreakAndCountingBack() {
        // Friday 11:00: one hour before lunch, then four after it.
        let friday = Self.at("2026-11-20T11:00:00+01:00")
        #expect(office.date(after: 2 * 3_600, from: friday) == Self.at("2026-11-20T14:00:00+01:00"))
        #expect(office.openSeconds(from: friday, to: Self.at("2026-11-20T18:00:00+01:00")) == 5 * 3_600)
        #expect(office.isOpen(at: friday) && !office.isOpen(at: Self.at("2026-11-20T12:30:00+01:00")))
        // Counted back from Monday 10:00: two hours on Monday, then Friday afternoon.
        let monday = Self.at("2026-11-23T10:00:00+01:00")
        #expect(office.date(before: 2 * 3_600, from: monday) == Self.at("2026-11-23T08:00:00+01:00"))
        #expect(office.date(before: 3 * 3_600, from: monday) == Self.at("2026-11-20T16:00:00+01:00"))
        #expect(BusinessCalendar.alwaysOpen.date(after: 60, from: monday) == monday.addingTimeInterval(60))
    }

    @Test func eachDepartmentAndPriorityCountsInItsOwnCalendar() {
        #expect(policy.calendar(department: "front-office", priority: .normal).name == "office")
        #expect(policy.calendar(department: "front-office", priority: .urgent).isAlwaysOpen, "urgent matters run 24/7")
        #expect(policy.calendar(department: "roads", priority: .normal).name == "roads-depot")
        #expect(policy.calendar(department: "roads", priority: .urgent).isAlwaysOpen, "the priority's calendar comes first")
        #expect(SLAPolicy().calendar(department: "roads", priority: .normal).isAlwaysOpen, "no calendars: around the clock")
    }

    /// The clocks of one inquiry: due, warned at 80% and breached in opening hours, and
    /// a pause while the citizen is asked counts only opening hours.
    @Test func theClocksWarnAndBreachInOpeningHours() throws {
        let id = InquiryID(high: 1, low: 1)
        let friday = Self.at("2026-11-20T17:55:00+01:00")
        var sla = InquirySLA(department: "front-office", priority: .normal, policy: policy, at: friday)
        let due = Self.at("2026-11-23T16:00:00+01:00")
        #expect(sla.legFirstResponse.dueDate == due)
        #expect(sla.due == due)
        // 80% of eight hours: 6.4 h of Monday, 14:24.
        #expect(sla.nextAlert == Self.at("2026-11-23T14:24:00+01:00"))
        #expect(sla.check(at: Self.at("2026-11-23T14:00:00+01:00"), in: office).isEmpty, "nothing over the weekend")
        #expect(sla.check(at: Self.at("2026-11-23T14:24:00+01:00"), in: office).map(\.level) == [.warning, .warning])
        let breaches = sla.check(at: due, in: office)
        #expect(breaches.map(\.level) == [.breach, .breach])
        #expect(abs((breaches.first?.elapsed ?? 0) - 8 * 3_600) < 0.001)

        // Asked on Tuesday at 15:00, answered on Wednesday at 09:00: the resolution clock
        // counted one hour on Tuesday and runs again from Wednesday morning.
        var asked = InquirySLA(department: "front-office", priority: .normal, policy: policy, at: Self.at("2026-11-24T08:00:00+01:00"))
        asked.follow(TimelineEntry(inquiry: id, event: "inquiry.awaiting_citizen", at: Self.at("2026-11-24T15:00:00+01:00"), actor: .agent("ana"),
                                   role: "front_office", from: .inProgress, to: .awaitingCitizen, department: "front-office", note: nil),
                     priority: .normal, policy: policy)
        #expect(asked.wholeResolution.accrued == 7 * 3_600)
        #expect(asked.wholeResolution.dueDate == nil, "paused")
        asked.follow(TimelineEntry(inquiry: id, event: "inquiry.citizen_replied", at: Self.at("2026-11-25T09:00:00+01:00"), actor: .system,
                                   role: "system", from: .awaitingCitizen, to: .inProgress, department: "front-office", note: nil),
                     priority: .normal, policy: policy)
        // 40 h target, 7 counted: 33 more from Wednesday 09:00 are Wednesday's 7 h,
        // Thursday's 8, Friday's 8, Monday's 8 and Tuesday's first 2.
        #expect(asked.wholeResolution.dueDate == Self.at("2026-12-01T10:00:00+01:00"))
    }

    /// An escalation raises the priority on Saturday: the clocks go on in the urgent
    /// calendar (around the clock) from then, not on Monday morning.
    @Test func aRaisedPriorityCountsOnInItsOwnCalendar() {
        let friday = Self.at("2026-11-20T17:55:00+01:00"), saturday = Self.at("2026-11-21T10:00:00+01:00")
        var sla = InquirySLA(department: "front-office", priority: .normal, policy: policy, at: friday)
        #expect(sla.legFirstResponse.dueDate == Self.at("2026-11-23T16:00:00+01:00"))
        sla.priorityChanged(from: .normal, to: .urgent, policy: policy, at: saturday)
        #expect(sla.legFirstResponse.dueDate == Self.at("2026-11-21T18:00:00+01:00"), "eight hours from Saturday 10:00")
        #expect(sla.wholeFirstResponse.dueDate == Self.at("2026-11-21T18:00:00+01:00"))
    }

    /// The example the demo city's file gives, commented out, works as written.
    @Test func theExampleInTheDemoCityWorksUncommented() throws {
        var lines: [String] = []
        var inExample = false
        for line in demoCityYAML.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) {
            if line == "# calendars:" { inExample = true }
            if line == "sla:" { inExample = false }
            lines.append(inExample && line.hasPrefix("# ") ? String(line.dropFirst(2))
                         : line == "  # calendar: office" ? "  calendar: office" : line)
        }
        let city = try SwitchboardConfiguration.parse(yaml: lines.joined(separator: "\n"))
        let calendar = city.sla.calendar(department: "roads", priority: .normal)
        #expect(calendar.name == "office" && calendar.hours.count == 5 && calendar.holidays.count == 2)
        #expect(calendar.hours[6] == [480..<720, 780..<1020], "Friday, with its lunch break")
    }

    @Test func mistakesInCalendarsNameTheirField() {
        func error(_ yaml: String) -> String {
            do { _ = try SwitchboardConfiguration.parse(yaml: yaml); return "" } catch { return "\(error)" }
        }
        let base = "departments:\n  - id: front-office\n"
        #expect(error(base + "sla:\n  calendar: office\n").contains("calendar \"office\" is not defined under calendars"))
        #expect(error(base + "calendars:\n  office: {time_zone: Mars/Olympus, hours: {monday: 08:00-16:00}}\n").contains("unknown time zone \"Mars/Olympus\""))
        #expect(error(base + "calendars:\n  office: {time_zone: UTC, hours: {monday: 16:00-08:00}}\n").contains("calendars.office.hours.monday"))
        #expect(error(base + "calendars:\n  office: {time_zone: UTC, hours: {monday: closed}}\n").contains("is never open"))
        #expect(error(base + "calendars:\n  office: {time_zone: UTC, hours: {monday: 08:00-16:00}, holidays: [2026-02-30]}\n")
            .contains("holiday \"2026-02-30\""))
        #expect(error(base + "calendars:\n  office: {time_zone: UTC, hours: {mondy: 08:00-16:00}}\n").contains("unknown setting \"mondy\""))
    }
}
