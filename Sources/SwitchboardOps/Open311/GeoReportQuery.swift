import Foundation
import SwitchboardBroker
import SwitchboardCore
import SwitchboardStore

/// A GeoReport request the endpoint cannot answer: the HTTP status and the spec's
/// `{"code", "description"}`, which says what to send instead.
public struct GeoReportProblem: Error, Equatable, Sendable {
    public var code: Int
    public var description: String

    public init(_ code: Int, _ description: String) {
        self.code = code
        self.description = description
    }
}

/// `GET requests`' parameters, read as GeoReport v2 says: `service_request_id` (a comma
/// list, and then nothing else applies), `service_code` and `status` (comma lists),
/// `start_date` and `end_date` (W3C dates; at most 90 days apart, the last 90 days when
/// neither is given). At most 1,000 requests are listed, newest first.
public enum GeoReportQuery {
    public static let window: TimeInterval = 90 * 86_400
    public static let maxRequests = 1_000

    public static func read(_ parameters: [String: String], configuration: SwitchboardConfiguration, now: Date) throws(GeoReportProblem) -> PublicStatusQuery {
        var query = PublicStatusQuery(limit: maxRequests)
        if let ids = parameters["service_request_id"] {
            query.caseNumbers = try list(ids).map { (id: String) throws(GeoReportProblem) -> Int in try caseNumber(id, configuration) }
            return query
        }
        if let codes = parameters["service_code"] {
            query.departments = try list(codes).map { (code: String) throws(GeoReportProblem) -> String in
                guard configuration.departmentIDs.contains(code) else {
                    throw GeoReportProblem(400, "service_code \(code) is not a service; the services are \(configuration.departments.map(\.id).joined(separator: ", "))")
                }
                return code
            }
        }
        if let statuses = parameters["status"] {
            let asked = Set(try list(statuses))
            guard asked.isSubset(of: ["open", "closed"]) else { throw GeoReportProblem(400, "status must be open, closed, or both: open,closed") }
            query.closed = asked.count == 2 ? nil : asked.contains("closed")
        }
        let start = try date(parameters, "start_date"), end = try date(parameters, "end_date")
        let (from, to): (Date, Date) = switch (start, end) {
        case let (start?, end?): (start, end)
        case let (start?, nil): (start, start.addingTimeInterval(window))
        case let (nil, end?): (end.addingTimeInterval(-window), end)
        case (nil, nil): (now.addingTimeInterval(-window), now)
        }
        guard from < to else { throw GeoReportProblem(400, "start_date must be before end_date") }
        guard to.timeIntervalSince(from) <= window else {
            throw GeoReportProblem(400, "start_date and end_date may not span more than 90 days; ask for the next 90 days in another request")
        }
        query.receivedFrom = Timestamp.format(from)
        query.receivedBefore = Timestamp.format(to)
        return query
    }

    /// The case number a `service_request_id` names (`R-4821`, `#4821` or `4821`).
    public static func caseNumber(_ id: String, _ configuration: SwitchboardConfiguration) throws(GeoReportProblem) -> Int {
        guard let number = configuration.caseNumbering.parse(id) else {
            throw GeoReportProblem(400, "service_request_id \(id) is not a request id, such as \(configuration.caseNumbering.format(4821))")
        }
        return number
    }

    private static func list(_ text: String) throws(GeoReportProblem) -> [String] {
        let items = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        guard !items.isEmpty, items.count <= maxRequests else { throw GeoReportProblem(400, "a list holds 1 to \(maxRequests) comma-separated values") }
        return items
    }

    private static func date(_ parameters: [String: String], _ name: String) throws(GeoReportProblem) -> Date? {
        guard let text = parameters[name] else { return nil }
        // A "+" of a zone that was not percent-encoded arrives as a space.
        guard let date = CalendarDate.parse(text.replacingOccurrences(of: " ", with: "+")) else {
            throw GeoReportProblem(400, "\(name) must be a W3C date and time with its zone, such as 2026-11-05T08:15:30-05:00, or a day, such as 2026-11-05")
        }
        return date
    }
}
