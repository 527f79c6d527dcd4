import Foundation
import SwitchboardBroker
import SwitchboardCore
import SwitchboardStore

/// Open311 GeoReport v2, the read side: the departments as services, and where each
/// inquiry stands as a service request, for citizens to look up without a login.
///
/// Nothing a citizen wrote, their handle or name, or the channel they wrote through is
/// ever published here: a request is its case number, its state, the department
/// holding it, and when it arrived, moved and is expected to be resolved. `description`
/// is always empty; location fields (`address`, `lat`, `long`) are left out, since a
/// citizen's position could name them.
public enum GeoReport {
    /// One field's value, as both formats write it.
    public enum Value: Equatable, Sendable {
        case text(String)
        case number(Int)
        case flag(Bool)
        /// Absent for this record: JSON `null`, an empty XML element.
        case none
    }

    /// A record: its fields, in the spec's order.
    public typealias Record = [(key: String, value: Value)]

    /// The departments as services (`GET services`): the id is the `service_code`.
    public static func services(_ configuration: SwitchboardConfiguration) -> [Record] {
        configuration.departments.map { department in
            [("service_code", .text(department.id)), ("service_name", .text(department.name)),
             ("description", .text(department.id == configuration.frontOffice ? "General questions and anything not yet routed" : "")),
             ("metadata", .flag(false)), ("type", .text("realtime")), ("keywords", .text("")), ("group", .text(""))]
        }
    }

    /// One inquiry as a service request (`GET requests`). `expected_datetime` is when the
    /// inquiry's resolution clock falls due in its calendar, while it runs.
    public static func request(_ status: PublicStatus, _ configuration: SwitchboardConfiguration) -> Record {
        let lifecycle = status.record.lifecycle
        let department = configuration.departments.first { $0.id == lifecycle.department }
        let name = department?.name ?? lifecycle.department
        let expected = status.record.sla.wholeResolution.dueDate.flatMap { $0 == .distantFuture ? nil : Timestamp.format($0) }
        return [
            ("service_request_id", .text(configuration.caseNumbering.format(status.caseNumber))),
            ("status", .text(lifecycle.state == .closed ? "closed" : "open")),
            ("status_notes", .text(notes(lifecycle, department: name))),
            ("service_name", .text(name)),
            ("service_code", .text(lifecycle.department)),
            ("description", .text("")),
            ("agency_responsible", .text(name)),
            ("service_notice", .text("")),
            ("requested_datetime", .text(status.receivedAt)),
            ("updated_datetime", status.updatedAt.map { .text(Timestamp.format($0)) } ?? .text(status.receivedAt)),
            ("expected_datetime", expected.map(Value.text) ?? .none),
        ]
    }

    /// Where it stands, in words a citizen reads: from the state and the department
    /// alone, never from a note staff wrote.
    static func notes(_ lifecycle: InquiryLifecycle, department: String) -> String {
        switch lifecycle.state {
        case .queued: "Waiting to be taken up by \(department)."
        case .inProgress, .parked: "Being handled by \(department)."
        case .awaitingCitizen: "Waiting for more information from the person who asked."
        case .answered: "Answered by \(department)."
        case .closed:
            switch lifecycle.resolution {
            case .duplicate: "Closed: the same matter is handled under another request."
            case .outOfScope: "Closed: not a matter the city handles."
            case .spam: "Closed without action."
            case .answered, nil: "Answered and closed by \(department)."
            }
        }
    }

    /// An error as the spec writes them: `[{"code", "description"}]`.
    public static func error(_ code: Int, _ description: String) -> Record {
        [("code", .number(code)), ("description", .text(description))]
    }
}

/// A GeoReport document in JSON or XML: one encoder per format, over the same records.
public enum GeoReportFormat: String, Sendable {
    case json, xml

    public var contentType: String { self == .json ? "application/json; charset=utf-8" : "text/xml; charset=utf-8" }

    /// The format a resource's name ends with (`requests.json`), and the name without it.
    public static func split(_ resource: Substring) -> (name: Substring, format: GeoReportFormat)? {
        guard let dot = resource.lastIndex(of: "."), let format = GeoReportFormat(rawValue: String(resource[resource.index(after: dot)...])) else {
            return nil
        }
        return (resource[..<dot], format)
    }

    /// A list of records; in XML inside `<root>`, each an `<element>`.
    public func document(_ records: [GeoReport.Record], root: String, element: String) -> String {
        switch self {
        case .json:
            return "[" + records.map { record in
                "{" + record.map { "\(Self.json($0.key)):\(Self.json($0.value))" }.joined(separator: ",") + "}"
            }.joined(separator: ",") + "]"
        case .xml:
            var out = #"<?xml version="1.0" encoding="UTF-8"?>"# + "\n<\(root)>"
            for record in records {
                out += "<\(element)>"
                for (key, value) in record { out += Self.xml(key, value) }
                out += "</\(element)>"
            }
            return out + "</\(root)>\n"
        }
    }

    public func errors(_ records: [GeoReport.Record]) -> String { document(records, root: "errors", element: "error") }

    private static func json(_ value: GeoReport.Value) -> String {
        switch value {
        case .text(let text): json(text)
        case .number(let number): String(number)
        case .flag(let flag): flag ? "true" : "false"
        case .none: "null"
        }
    }

    /// A JSON string, escaped as every JSON document the broker writes (``JSONWriter``).
    private static func json(_ text: String) -> String {
        var bytes: [UInt8] = []
        JSONWriter.appendQuoted(text, to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    private static func xml(_ key: String, _ value: GeoReport.Value) -> String {
        let text: String = switch value {
        case .text(let text): text
        case .number(let number): String(number)
        case .flag(let flag): flag ? "true" : "false"
        case .none: ""
        }
        let escaped = text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
        return "<\(key)>\(escaped)</\(key)>"
    }
}
