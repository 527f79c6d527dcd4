import Foundation

/// Response-time targets for one department and priority.
public struct SLATarget: Codable, Sendable, Equatable {
    /// Seconds until the citizen first hears back (a reply or a request for information).
    public var firstResponse: Double
    /// Seconds until the inquiry is closed.
    public var resolution: Double
    /// The calendar both count in, by name; nil for the department's (or the policy's).
    public var calendar: String?

    public init(firstResponse: Double, resolution: Double, calendar: String? = nil) {
        self.firstResponse = firstResponse
        self.resolution = resolution
        self.calendar = calendar
    }
}

/// What happens when a target is breached.
public enum Escalation: Sendable, Equatable {
    /// Only the `sla.breach` event.
    case none
    /// One step up: low → normal → high → urgent.
    case raisePriority
    /// A queued inquiry moves to this department's queue (an escalation desk).
    case moveTo(String)
}

/// The targets of every department and priority, the calendars they count in, and the
/// escalation.
public struct SLAPolicy: Sendable, Equatable {
    public var defaults: [Priority: SLATarget]
    public var perDepartment: [String: [Priority: SLATarget]]
    public var escalation: Escalation
    /// The calendars the configuration defines, by name.
    public var calendars: [String: BusinessCalendar] = [:]
    /// The calendar of targets that name none: each department's, else this one; without
    /// either, clocks run around the clock.
    public var calendar: String?
    public var departmentCalendars: [String: String] = [:]

    public init(defaults: [Priority: SLATarget] = SLAPolicy.standardDefaults, perDepartment: [String: [Priority: SLATarget]] = [:], escalation: Escalation = .raisePriority) {
        self.defaults = defaults
        self.perDepartment = perDepartment
        self.escalation = escalation
    }

    public func target(department: String, priority: Priority) -> SLATarget {
        perDepartment[department]?[priority] ?? defaults[priority] ?? SLATarget(firstResponse: 86_400, resolution: 432_000)
    }

    /// The calendar a department's clocks count in at a priority. What names a priority
    /// comes first (so `urgent` may run 24/7 while the rest keep office hours): the
    /// department's target for it, the policy's target for it, then the department's
    /// calendar, then the policy's.
    public func calendar(department: String, priority: Priority) -> BusinessCalendar {
        let name = perDepartment[department]?[priority]?.calendar ?? defaults[priority]?.calendar ?? departmentCalendars[department] ?? calendar
        return name.flatMap { calendars[$0] } ?? .alwaysOpen
    }

    public static let standardDefaults: [Priority: SLATarget] = [
        .urgent: SLATarget(firstResponse: 3_600, resolution: 28_800),
        .high: SLATarget(firstResponse: 4 * 3_600, resolution: 2 * 86_400),
        .normal: SLATarget(firstResponse: 86_400, resolution: 5 * 86_400),
        .low: SLATarget(firstResponse: 3 * 86_400, resolution: 10 * 86_400),
    ]
}

/// A stopwatch against one target, counting in a ``BusinessCalendar``'s opening hours.
/// Time only accrues while it runs; it pauses while the inquiry waits for the citizen
/// and stops when its goal is met.
///
/// While it runs it knows the moments its warning and its target fall due, worked out
/// in its calendar when it started or resumed: what reads an inquiry (listings, the
/// store's alert index) needs no calendar to tell how long is left.
public struct SLAClock: Codable, Sendable, Equatable {
    public var target: Double
    /// Opening seconds accrued before `runningSince`.
    public var accrued: Double = 0
    public var runningSince: Date?
    public var met = false
    public var warned = false
    public var breached = false
    /// While it runs: when the target is reached, and (until warned) when 80% of it is.
    /// Nil in records written before calendars, whose clocks ran around the clock.
    public var due: Date?
    public var warnAt: Date?

    public init(target: Double, startingAt start: Date, calendar: BusinessCalendar = .alwaysOpen) {
        self.target = target
        runningSince = start
        schedule(calendar)
    }

    /// The opening seconds it has counted by `now`.
    public func elapsed(at now: Date, in calendar: BusinessCalendar = .alwaysOpen) -> Double {
        accrued + (runningSince.map { calendar.openSeconds(from: $0, to: now) } ?? 0)
    }

    /// When the target is reached, if it keeps running.
    public var dueDate: Date? {
        guard let since = runningSince, !met else { return nil }
        return due ?? since.addingTimeInterval(target - accrued)
    }

    private var warningDate: Date? {
        guard let since = runningSince, !met else { return nil }
        return warnAt ?? since.addingTimeInterval(0.8 * target - accrued)
    }

    /// Seconds until the target while it runs (negative once breached); paused, the
    /// opening time it has left.
    public func secondsLeft(at now: Date) -> Double {
        dueDate.map { $0.timeIntervalSince(now) } ?? target - accrued
    }

    private mutating func schedule(_ calendar: BusinessCalendar) {
        guard let since = runningSince, !met else {
            due = nil
            warnAt = nil
            return
        }
        due = calendar.date(after: target - accrued, from: since) ?? .distantFuture
        warnAt = warned ? nil : calendar.date(after: 0.8 * target - accrued, from: since) ?? .distantFuture
    }

    /// Where it stands, as agents' answers name it: met, breached, warning (past 80%),
    /// paused (waiting for the citizen) or running.
    public var state: String {
        met ? "met" : breached ? "breached" : warned ? "warning" : runningSince == nil ? "paused" : "running"
    }

    mutating func pause(at now: Date, in calendar: BusinessCalendar) {
        accrued = elapsed(at: now, in: calendar)
        runningSince = nil
        schedule(calendar)
    }

    mutating func resume(at now: Date, in calendar: BusinessCalendar) {
        if runningSince == nil && !met {
            runningSince = now
            schedule(calendar)
        }
    }

    mutating func stop(at now: Date, in calendar: BusinessCalendar) {
        pause(at: now, in: calendar)
        met = true
    }

    /// When the next alert is due, if the clock runs.
    func nextAlert() -> Date? {
        guard !breached else { return nil }
        return warned ? dueDate : warningDate
    }

    /// The alert due at `now`, at most one per call, each level at most once.
    mutating func check(at now: Date) -> SLAAlert.Level? {
        guard !breached, let due = dueDate else { return nil }
        if now >= due {
            warned = true
            breached = true
            return .breach
        }
        if !warned, let warning = warningDate, now >= warning {
            warned = true
            warnAt = nil
            return .warning
        }
        return nil
    }
}

/// An SLA warning (80% of a target) or breach (100%).
public struct SLAAlert: Codable, Sendable, Equatable {
    public enum Level: String, Codable, Sendable { case warning, breach }
    public enum Scope: String, Codable, Sendable { case department, inquiry }
    public enum Goal: String, Codable, Sendable {
        case firstResponse = "first_response"
        case resolution
    }

    public var level: Level
    public var scope: Scope
    public var goal: Goal
    public var department: String
    public var target: Double
    public var elapsed: Double

    /// The event topic: `sla.warning` or `sla.breach`.
    public var event: String { "sla.\(level.rawValue)" }
}

/// The four clocks of one inquiry: first response and resolution, for the inquiry as a
/// whole and for its current department's leg (restarted at every handoff).
public struct InquirySLA: Codable, Sendable, Equatable {
    public private(set) var department: String
    public private(set) var legFirstResponse: SLAClock
    public private(set) var legResolution: SLAClock
    public private(set) var wholeFirstResponse: SLAClock
    public private(set) var wholeResolution: SLAClock

    public init(department: String, priority: Priority, policy: SLAPolicy, at now: Date) {
        let target = policy.target(department: department, priority: priority)
        let calendar = policy.calendar(department: department, priority: priority)
        self.department = department
        legFirstResponse = SLAClock(target: target.firstResponse, startingAt: now, calendar: calendar)
        legResolution = SLAClock(target: target.resolution, startingAt: now, calendar: calendar)
        wholeFirstResponse = legFirstResponse
        wholeResolution = legResolution
    }

    /// Clocks as a store recorded them.
    public init(restoring department: String, legFirstResponse: SLAClock, legResolution: SLAClock, wholeFirstResponse: SLAClock,
                wholeResolution: SLAClock) {
        self.department = department
        self.legFirstResponse = legFirstResponse
        self.legResolution = legResolution
        self.wholeFirstResponse = wholeFirstResponse
        self.wholeResolution = wholeResolution
    }

    private var clocks: [WritableKeyPath<InquirySLA, SLAClock>] {
        [\.legFirstResponse, \.legResolution, \.wholeFirstResponse, \.wholeResolution]
    }

    /// Follows the inquiry into `state` at `department`. Every clock counts in the
    /// calendar of the department holding the inquiry: the whole inquiry's clocks too,
    /// which change calendar with a handoff.
    public mutating func follow(_ entry: TimelineEntry, priority: Priority, policy: SLAPolicy) {
        let now = entry.at
        var calendar = policy.calendar(department: department, priority: priority)
        if entry.department != department {
            // A new leg: its clocks start now against the new department's targets.
            let target = policy.target(department: entry.department, priority: priority)
            let next = policy.calendar(department: entry.department, priority: priority)
            department = entry.department
            legFirstResponse = SLAClock(target: target.firstResponse, startingAt: now, calendar: next)
            legResolution = SLAClock(target: target.resolution, startingAt: now, calendar: next)
            if next != calendar {
                for clock in [\InquirySLA.wholeFirstResponse, \.wholeResolution] where self[keyPath: clock].runningSince != nil {
                    self[keyPath: clock].pause(at: now, in: calendar)
                    self[keyPath: clock].resume(at: now, in: next)
                }
            }
            calendar = next
        }
        switch entry.to {
        case .awaitingCitizen:
            legFirstResponse.stop(at: now, in: calendar)
            wholeFirstResponse.stop(at: now, in: calendar)
            for clock in clocks { self[keyPath: clock].pause(at: now, in: calendar) }
        case .answered:
            legFirstResponse.stop(at: now, in: calendar)
            wholeFirstResponse.stop(at: now, in: calendar)
        case .closed:
            for clock in clocks { self[keyPath: clock].stop(at: now, in: calendar) }
        case .queued, .inProgress, .parked:
            if entry.event == "inquiry.reopened" {
                wholeResolution.met = false
                legResolution.met = false
            }
            for clock in clocks { self[keyPath: clock].resume(at: now, in: calendar) }
        }
    }

    /// The inquiry's priority changed (an escalation raised it): running clocks go on in
    /// the new priority's calendar from `now` (an urgent matter may count around the
    /// clock), as a handoff moves them to the new department's.
    public mutating func priorityChanged(from old: Priority, to new: Priority, policy: SLAPolicy, at now: Date) {
        let before = policy.calendar(department: department, priority: old), after = policy.calendar(department: department, priority: new)
        guard before != after else { return }
        for clock in clocks where self[keyPath: clock].runningSince != nil {
            self[keyPath: clock].pause(at: now, in: before)
            self[keyPath: clock].resume(at: now, in: after)
        }
    }

    /// When the inquiry's tightest running clock falls due; nil when none runs.
    public var due: Date? {
        clocks.compactMap { self[keyPath: $0].dueDate }.min()
    }

    /// Alerts due at `now`; each fires once. `calendar` is the one the clocks count in
    /// (the department's, for the inquiry's priority), for the time each alert reports.
    public mutating func check(at now: Date, in calendar: BusinessCalendar = .alwaysOpen) -> [SLAAlert] {
        let scopes: [(WritableKeyPath<InquirySLA, SLAClock>, SLAAlert.Scope, SLAAlert.Goal)] = [
            (\.legFirstResponse, .department, .firstResponse), (\.legResolution, .department, .resolution),
            (\.wholeFirstResponse, .inquiry, .firstResponse), (\.wholeResolution, .inquiry, .resolution),
        ]
        var alerts: [SLAAlert] = []
        for (clock, scope, goal) in scopes {
            if let level = self[keyPath: clock].check(at: now) {
                alerts.append(SLAAlert(level: level, scope: scope, goal: goal, department: department,
                                       target: self[keyPath: clock].target, elapsed: self[keyPath: clock].elapsed(at: now, in: calendar)))
            }
        }
        return alerts
    }

    /// When the next alert falls due, or nil when no clock runs.
    public var nextAlert: Date? {
        clocks.compactMap { self[keyPath: $0].nextAlert() }.min()
    }
}

extension Priority {
    /// One step more urgent; urgent stays urgent.
    public var raised: Priority {
        switch self {
        case .low: .normal
        case .normal: .high
        case .high, .urgent: .urgent
        }
    }
}
