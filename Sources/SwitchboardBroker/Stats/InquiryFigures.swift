import Foundation
import SwitchboardCore
import SwitchboardProtocol
import SwitchboardStore

/// What happened to inquiries, per department, for operations: counts by where they
/// stand, moves, SLA alerts and response times. Pure: the inquiry machine feeds it each
/// move it makes, and the engine copies it into the statistics snapshot.
///
/// Only departments, clocks and numbers: never an id, a handle or a text.
struct InquiryFigures: Sendable, Equatable {
    struct Department: Sendable, Equatable {
        /// Open inquiries by where they stand (see ``Standing``).
        var standing: [Standing: Int] = [:]
        var delivered = 0
        var redelivered = 0
        var parked = 0
        /// Handoffs received, by the department they came from.
        var handoffsIn: [String: Int] = [:]
        /// Handoffs sent, by the department they went to.
        var handoffsOut: [String: Int] = [:]
        /// SLA alerts by clock (`first_response`, `resolution`) and scope.
        var warnings: [String: Int] = [:]
        var breaches: [String: Int] = [:]
        /// Breaches since midnight UTC of `breachDay`.
        var breachesToday = 0
        var breachDay = 0
        /// The inquiries behind today's breaches, each counted once.
        var breachedToday: Set<InquiryID> = []
        var firstResponse = BucketHistogram(bounds: BucketHistogram.responseTimes)
        var resolution = BucketHistogram(bounds: BucketHistogram.responseTimes)
        var leg = BucketHistogram(bounds: BucketHistogram.responseTimes)
    }

    /// Where an open inquiry stands, coarser than its lifecycle state: who holds it.
    enum Standing: String, Sendable, CaseIterable {
        case queued
        case withWorker = "with_worker"
        case withAgent = "with_agent"
        case accepted
        case awaitingCitizen = "awaiting_citizen"
        case answered
        case parked

        init?(state: LifecycleState, owner: Actor.Kind?) {
            switch state {
            case .queued: self = .queued
            case .inProgress:
                switch owner {
                case .worker: self = .withWorker
                case .agent: self = .withAgent
                default: self = .accepted
                }
            case .awaitingCitizen: self = .awaitingCitizen
            case .answered: self = .answered
            case .parked: self = .parked
            case .closed: return nil
            }
        }
    }

    private(set) var departments: [String: Department] = [:]

    /// Starts from the store's counts of open inquiries.
    mutating func restore(_ counts: [StateCount]) {
        for count in counts {
            guard let standing = Standing(state: count.state, owner: count.ownerKind) else { continue }
            update(count.department) { $0.standing[standing, default: 0] += count.count }
        }
    }

    /// A new inquiry, queued where routing put it.
    mutating func accepted(department: String) {
        update(department) { $0.standing[.queued, default: 0] += 1 }
    }

    /// An accepted inquiry the store found to repeat a stored one: it never was.
    mutating func discarded(_ record: LifecycleRecord) {
        count(record.lifecycle, -1)
    }

    /// One move of one inquiry, from `before` to `after` through `entry`.
    /// - Parameter policy: the SLA policy, whose calendars a department's leg counts in.
    mutating func moved(from before: LifecycleRecord, to after: LifecycleRecord, entry: TimelineEntry, policy: SLAPolicy) {
        let old = before.lifecycle, new = after.lifecycle
        count(old, -1)
        count(new, +1)
        update(new.department) { figures in
            if entry.event == "inquiry.delivered" {
                figures.delivered += 1
                if after.deliveries > 1 { figures.redelivered += 1 }
            }
            if new.state == .parked && old.state != .parked { figures.parked += 1 }
            if old.department != new.department { figures.handoffsIn[old.department, default: 0] += 1 }
            if !before.sla.wholeFirstResponse.met && after.sla.wholeFirstResponse.met {
                figures.firstResponse.observe(after.sla.wholeFirstResponse.accrued)
            }
            if new.state == .closed && old.state != .closed {
                figures.resolution.observe(after.sla.wholeResolution.accrued)
                figures.leg.observe(after.sla.legResolution.accrued)
            }
        }
        if old.department != new.department {
            update(old.department) { figures in
                figures.handoffsOut[new.department, default: 0] += 1
                // The leg with the old department ended: its resolution clock ran for all of it.
                let calendar = policy.calendar(department: old.department, priority: before.priority)
                figures.leg.observe(before.sla.legResolution.elapsed(at: entry.at, in: calendar))
            }
        }
    }

    /// Moves the count of where an inquiry stands (a closed one is not counted).
    private mutating func count(_ lifecycle: InquiryLifecycle, _ delta: Int) {
        guard let standing = Standing(state: lifecycle.state, owner: lifecycle.owner?.kind) else { return }
        update(lifecycle.department) { $0.standing[standing, default: 0] += delta }
    }

    private mutating func update(_ department: String, _ change: (inout Department) -> Void) {
        change(&departments[department, default: Department()])
    }

    /// An SLA alert was raised for an inquiry of `alert.department`.
    mutating func alerted(_ alert: SLAAlert, inquiry: InquiryID, at now: Date) {
        let key = "\(alert.goal.rawValue)/\(alert.scope.rawValue)"
        update(alert.department) { figures in
            switch alert.level {
            case .warning:
                figures.warnings[key, default: 0] += 1
            case .breach:
                figures.breaches[key, default: 0] += 1
                let day = Self.day(now)
                if figures.breachDay != day {
                    figures.breachDay = day
                    figures.breachesToday = 0
                    figures.breachedToday = []
                }
                figures.breachesToday += 1
                figures.breachedToday.insert(inquiry)
            }
        }
    }

    /// Breaches since midnight UTC, as of `now`.
    func breachesToday(_ department: String, at now: Date) -> Int {
        guard let figures = departments[department], figures.breachDay == Self.day(now) else { return 0 }
        return figures.breachesToday
    }

    /// Inquiries that breached a target since midnight UTC, each once.
    func inquiriesBreachedToday(_ department: String, at now: Date) -> Int {
        guard let figures = departments[department], figures.breachDay == Self.day(now) else { return 0 }
        return figures.breachedToday.count
    }

    static func day(_ date: Date) -> Int { Int((date.timeIntervalSince1970 / 86_400).rounded(.down)) }
}
