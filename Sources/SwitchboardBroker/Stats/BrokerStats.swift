import Foundation
import Synchronization

/// What the broker reports about itself: one typed snapshot, published by the engine
/// thread every tick, read by the operations endpoint (`/stats`, `/metrics`, the status
/// page). The engine never waits on a reader. Names and units follow `/stats` (see
/// `deploy/README.md`); no field ever holds a citizen's text, handle or an inquiry id.
public struct BrokerStats: Codable, Sendable, Equatable {
    /// When this snapshot was taken.
    public var at: Date
    public var startedAt: Date
    /// Configuration loaded, sockets bound, queues restored.
    public var ready: Bool
    /// When the engine loop last turned: a stale time means a stuck engine.
    public var engineTurnedAt: Date
    public var store: Store
    public var ingest: Ingest
    public var departments: [Department]
    public var connections: Connections
    /// Events the PUB socket could not queue for a slow subscriber.
    public var eventsDropped: Int
    /// Seconds one busy turn of the engine loop took (reading, deciding, sending).
    public var engineTurnSeconds: BucketHistogram
    public var build: Build
    public var dataProtection: DataProtection

    public struct DataProtection: Codable, Sendable, Equatable {
        /// Closed inquiries whose personal data retention removed, by department.
        public var purged: [String: Int]
        /// Erasure requests carried out (dry runs not counted).
        public var erasures: Int
        /// When the last retention run ended; absent before the first.
        public var lastRetentionRun: Date?
    }

    public struct Build: Codable, Sendable, Equatable {
        /// Switchboard's version.
        public var version: String
        public init(version: String) { self.version = version }
    }

    public struct Store: Codable, Sendable, Equatable {
        /// False while a commit is failing (the broker answers store_unavailable).
        public var writable: Bool
        public var lastError: String?
        public var commits: Int
        public var committedRows: Int
        /// Total seconds spent committing: with `commits`, the mean commit latency.
        public var commitSeconds: Double
        /// Sealed batches waiting for the writer.
        public var pendingBatches: Int
        /// Seconds each group commit took, fsync included.
        public var commitLatency: BucketHistogram
        /// Rows written by each group commit.
        public var batchRows: BucketHistogram
    }

    public struct Ingest: Codable, Sendable, Equatable {
        public var accepted: Int
        public var duplicate: Int
        /// Follow-ups threaded into an inquiry waiting for the citizen.
        public var threaded: Int
        /// Rejected envelopes by error code.
        public var rejected: [String: Int]
        /// Inquiries that came through an account that is not an active official one.
        public var unofficialChannel: Int
        /// The same, by platform.
        public var unofficialByPlatform: [String: Int] = [:]
        /// Answers held back because their department's workers were behind (flow
        /// control), since the broker started.
        public var answersHeld: Int = 0
    }

    public struct Department: Codable, Sendable, Equatable {
        public var id: String
        public var name: String
        /// The front office: agents claim from its queue, so it needs no worker.
        public var frontOffice: Bool
        /// Inquiries waiting in the delivery queue.
        public var ready: Int
        /// Ingest answers held back now because `ready` is over `limits.max_ready_backlog`
        /// while workers serve the department: the gateways feeding it wait.
        public var answersHeld: Int
        /// Inquiries held by this department's workers, not yet acknowledged.
        public var inFlight: Int
        public var workers: Int
        /// Requests the workers may hold at once, all together.
        public var credit: Int
        /// Inquiries claimed by contact-centre agents.
        public var heldByAgents: Int
        /// Inquiries accepted by the department (owned by it, no longer in a worker's hands).
        public var accepted: Int
        /// Inquiries waiting for the citizen to answer a question (their clocks paused).
        public var awaitingCitizen: Int
        /// Inquiries parked after failed deliveries, waiting for an operator.
        public var parked: Int
        /// Seconds since the longest-waiting ready inquiry was received; 0 with none.
        public var oldestReadyAgeSeconds: Double
        /// The department's first-response and resolution targets at normal priority.
        public var firstResponseTargetSeconds: Double
        public var resolutionTargetSeconds: Double
        /// Totals since the broker started.
        public var delivered: Int
        public var redelivered: Int
        public var parkedTotal: Int
        /// Handoffs received, by the department they came from; sent, by where they went.
        public var handoffsIn: [String: Int]
        public var handoffsOut: [String: Int]
        /// SLA alerts by `clock/scope`: clock `first_response` or `resolution`; scope
        /// `department` (this leg's clock) or `inquiry` (the whole inquiry's).
        public var slaWarnings: [String: Int]
        public var slaBreaches: [String: Int]
        /// Breaches since midnight UTC.
        public var slaBreachesToday: Int
        /// Seconds from arrival to the first response, to closing, and spent per leg
        /// (time with this department before a handoff or the close). Clock time that
        /// counts against the SLA: waiting for the citizen does not.
        public var firstResponse: BucketHistogram
        public var resolution: BucketHistogram
        public var leg: BucketHistogram
    }

    public struct Connections: Codable, Sendable, Equatable {
        public var open: Int
        /// Connections closed for exceeding a limit or staying silent.
        public var cut: Int
        /// Requests refused by the access rules, by role.
        public var denials: [String: Int]
        /// Warnings about hostile peers not written (rate limit).
        public var warningsHeldBack: Int
    }
}

/// Where the engine publishes its latest snapshot, and readers take it.
public final class StatsBoard: Sendable {
    private let latest = Mutex<BrokerStats?>(nil)

    public init() {}

    public var current: BrokerStats? { latest.withLock { $0 } }

    func publish(_ stats: BrokerStats) {
        latest.withLock { $0 = stats }
    }
}
