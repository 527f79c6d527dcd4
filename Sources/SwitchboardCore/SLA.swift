import Foundation

/// Response-time targets for one department and priority.
public struct SLATarget: Codable, Sendable, Equatable {
    /// Seconds until the citizen first hears back (a reply or a request for information).
    public var firstResponse: Double
    /// Seconds until the inquiry is closed.
    public var resolution: Double

    public init(firstResponse: Double, resolution: Double) {
        self.firstResponse = firstResponse
        self.resolution = resolution
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

/// The targets of every department and priority, and the escalation.
public struct SLAPolicy: Sendable, Equatable {
    public var defaults: [Priority: SLATarget]
    public var perDepartment: [String: [Priority: SLATarget]]
    public var escalation: Escalation

    public init(defaults: [Priority: SLATarget] = SLAPolicy.standardDefaults, perDepartment: [String: [Priority: SLATarget]] = [:], escalation: Escalation = .raisePriority) {
        self.defaults = defaults
        self.perDepartment = perDepartment
        self.escalation = escalation
    }

    public func target(department: String, priority: Priority) -> SLATarget {
        perDepartment[department]?[priority] ?? defaults[priority] ?? SLATarget(firstResponse: 86_400, resolution: 432_000)
    }

    public static let standardDefaults: [Priority: SLATarget] = [
        .urgent: SLATarget(firstResponse: 3_600, resolution: 28_800),
        .high: SLATarget(firstResponse: 4 * 3_600, resolution: 2 * 86_400),
        .normal: SLATarget(firstResponse: 86_400, resolution: 5 * 86_400),
        .low: SLATarget(firstResponse: 3 * 86_400, resolution: 10 * 86_400),
    ]
}

/// A stopwatch against one target. Time only accrues while it runs; it pauses while
/// the inquiry waits for the citizen and stops when its goal is met.
public struct SLAClock: Codable, Sendable, Equatable {
    public var target: Double
    /// Seconds accrued before `runningSince`.
    public var accrued: Double = 0
    public var runningSince: Date?
    public var met = false
    public var warned = false
    public var breached = false

    public init(target: Double, startingAt start: Date) {
        self.target = target
        runningSince = start
    }

    public func elapsed(at now: Date) -> Double {
        accrued + (runningSince.map { max(0, now.timeIntervalSince($0)) } ?? 0)
    }

    /// Where it stands, as agents' answers name it: met, breached, warning (past 80%),
    /// paused (waiting for the citizen) or running.
    public var state: String {
        met ? "met" : breached ? "breached" : warned ? "warning" : runningSince == nil ? "paused" : "running"
    }

    mutating func pause(at now: Date) {
        accrued = elapsed(at: now)
        runningSince = nil
    }

    mutating func resume(at now: Date) {
        if runningSince == nil && !met { runningSince = now }
    }

    mutating func stop(at now: Date) {
        pause(at: now)
        met = true
    }

    /// When the next alert is due, if the clock runs.
    func nextAlert() -> Date? {
        guard let since = runningSince, !breached else { return nil }
        let threshold = warned ? target : 0.8 * target
        return since.addingTimeInterval(threshold - accrued)
    }

    /// The alert due at `now`, at most one per call, each level at most once.
    mutating func check(at now: Date) -> SLAAlert.Level? {
        guard runningSince != nil, !breached else { return nil }
        let elapsed = elapsed(at: now)
        if elapsed >= target {
            warned = true
            breached = true
            return .breach
        }
        if !warned && elapsed >= 0.8 * target {
            warned = true
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
        self.department = department
        legFirstResponse = SLAClock(target: target.firstResponse, startingAt: now)
        legResolution = SLAClock(target: target.resolution, startingAt: now)
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

    /// Follows the inquiry into `state` at `department`.
    public mutating func follow(_ entry: TimelineEntry, priority: Priority, policy: SLAPolicy) {
        let now = entry.at
        if entry.department != department {
            // A new leg: its clocks start now against the new department's targets.
            let target = policy.target(department: entry.department, priority: priority)
            department = entry.department
            legFirstResponse = SLAClock(target: target.firstResponse, startingAt: now)
            legResolution = SLAClock(target: target.resolution, startingAt: now)
        }
        switch entry.to {
        case .awaitingCitizen:
            legFirstResponse.stop(at: now)
            wholeFirstResponse.stop(at: now)
            for clock in clocks { self[keyPath: clock].pause(at: now) }
        case .answered:
            legFirstResponse.stop(at: now)
            wholeFirstResponse.stop(at: now)
        case .closed:
            for clock in clocks { self[keyPath: clock].stop(at: now) }
        case .queued, .inProgress, .parked:
            if entry.event == "inquiry.reopened" {
                wholeResolution.met = false
                legResolution.met = false
            }
            for clock in clocks { self[keyPath: clock].resume(at: now) }
        }
    }

    /// Alerts due at `now`; each fires once.
    public mutating func check(at now: Date) -> [SLAAlert] {
        let scopes: [(WritableKeyPath<InquirySLA, SLAClock>, SLAAlert.Scope, SLAAlert.Goal)] = [
            (\.legFirstResponse, .department, .firstResponse), (\.legResolution, .department, .resolution),
            (\.wholeFirstResponse, .inquiry, .firstResponse), (\.wholeResolution, .inquiry, .resolution),
        ]
        var alerts: [SLAAlert] = []
        for (clock, scope, goal) in scopes {
            if let level = self[keyPath: clock].check(at: now) {
                alerts.append(SLAAlert(level: level, scope: scope, goal: goal, department: department,
                                       target: self[keyPath: clock].target, elapsed: self[keyPath: clock].elapsed(at: now)))
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
