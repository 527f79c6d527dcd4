import Foundation

/// When a department counts its response times: opening hours per weekday, public
/// holidays, and the time zone both are read in. A city's guideline says "one working
/// day", not "24 hours": an inquiry that arrives on Friday evening is due on Monday, and
/// an SLA clock on a calendar counts only the hours it is open (Zammad and Zendesk attach
/// a calendar to each SLA the same way).
///
/// Opening hours are local times: 08:00 is 08:00 on either side of a daylight-saving
/// change, and a day on which the clocks change is as long as its opening hours say.
/// ``alwaysOpen`` (`24/7`) counts every second, as clocks without a calendar do.
public struct BusinessCalendar: Sendable, Equatable {
    /// The name the configuration gives it; `24/7` for ``alwaysOpen``.
    public var name: String
    public var timeZone: TimeZone
    /// Opening hours by weekday (1 Sunday … 7 Saturday, as Foundation numbers them), as
    /// minutes after local midnight, sorted and not overlapping; a day not named is closed.
    public var hours: [Int: [Range<Int>]]
    /// Days closed whatever their weekday, in local dates.
    public var holidays: Set<LocalDay>

    /// A day on a wall calendar, in the calendar's own time zone.
    public struct LocalDay: Hashable, Sendable, Comparable, CustomStringConvertible {
        public var year: Int, month: Int, day: Int

        public init(year: Int, month: Int, day: Int) {
            self.year = year
            self.month = month
            self.day = day
        }

        /// `2026-12-25`; nil for anything else or an impossible day.
        public init?(_ text: String) {
            let parts = text.split(separator: "-", omittingEmptySubsequences: false)
            guard parts.count == 3, parts[0].count == 4, parts[1].count == 2, parts[2].count == 2,
                  let year = Int(parts[0]), let month = Int(parts[1]), let day = Int(parts[2]) else { return nil }
            var gregorian = Calendar(identifier: .gregorian)
            gregorian.timeZone = TimeZone(identifier: "UTC")!
            guard DateComponents(year: year, month: month, day: day).isValidDate(in: gregorian) else { return nil }
            self.init(year: year, month: month, day: day)
        }

        public var description: String { String(format: "%04d-%02d-%02d", year, month, day) }

        public static func < (a: LocalDay, b: LocalDay) -> Bool { (a.year, a.month, a.day) < (b.year, b.month, b.day) }
    }

    /// The name of the calendar that is always open.
    public static let alwaysOpenName = "24/7"

    public static let alwaysOpen = BusinessCalendar(name: alwaysOpenName, timeZone: TimeZone(identifier: "UTC")!, hours: [:], holidays: [])

    public var isAlwaysOpen: Bool { name == Self.alwaysOpenName }

    public init(name: String, timeZone: TimeZone, hours: [Int: [Range<Int>]], holidays: Set<LocalDay>) {
        self.name = name
        self.timeZone = timeZone
        self.hours = hours
        self.holidays = holidays
    }

    /// How long a calendar may stay closed before a clock on it is said never to end:
    /// a year and a bit of holidays in a row is a mistake in the configuration.
    static let longestClosure = 400

    private var gregorian: Calendar {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        return calendar
    }

    /// The seconds it is open between `start` and `end` (none when `end` is not later).
    public func openSeconds(from start: Date, to end: Date) -> Double {
        guard end > start else { return 0 }
        guard !isAlwaysOpen else { return end.timeIntervalSince(start) }
        var total = 0.0
        var day = startOfDay(containing: start)
        let calendar = gregorian
        while day.start < end {
            for (open, close) in intervals(on: day, calendar) {
                let from = max(open, start), to = min(close, end)
                if to > from { total += to.timeIntervalSince(from) }
            }
            day = next(after: day, calendar)
        }
        return total
    }

    /// The moment `seconds` of opening time have passed after `start`: the clock's due
    /// time. Nil when the calendar is closed for longer than ``longestClosure`` days on
    /// end (no opening hours at all, or a year of holidays).
    public func date(after seconds: Double, from start: Date) -> Date? {
        guard !isAlwaysOpen else { return start.addingTimeInterval(max(0, seconds)) }
        var left = max(0, seconds)
        var day = startOfDay(containing: start)
        let calendar = gregorian
        var closedDays = 0
        while closedDays <= Self.longestClosure {
            let open = intervals(on: day, calendar).filter { $0.1 > start }
            closedDays = open.isEmpty ? closedDays + 1 : 0
            for (opening, closing) in open {
                let from = max(opening, start)
                let available = closing.timeIntervalSince(from)
                if left <= available { return from.addingTimeInterval(left) }
                left -= available
            }
            day = next(after: day, calendar)
        }
        return nil
    }

    /// The latest moment from which `seconds` of opening time had passed by `end`: what
    /// arrived before it has waited longer than `seconds` (a queue's overdue entries).
    /// Nil when the calendar was closed for longer than ``longestClosure`` days on end.
    public func date(before seconds: Double, from end: Date) -> Date? {
        guard !isAlwaysOpen else { return end.addingTimeInterval(-max(0, seconds)) }
        var left = max(0, seconds)
        var day = startOfDay(containing: end)
        let calendar = gregorian
        var closedDays = 0
        while closedDays <= Self.longestClosure {
            let open = intervals(on: day, calendar).filter { $0.0 < end }
            closedDays = open.isEmpty ? closedDays + 1 : 0
            for (opening, closing) in open.reversed() {
                let to = min(closing, end)
                let available = to.timeIntervalSince(opening)
                if left <= available { return to.addingTimeInterval(-left) }
                left -= available
            }
            day = previous(before: day, calendar)
        }
        return nil
    }

    /// Whether it is open at `date`.
    public func isOpen(at date: Date) -> Bool {
        guard !isAlwaysOpen else { return true }
        return intervals(on: startOfDay(containing: date), gregorian).contains { $0.0 <= date && date < $0.1 }
    }

    // MARK: Days

    /// A local day: its date and the moment it starts.
    private struct Day {
        var local: LocalDay
        var weekday: Int
        var start: Date
    }

    private func startOfDay(containing date: Date) -> Day {
        let calendar = gregorian
        return day(calendar.startOfDay(for: date), calendar)
    }

    private func day(_ start: Date, _ calendar: Calendar) -> Day {
        let parts = calendar.dateComponents([.year, .month, .day, .weekday], from: start)
        return Day(local: LocalDay(year: parts.year ?? 0, month: parts.month ?? 0, day: parts.day ?? 0), weekday: parts.weekday ?? 0, start: start)
    }

    private func next(after day: Day, _ calendar: Calendar) -> Day {
        // Noon of the day, plus a day, back to its start: safe across a change of clocks.
        let noon = day.start.addingTimeInterval(12 * 3_600)
        return self.day(calendar.startOfDay(for: calendar.date(byAdding: .day, value: 1, to: noon) ?? noon.addingTimeInterval(86_400)), calendar)
    }

    private func previous(before day: Day, _ calendar: Calendar) -> Day {
        let noon = day.start.addingTimeInterval(12 * 3_600)
        return self.day(calendar.startOfDay(for: calendar.date(byAdding: .day, value: -1, to: noon) ?? noon.addingTimeInterval(-86_400)), calendar)
    }

    /// The day's opening hours as moments, in order; none on a holiday.
    private func intervals(on day: Day, _ calendar: Calendar) -> [(Date, Date)] {
        guard !holidays.contains(day.local), let ranges = hours[day.weekday] else { return [] }
        return ranges.compactMap { range in
            guard let open = moment(day, minute: range.lowerBound, calendar), let close = moment(day, minute: range.upperBound, calendar),
                  close > open else { return nil }
            return (open, close)
        }
    }

    /// The moment a local time of day is reached (24:00 is the next midnight). A time the
    /// clocks skip (02:30 on the night they go forward) is read as Foundation does: the
    /// moment after the gap.
    private func moment(_ day: Day, minute: Int, _ calendar: Calendar) -> Date? {
        if minute >= 24 * 60 { return next(after: day, calendar).start }
        var parts = DateComponents(year: day.local.year, month: day.local.month, day: day.local.day, hour: minute / 60, minute: minute % 60)
        parts.timeZone = timeZone
        return calendar.date(from: parts)
    }
}
