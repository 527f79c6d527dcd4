import Foundation
import Synchronization
import SwitchboardCore
import SwitchboardProtocol

/// Where the engine publishes its latest snapshot (``BrokerStats``, the `/stats` model in
/// SwitchboardProtocol), and readers take it: the engine never waits on a reader.
///
/// It also keeps a short history (``StatsHistory``) for the status page's charts: one
/// sample a minute for the last hour, so that an operator who opens the page sees the
/// trend, with no Prometheus needed.
public final class StatsBoard: Sendable {
    private let latest = Mutex<BrokerStats?>(nil)
    private let running = Mutex<SwitchboardConfiguration?>(nil)
    private let samples: Mutex<StatsHistory>

    /// - Parameter sampleEvery: how often a sample is kept for the charts.
    public init(sampleEvery: TimeInterval = 60, keep: Int = 60) {
        samples = Mutex(StatsHistory(sampleEvery: sampleEvery, keep: keep))
    }

    public var current: BrokerStats? { latest.withLock { $0 } }

    /// The configuration the engine runs (a reload included), for what the endpoint
    /// publishes of it: the departments and their names, case numbers, calendars.
    public var configuration: SwitchboardConfiguration? { running.withLock { $0 } }

    /// The samples of the last hour, oldest first.
    public var history: [StatsHistory.Sample] { samples.withLock { $0.samples } }

    /// Forgets the snapshot: the engine stopped (this broker became a standby), and its
    /// last figures must not be served as current.
    func withdraw() {
        latest.withLock { $0 = nil }
        running.withLock { $0 = nil }
    }

    func publish(_ stats: BrokerStats, configuration: SwitchboardConfiguration? = nil) {
        if let configuration { running.withLock { $0 = configuration } }
        latest.withLock { $0 = stats }
        samples.withLock { $0.record(stats) }
    }
}

/// One sample a minute of what the status page charts, per department: how many wait,
/// and the first-response histogram's running totals (a minute's mean is the change of
/// the sum over the change of the count).
public struct StatsHistory: Sendable {
    public struct Sample: Sendable, Equatable {
        public var at: Date
        public var departments: [String: Department]
    }

    public struct Department: Sendable, Equatable {
        public var waiting: Int
        public var firstResponseSum: Double
        public var firstResponseCount: Int
    }

    let sampleEvery: TimeInterval
    let keep: Int
    public private(set) var samples: [Sample] = []

    mutating func record(_ stats: BrokerStats) {
        if let last = samples.last, stats.at.timeIntervalSince(last.at) < sampleEvery { return }
        let departments = Dictionary(uniqueKeysWithValues: stats.departments.map { department in
            (department.id, Department(waiting: department.ready, firstResponseSum: department.firstResponse.sum,
                                       firstResponseCount: department.firstResponse.count))
        })
        samples.append(Sample(at: stats.at, departments: departments))
        if samples.count > keep { samples.removeFirst(samples.count - keep) }
    }

    /// Per sample, the department's waiting inquiries.
    public static func waiting(_ samples: [Sample], department: String) -> [Double] {
        samples.map { Double($0.departments[department]?.waiting ?? 0) }
    }

    /// Per interval between two samples, the mean time to first response of the
    /// inquiries first answered in it (nil when none was).
    public static func firstResponse(_ samples: [Sample], department: String) -> [Double?] {
        zip(samples, samples.dropFirst()).map { before, after in
            guard let a = before.departments[department], let b = after.departments[department], b.firstResponseCount > a.firstResponseCount else {
                return nil
            }
            return (b.firstResponseSum - a.firstResponseSum) / Double(b.firstResponseCount - a.firstResponseCount)
        }
    }
}
