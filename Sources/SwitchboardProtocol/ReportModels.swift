import Foundation

/// `sb.admin.report`: the manager's figures for inquiries received in a window.
public struct ReportRequest: Codable, Equatable, Sendable {
    /// A day (`2026-11-01`, from its midnight UTC) or a time with its zone.
    public var from: String
    /// A day (up to the end of that day, UTC) or a time with its zone (up to it).
    public var to: String
    /// One department's figures; without it, every department's.
    public var department: String?

    public init(from: String, to: String, department: String? = nil) {
        self.from = from
        self.to = to
        self.department = department
    }
}

/// The manager's report (3/SB-CASE, "The manager's report"): per department and per
/// platform, what came in, what was answered and closed, how fast, against which
/// targets, and how often inquiries went back and forth. Times are in seconds of the
/// clocks' calendars (opening hours), as the SLA clocks count them.
public struct ManagerReport: Codable, Equatable, Sendable {
    public var status = "ok"
    /// The window: inquiries received at or after `from` and before `to`.
    public var from: String
    public var to: String
    public var generatedAt: String
    /// Per department and platform, then per department with `platform` = `all`, then
    /// the whole city (`department` = `all`, `platform` = `all`).
    public var rows: [Row]
    /// Inquiries received per day (UTC) and department: the volumes over time.
    public var days: [Day]

    public struct Row: Codable, Equatable, Sendable {
        public var department: String
        public var departmentName: String
        public var platform: String
        public var received = 0
        /// Inquiries whose citizen got at least one answer.
        public var answered = 0
        /// Inquiries closed now.
        public var closed = 0
        public var firstResponseP50: Double?
        public var firstResponseP90: Double?
        public var resolutionP50: Double?
        public var resolutionP90: Double?
        /// Whole-inquiry clocks that met their target, and that breached it.
        public var firstResponseMet = 0
        public var firstResponseBreached = 0
        public var resolutionMet = 0
        public var resolutionBreached = 0
        /// Handoffs between departments, and returns to the front office, in all.
        public var handoffs = 0
        public var returns = 0
        /// Inquiries moved between departments (handoffs and returns) three times or more.
        public var handedOnThreeTimes = 0
        /// Inquiries reopened after a close, and their share of those ever closed.
        public var reopened = 0
        public var reopenRate: Double?
        /// Inquiries that came through an account that is not active and official.
        public var unofficial = 0

        public init(department: String, departmentName: String, platform: String) {
            self.department = department
            self.departmentName = departmentName
            self.platform = platform
        }

        enum CodingKeys: String, CodingKey {
            case department, platform, received, answered, closed, handoffs, returns, reopened, unofficial
            case departmentName = "department_name"
            case firstResponseP50 = "first_response_p50_seconds"
            case firstResponseP90 = "first_response_p90_seconds"
            case resolutionP50 = "resolution_p50_seconds"
            case resolutionP90 = "resolution_p90_seconds"
            case firstResponseMet = "first_response_met"
            case firstResponseBreached = "first_response_breached"
            case resolutionMet = "resolution_met"
            case resolutionBreached = "resolution_breached"
            case handedOnThreeTimes = "handed_on_three_times"
            case reopenRate = "reopen_rate"
        }
    }

    public struct Day: Codable, Equatable, Sendable {
        public var day: String
        public var department: String
        public var received: Int

        public init(day: String, department: String, received: Int) {
            self.day = day
            self.department = department
            self.received = received
        }
    }

    public init(from: String, to: String, generatedAt: String, rows: [Row], days: [Day]) {
        self.from = from
        self.to = to
        self.generatedAt = generatedAt
        self.rows = rows
        self.days = days
    }

    enum CodingKeys: String, CodingKey {
        case status, from, to, rows, days
        case generatedAt = "generated_at"
    }

    /// The whole city's row, the departments' rows, or one department's per platform.
    public var city: Row? { rows.first { $0.department == "all" } }
    public var departments: [Row] { rows.filter { $0.platform == "all" && $0.department != "all" } }
    public func platforms(of department: String) -> [Row] { rows.filter { $0.department == department && $0.platform != "all" } }
}
