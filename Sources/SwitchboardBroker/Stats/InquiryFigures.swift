import Foundation
import SwitchboardCore
import SwitchboardStore

/// A histogram with fixed upper bounds, as Prometheus keeps one: a count per bucket,
/// the sum and the count of observations. A pure value, copied into each snapshot.
public struct BucketHistogram: Codable, Sendable, Equatable {
    /// Upper bounds, ascending; the `+Inf` bucket is implied by `count`.
    public var bounds: [Double]
    /// Observations at or below each bound (not cumulative: `cumulative` adds them up).
    public var counts: [Int]
    public var sum: Double = 0
    public var count: Int = 0

    public init(bounds: [Double]) {
        self.bounds = bounds
        counts = Array(repeating: 0, count: bounds.count)
    }

    public mutating func observe(_ value: Double) {
        let value = max(0, value)
        if let index = bounds.firstIndex(where: { value <= $0 }) { counts[index] += 1 }
        sum += value
        count += 1
    }

    /// Observations at or below each bound, as Prometheus's `le` buckets count them.
    public var cumulative: [Int] {
        var total = 0
        return counts.map { total += $0; return total }
    }

    /// Response and resolution times: a minute to ten days.
    public static let responseTimes: [Double] = [60, 300, 900, 1_800, 3_600, 7_200, 14_400, 28_800, 86_400, 172_800, 432_000, 864_000]
    /// Store commits and engine turns: a tenth of a millisecond to five seconds.
    public static let latencies: [Double] = [0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5]
    /// Rows in one group commit.
    public static let batchRows: [Double] = [1, 4, 16, 64, 256, 1_024, 4_096, 16_384]
}

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
    mutating func moved(from before: LifecycleRecord, to after: LifecycleRecord, entry: TimelineEntry) {
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
                figures.leg.observe(before.sla.legResolution.elapsed(at: entry.at))
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
    mutating func alerted(_ alert: SLAAlert, at now: Date) {
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
                }
                figures.breachesToday += 1
            }
        }
    }

    /// Breaches since midnight UTC, as of `now`.
    func breachesToday(_ department: String, at now: Date) -> Int {
        guard let figures = departments[department], figures.breachDay == Self.day(now) else { return 0 }
        return figures.breachesToday
    }

    static func day(_ date: Date) -> Int { Int((date.timeIntervalSince1970 / 86_400).rounded(.down)) }
}
