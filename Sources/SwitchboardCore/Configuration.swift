import Foundation
import SwitchboardProtocol
import Yams

/// A department: one back-office queue, served as the MDP service named by ``id``.
public struct Department: Sendable, Equatable {
    public var id: String
    public var name: String
    /// The accounts this department answers through, as configured: they seed the channel
    /// registry on the broker's first start, after which the registry is the source of truth.
    public var accounts: [OfficialAccount]
    /// Whether department worker processes are expected to serve its queue. A desk of
    /// agents (the front office, by default) has none, and no alert pages for it.
    public var expectsWorkers: Bool

    public init(id: String, name: String, accounts: [OfficialAccount] = [], expectsWorkers: Bool = true) {
        self.id = id
        self.name = name
        self.accounts = accounts
        self.expectsWorkers = expectsWorkers
    }
}

public struct OfficialAccount: Sendable, Equatable, Hashable {
    public var platform: Platform
    public var handle: String

    public init(platform: Platform, handle: String) {
        self.platform = platform
        self.handle = handle
    }
}

/// Everything a city configures: departments, routing rules and limits. Loaded from one
/// YAML file, validated as a whole at start-up.
public struct SwitchboardConfiguration: Sendable {
    public var frontOffice: String
    public var departments: [Department]
    public var rules: [RoutingRule]
    public var maxTextLength: Int
    /// Deliveries after which an inquiry no worker acknowledged is parked.
    public var maxDeliveries: Int
    /// Ready inquiries a department with workers connected may have before the answers to
    /// the gateways feeding it wait for the workers to catch up; 0 never holds one.
    public var maxReadyBacklog = 10_000
    /// Response-time targets and what a breach triggers.
    public var sla = SLAPolicy()
    /// How long an agent's claim lasts unless renewed, in seconds.
    public var claimLease: Double = 15 * 60
    /// How long closed inquiries keep their personal data.
    public var retention = RetentionPolicy()
    /// How case numbers are shown (`case_prefix`).
    public var caseNumbering = CaseNumbering()

    public var router: Router { Router(rules: rules, frontOffice: frontOffice) }
    public var departmentIDs: Set<String> { Set(departments.map(\.id)) }

    public var envelopeDecoder: EnvelopeDecoder { EnvelopeDecoder(maxTextLength: maxTextLength) }
    public func department(_ id: String) -> Department? { departments.first { $0.id == id } }

    /// The embedded demo city, used when no `--config` is given.
    /// The demo city's YAML, as embedded and as in `deploy/switchboard.yaml`.
    public static var demoYAML: String { demoCityYAML }

    public static func demo() -> SwitchboardConfiguration {
        // The embedded text is tested to load; a failure here is a build defect.
        do { return try parse(yaml: demoCityYAML) } catch { preconditionFailure("embedded demo configuration is invalid: \(error)") }
    }

    public static func load(path: String) throws -> SwitchboardConfiguration {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw ConfigurationError(line: nil, field: nil, message: "cannot read \(path): \(error.localizedDescription)")
        }
        return try parse(yaml: text)
    }

    public static func parse(yaml text: String) throws(ConfigurationError) -> SwitchboardConfiguration {
        let root: Node
        do {
            guard let node = try Yams.compose(yaml: text) else {
                throw ConfigurationError(line: nil, field: nil, message: "the configuration is empty")
            }
            root = node
        } catch let error as ConfigurationError {
            throw error
        } catch let YamlError.scanner(_, problem, mark, _), let YamlError.parser(_, problem, mark, _), let YamlError.composer(_, problem, mark, _) {
            throw ConfigurationError(line: mark.line, field: nil, message: "YAML syntax: \(problem)")
        } catch {
            throw ConfigurationError(line: nil, field: nil, message: "YAML syntax: \(error)")
        }
        return try ConfigurationReader(root: root).read()
    }
}

/// A configuration mistake, with the line and the field, so it can be fixed at once.
public struct ConfigurationError: Error, Equatable, CustomStringConvertible {
    public let line: Int?
    public let field: String?
    public let message: String

    public init(line: Int?, field: String?, message: String) {
        self.line = line
        self.field = field
        self.message = message
    }

    public var description: String {
        let place = [line.map { "line \($0)" }, field].compactMap { $0 }.joined(separator: ", ")
        return place.isEmpty ? message : "\(place): \(message)"
    }
}

/// Reads the YAML node tree into a configuration, checking names and references.
private final class ConfigurationReader {
    let root: Node
    /// Per-department `sla` mappings, read once the global policy is known.
    var departmentSLANodes: [(String, (node: Node, path: String))] = []
    /// Per-department `retention` mappings.
    var departmentRetentionNodes: [(String, (node: Node, path: String))] = []
    /// Departments whose `workers:` was given.
    var explicitWorkers: Set<String> = []

    init(root: Node) { self.root = root }

    func read() throws(ConfigurationError) -> SwitchboardConfiguration {
        var top = try YAMLFields(root, path: "")
        var departments = try top.list("departments", required: true) { node, path throws(ConfigurationError) in try department(node, path) }
        var seen = Set<String>()
        for (index, department) in departments.enumerated() where !seen.insert(department.id).inserted {
            throw top.error("departments[\(index)].id", "department \"\(department.id)\" is defined twice")
        }
        let frontOffice = try top.string("front_office") ?? "front-office"
        guard seen.contains(frontOffice) else {
            throw top.error("front_office", "front office \"\(frontOffice)\" is not a department; add it under departments")
        }
        var limits = try top.optionalMapping("limits")
        let maxText = try limits?.int("max_text_length", in: 1...1_000_000) ?? 5_000
        let maxDeliveries = try limits?.int("max_deliveries", in: 1...1_000) ?? 5
        let maxReadyBacklog = try limits?.int("max_ready_backlog", in: 0...100_000_000) ?? 10_000
        try limits?.rejectUnknown()
        let rules = try top.list("rules", required: false) { node, path throws(ConfigurationError) in try rule(node, path, departments: seen) }
        var policy = SLAPolicy()
        if var calendars = try top.optionalMapping("calendars") {
            policy.calendars = try self.calendars(&calendars)
        }
        if var sla = try top.optionalMapping("sla") {
            policy.calendar = try calendarName(&sla, known: policy.calendars)
            if var targets = try sla.optionalMapping("targets") {
                policy.defaults.merge(try self.targets(&targets, known: policy.calendars)) { $1 }
            }
            if var escalation = try sla.optionalMapping("escalation") {
                switch try escalation.string("action") ?? "raise_priority" {
                case "none": policy.escalation = .none
                case "raise_priority": policy.escalation = .raisePriority
                case "move":
                    guard let target = try escalation.string("department"), seen.contains(target) else {
                        throw escalation.error("\(escalation.path).department", "escalation by move needs a department that exists")
                    }
                    policy.escalation = .moveTo(target)
                case let other:
                    throw escalation.error("\(escalation.path).action", "escalation action \"\(other)\" must be none, raise_priority or move")
                }
                try escalation.rejectUnknown()
            }
            try sla.rejectUnknown()
        }
        for (department, node) in departmentSLANodes {
            var fields = try YAMLFields(node.node, path: node.path)
            policy.departmentCalendars[department] = try calendarName(&fields, known: policy.calendars)
            policy.perDepartment[department] = try targets(&fields, known: policy.calendars)
        }
        var lease = 15.0 * 60
        if var agents = try top.optionalMapping("agents") {
            lease = try agents.duration("lease") ?? lease
            try agents.rejectUnknown()
        }
        var retention = RetentionPolicy()
        if var fields = try top.optionalMapping("retention") {
            let periods = try self.periods(&fields)
            retention.closed = periods.closed ?? retention.closed
            retention.byResolution.merge(periods.byResolution) { $1 }
            retention.runEvery = try fields.duration("run_every") ?? retention.runEvery
            retention.batchSize = try fields.int("batch_size", in: 1...100_000) ?? retention.batchSize
            try fields.rejectUnknown()
        }
        for (department, node) in departmentRetentionNodes {
            var fields = try YAMLFields(node.node, path: node.path)
            retention.perDepartment[department] = try periods(&fields)
            try fields.rejectUnknown()
        }
        var numbering = CaseNumbering()
        if let prefix = try top.string("case_prefix") {
            guard prefix.count <= 8, !prefix.contains(where: { $0.isNumber || $0.isWhitespace }) else {
                throw top.error("case_prefix", "a case prefix is at most 8 characters, with no digits or spaces (such as R- or CASE-)")
            }
            numbering.prefix = prefix
        }
        // Desks of agents: the front office unless it says it has workers.
        for index in departments.indices where departments[index].id == frontOffice && !explicitWorkers.contains(frontOffice) {
            departments[index].expectsWorkers = false
        }
        try top.rejectUnknown()
        var configuration = SwitchboardConfiguration(frontOffice: frontOffice, departments: departments, rules: rules, maxTextLength: maxText, maxDeliveries: maxDeliveries)
        configuration.maxReadyBacklog = maxReadyBacklog
        configuration.sla = policy
        configuration.claimLease = lease
        configuration.retention = retention
        configuration.caseNumbering = numbering
        return configuration
    }

    /// `closed: 180d` and `resolutions: {spam: 30d}`, both optional.
    func periods(_ fields: inout YAMLFields) throws(ConfigurationError) -> RetentionPolicy.Periods {
        var periods = RetentionPolicy.Periods(closed: try fields.duration("closed"))
        if var resolutions = try fields.optionalMapping("resolutions") {
            for resolution in Resolution.allCases {
                if let seconds = try resolutions.duration(resolution.rawValue) { periods.byResolution[resolution] = seconds }
            }
            try resolutions.rejectUnknown()
        }
        return periods
    }

    /// `urgent: {first_response: 1h, resolution: 8h, calendar: 24/7}` and so on, for any
    /// priorities given; a calendar named must be defined under `calendars` (or be `24/7`).
    func targets(_ fields: inout YAMLFields, known calendars: [String: BusinessCalendar]) throws(ConfigurationError) -> [Priority: SLATarget] {
        var result: [Priority: SLATarget] = [:]
        for priority in Priority.allCases {
            guard var target = try fields.optionalMapping(priority.rawValue) else { continue }
            guard let first = try target.duration("first_response"), let resolution = try target.duration("resolution") else {
                throw target.error(target.path, "\(target.path) needs first_response and resolution, such as 4h and 2d")
            }
            let calendar = try calendarName(&target, known: calendars)
            try target.rejectUnknown()
            result[priority] = SLATarget(firstResponse: first, resolution: resolution, calendar: calendar)
        }
        try fields.rejectUnknown()
        return result
    }

    /// A mapping's `calendar:`, which must name a calendar defined under `calendars`, or `24/7`.
    func calendarName(_ fields: inout YAMLFields, known calendars: [String: BusinessCalendar]) throws(ConfigurationError) -> String? {
        guard let name = try fields.string("calendar") else { return nil }
        guard name == BusinessCalendar.alwaysOpenName || calendars[name] != nil else {
            let defined = calendars.keys.sorted() + [BusinessCalendar.alwaysOpenName]
            throw fields.error(fields.name("calendar"), "calendar \"\(name)\" is not defined under calendars; the calendars are \(defined.joined(separator: ", "))")
        }
        return name
    }

    /// `office: {time_zone: Europe/Brussels, hours: {monday: "08:00-17:00", …}, holidays: [2026-12-25]}`.
    func calendars(_ fields: inout YAMLFields) throws(ConfigurationError) -> [String: BusinessCalendar] {
        var result: [String: BusinessCalendar] = [:]
        result[BusinessCalendar.alwaysOpenName] = .alwaysOpen
        for name in fields.pairs.map(\.key) {
            guard name.range(of: #"^[a-z0-9][a-z0-9._-]{0,62}$"#, options: .regularExpression) != nil else {
                throw fields.error(fields.name(name), "calendar name \"\(name)\" must be lower-case letters, digits, '.', '_' or '-' (24/7 is built in)")
            }
            guard var calendar = try fields.optionalMapping(name) else {
                throw fields.error(fields.name(name), "calendar \(name) needs time_zone and hours")
            }
            guard let zoneName = try calendar.string("time_zone") else {
                throw calendar.error(calendar.name("time_zone"), "calendar \(name) needs a time_zone, such as Europe/Brussels")
            }
            guard let zone = TimeZone(identifier: zoneName) else {
                throw calendar.error(calendar.name("time_zone"), "unknown time zone \"\(zoneName)\"; use an IANA name such as Europe/Brussels or America/New_York")
            }
            guard var week = try calendar.optionalMapping("hours") else {
                throw calendar.error(calendar.name("hours"), "calendar \(name) needs hours, such as monday: 08:00-17:00")
            }
            var hours: [Int: [Range<Int>]] = [:]
            for (index, day) in Self.weekdays.enumerated() {
                guard let text = try week.string(day) else { continue }
                guard let ranges = Self.openingHours(text) else {
                    throw week.error(week.name(day), "\(week.name(day)) \"\(text)\" must be closed or opening hours such as 08:00-17:00 or 08:00-12:00, 13:00-17:00")
                }
                if !ranges.isEmpty { hours[index + 1] = ranges }
            }
            try week.rejectUnknown()
            guard !hours.isEmpty else { throw week.error(week.path, "calendar \(name) is never open; give opening hours for at least one weekday") }
            var holidays = Set<BusinessCalendar.LocalDay>()
            for (index, text) in try calendar.strings("holidays").enumerated() {
                guard let day = BusinessCalendar.LocalDay(text) else {
                    throw calendar.error("\(calendar.name("holidays"))[\(index)]", "holiday \"\(text)\" must be a date such as 2026-12-25")
                }
                holidays.insert(day)
            }
            try calendar.rejectUnknown()
            result[name] = BusinessCalendar(name: name, timeZone: zone, hours: hours, holidays: holidays)
        }
        return result
    }

    /// Weekdays in Foundation's order (1 is Sunday).
    static let weekdays = ["sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"]

    /// `08:00-17:00`, `08:00-12:00, 13:00-17:00` or `closed` (no hours), in minutes
    /// after midnight, in order and not overlapping; `24:00` ends a day. Nil otherwise.
    static func openingHours(_ text: String) -> [Range<Int>]? {
        if text.trimmingCharacters(in: .whitespaces) == "closed" { return [] }
        var ranges: [Range<Int>] = []
        for part in text.split(separator: ",") {
            let ends = part.trimmingCharacters(in: .whitespaces).split(separator: "-")
            guard ends.count == 2, let open = minute(ends[0]), let close = minute(ends[1]), open < close,
                  open >= (ranges.last?.upperBound ?? 0) else { return nil }
            ranges.append(open..<close)
        }
        return ranges.isEmpty ? nil : ranges
    }

    /// `08:00` as minutes after midnight; `24:00` is the end of the day.
    private static func minute(_ text: Substring) -> Int? {
        let parts = text.split(separator: ":")
        guard parts.count == 2, parts[0].count == 2, parts[1].count == 2, let hour = Int(parts[0]), let minute = Int(parts[1]),
              minute < 60, hour < 24 || (hour == 24 && minute == 0) else { return nil }
        return hour * 60 + minute
    }

    func department(_ node: Node, _ path: String) throws(ConfigurationError) -> Department {
        var fields = try YAMLFields(node, path: path)
        guard let id = try fields.string("id") else { throw fields.error("\(path).id", "a department needs an id (its MDP service name)") }
        guard id.range(of: #"^[a-z0-9][a-z0-9._-]{0,62}$"#, options: .regularExpression) != nil else {
            throw fields.error("\(path).id", "department id \"\(id)\" must be lower-case letters, digits, '.', '_' or '-', at most 63 characters")
        }
        guard !ServiceName.isBrokers(id) && !id.hasPrefix(ServiceName.outboundPrefix) else {
            throw fields.error("\(path).id", "department id \"\(id)\" uses a reserved prefix (mmi., sb. or outbound.)")
        }
        let name = try fields.string("name") ?? id
        if let sla = fields.value("sla") { departmentSLANodes.append((id, (sla, "\(path).sla"))) }
        if let retention = fields.value("retention") { departmentRetentionNodes.append((id, (retention, "\(path).retention"))) }
        let accounts = try fields.list("accounts", required: false) { node, path throws(ConfigurationError) -> OfficialAccount in
            var account = try YAMLFields(node, path: path)
            let platform = try account.platform("platform")
            guard let handle = try account.string("handle") else { throw account.error("\(path).handle", "an account needs a handle") }
            try account.rejectUnknown()
            return OfficialAccount(platform: platform, handle: handle)
        }
        let workers = try fields.bool("workers")
        if workers != nil { explicitWorkers.insert(id) }
        try fields.rejectUnknown()
        return Department(id: id, name: name, accounts: accounts, expectsWorkers: workers ?? true)
    }

    func rule(_ node: Node, _ path: String, departments: Set<String>) throws(ConfigurationError) -> RoutingRule {
        var fields = try YAMLFields(node, path: path)
        guard let name = try fields.string("name") else { throw fields.error("\(path).name", "a rule needs a name") }
        guard let department = try fields.string("department") else { throw fields.error("\(path).department", "rule \"\(name)\" needs a department") }
        guard departments.contains(department) else {
            throw fields.error("\(path).department", "rule \"\(name)\" sends to \"\(department)\", which is not a department")
        }
        var priority = Priority.normal
        if let text = try fields.string("priority") {
            guard let parsed = Priority(rawValue: text) else {
                throw fields.error("\(path).priority", "priority \"\(text)\" must be urgent, high, normal or low")
            }
            priority = parsed
        }
        let tags = try fields.strings("tags")
        var conditions = RuleConditions()
        if var match = try fields.optionalMapping("match") {
            conditions.keywords = try match.strings("keywords")
            conditions.hashtags = try match.strings("hashtags")
            conditions.accounts = try match.strings("accounts")
            conditions.languages = try match.strings("languages")
            conditions.platforms = try match.list("platforms", required: false) { node, path throws(ConfigurationError) in
                guard let text = node.string, let platform = Platform(rawValue: text) else {
                    throw ConfigurationError(line: node.mark?.line, field: path, message: "unknown platform; expected one of \(Platform.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                return platform
            }
            if let regex = try match.string("regex") {
                do { conditions.pattern = try RulePattern(regex) } catch {
                    throw match.error("\(match.path).regex", "regex /\(regex)/ does not compile")
                }
            }
            if var box = try match.optionalMapping("bbox") {
                let minLat = try box.double("min_lat"), minLon = try box.double("min_lon")
                let maxLat = try box.double("max_lat"), maxLon = try box.double("max_lon")
                guard minLat <= maxLat, minLon <= maxLon, (-90...90).contains(minLat), (-90...90).contains(maxLat),
                      (-180...180).contains(minLon), (-180...180).contains(maxLon)
                else { throw box.error(box.path, "bbox needs min_lat <= max_lat and min_lon <= max_lon, within -90..90 and -180..180") }
                try box.rejectUnknown()
                conditions.boundingBox = BoundingBox(minLat: minLat, minLon: minLon, maxLat: maxLat, maxLon: maxLon)
            }
            try match.rejectUnknown()
        }
        try fields.rejectUnknown()
        return RoutingRule(name: name, department: department, priority: priority, tags: tags, conditions: conditions)
    }
}

/// A YAML mapping read key by key, remembering keys read so that the rest are reported.
private struct YAMLFields {
    let node: Node
    let pairs: [(key: String, value: Node, line: Int?)]
    let path: String
    var seen: Set<String> = []

    init(_ node: Node, path: String) throws(ConfigurationError) {
        guard let mapping = node.mapping else {
            throw ConfigurationError(line: node.mark?.line, field: path.isEmpty ? nil : path, message: "expected a mapping of keys to values")
        }
        self.node = node
        self.path = path
        pairs = mapping.map { (key: $0.key.string ?? "", value: $0.value, line: $0.key.mark?.line) }
    }

    func name(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    func error(_ field: String, _ message: String) -> ConfigurationError {
        let key = field.split(separator: ".").last.map(String.init)?.split(separator: "[").first.map(String.init)
        let line = pairs.first { $0.key == key }?.line ?? node.mark?.line
        return ConfigurationError(line: line, field: field, message: message)
    }

    mutating func value(_ key: String) -> Node? {
        seen.insert(key)
        guard let pair = pairs.first(where: { $0.key == key }) else { return nil }
        if pair.value.null != nil { return nil }
        return pair.value
    }

    mutating func string(_ key: String) throws(ConfigurationError) -> String? {
        guard let node = value(key) else { return nil }
        guard node.scalar != nil, let text = node.string, !text.isEmpty else {
            throw ConfigurationError(line: node.mark?.line, field: name(key), message: "\(name(key)) must be a non-empty string")
        }
        return text
    }

    mutating func bool(_ key: String) throws(ConfigurationError) -> Bool? {
        guard let node = value(key) else { return nil }
        guard let flag = node.bool else {
            throw ConfigurationError(line: node.mark?.line, field: name(key), message: "\(name(key)) must be true or false")
        }
        return flag
    }

    mutating func int(_ key: String, in range: ClosedRange<Int>) throws(ConfigurationError) -> Int? {
        guard let node = value(key) else { return nil }
        guard let number = node.int, range.contains(number) else {
            throw ConfigurationError(line: node.mark?.line, field: name(key), message: "\(name(key)) must be a whole number from \(range.lowerBound) to \(range.upperBound)")
        }
        return number
    }

    mutating func double(_ key: String) throws(ConfigurationError) -> Double {
        guard let node = value(key) else { throw error(name(key), "\(name(key)) is required") }
        guard let number = node.float else {
            throw ConfigurationError(line: node.mark?.line, field: name(key), message: "\(name(key)) must be a number")
        }
        return number
    }

    /// A duration such as `500ms`, `90s`, `15m`, `8h` or `5d`, in seconds.
    mutating func duration(_ key: String) throws(ConfigurationError) -> Double? {
        guard let text = try string(key) else { return nil }
        if let seconds = DurationText.seconds(text), seconds > 0 { return seconds }
        throw error(name(key), "\(name(key)) \"\(text)\" must be a positive duration such as 500ms, 90s, 15m, 8h or 5d")
    }

    mutating func platform(_ key: String) throws(ConfigurationError) -> Platform {
        guard let text = try string(key) else { throw error(name(key), "\(name(key)) is required") }
        guard let platform = Platform(rawValue: text) else {
            throw error(name(key), "unknown platform \"\(text)\"; expected one of \(Platform.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return platform
    }

    mutating func optionalMapping(_ key: String) throws(ConfigurationError) -> YAMLFields? {
        guard let node = value(key) else { return nil }
        return try YAMLFields(node, path: name(key))
    }

    mutating func list<T>(_ key: String, required: Bool, _ element: (Node, String) throws(ConfigurationError) -> T) throws(ConfigurationError) -> [T] {
        guard let node = value(key) else {
            if required { throw error(name(key), "\(name(key)) is required") }
            return []
        }
        guard let sequence = node.sequence else {
            throw ConfigurationError(line: node.mark?.line, field: name(key), message: "\(name(key)) must be a list")
        }
        var result: [T] = []
        for (index, item) in sequence.enumerated() { result.append(try element(item, "\(name(key))[\(index)]")) }
        return result
    }

    mutating func strings(_ key: String) throws(ConfigurationError) -> [String] {
        try list(key, required: false) { node, path throws(ConfigurationError) in
            guard node.scalar != nil, let text = node.string, !text.isEmpty else {
                throw ConfigurationError(line: node.mark?.line, field: path, message: "\(path) must be a non-empty string")
            }
            return text
        }
    }

    func rejectUnknown() throws(ConfigurationError) {
        if let extra = pairs.first(where: { !seen.contains($0.key) }) {
            throw ConfigurationError(line: extra.line, field: name(extra.key), message: "unknown setting \"\(extra.key)\"")
        }
    }
}
