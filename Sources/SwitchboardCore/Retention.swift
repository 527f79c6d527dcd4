import Foundation

/// How long a closed inquiry keeps its personal data (the citizen's text, handle, display
/// name, media, and the replies and notes about it) before retention removes it and
/// leaves the anonymised record: department, platform, priority, times, the timeline's
/// moves without notes, and the SLA outcomes. Open and parked inquiries are never purged.
public struct RetentionPolicy: Sendable, Equatable {
    /// After closing, by default: 180 days.
    public var closed: Double = 180 * 86_400
    /// Shorter (or longer) periods for some resolutions: spam goes after 30 days.
    public var byResolution: [Resolution: Double] = [.spam: 30 * 86_400]
    /// A department's own periods, which take precedence.
    public var perDepartment: [String: Periods] = [:]
    /// How often the broker looks for inquiries past their period.
    public var runEvery: Double = 3_600
    /// Inquiries anonymised per transaction: small enough that the broker's own commits
    /// never wait long behind one.
    public var batchSize = 500

    /// A department's periods: its default after closing, and per resolution.
    public struct Periods: Sendable, Equatable {
        public var closed: Double?
        public var byResolution: [Resolution: Double] = [:]

        public init(closed: Double? = nil, byResolution: [Resolution: Double] = [:]) {
            self.closed = closed
            self.byResolution = byResolution
        }
    }

    public init() {}

    /// The shortest period of all: no inquiry closed more recently than this ago is due.
    public var shortestPeriod: Double {
        let departments = perDepartment.values.flatMap { [$0.closed].compactMap { $0 } + Array($0.byResolution.values) }
        return ([closed] + Array(byResolution.values) + departments).min() ?? closed
    }

    /// Seconds after closing that an inquiry of `department`, closed as `resolution`,
    /// keeps its personal data.
    public func period(department: String, resolution: Resolution?) -> Double {
        let own = perDepartment[department]
        if let resolution, let seconds = own?.byResolution[resolution] ?? byResolution[resolution] { return seconds }
        return own?.closed ?? closed
    }
}
