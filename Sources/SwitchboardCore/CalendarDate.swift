import Foundation

/// Dates and times as operators type them for records work: a day (`2026-01-31`,
/// midnight UTC) or a full ISO 8601 time with its zone (`2026-01-31T12:00:00Z`,
/// `2026-01-31T12:00:00.5+01:00`). Strict: anything else, an impossible day or time, or a
/// time without a zone is refused, never read as something nearby (an export cut short
/// would lose records for good once retention removes them).
public enum CalendarDate {
    public static func parse(_ text: String) -> Date? {
        // A literal: checked when the package builds, typed captures, no `try!`.
        let pattern = #/(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?(Z|[+-]\d{2}:\d{2}))?/#
        guard let match = text.wholeMatch(of: pattern) else { return nil }
        let (_, yearText, monthText, dayText, hourText, minuteText, secondText, fractionText, zoneText) = match.output
        guard let year = Int(yearText), let month = Int(monthText), let day = Int(dayText) else { return nil }
        var seconds = 0, offset = 0
        var fraction = 0.0
        if let hourText {
            guard let hour = Int(hourText), let minute = minuteText.flatMap({ Int($0) }), let second = secondText.flatMap({ Int($0) }),
                  hour < 24, minute < 60, second < 60, let zone = zoneText else { return nil }
            seconds = hour * 3_600 + minute * 60 + second
            fraction = fractionText.flatMap { Double("0" + $0) } ?? 0
            if zone != "Z" {
                let sign = zone.first == "-" ? -1 : 1
                let parts = zone.dropFirst().split(separator: ":").compactMap { Int($0) }
                guard parts.count == 2, parts[0] < 24, parts[1] < 60 else { return nil }
                offset = sign * (parts[0] * 3_600 + parts[1] * 60)
            }
        }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let components = DateComponents(year: year, month: month, day: day)
        guard components.isValidDate(in: calendar), let midnight = calendar.date(from: components) else { return nil }
        return midnight.addingTimeInterval(Double(seconds - offset) + fraction)
    }
}
