import Foundation

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
    /// Messages to citizens waiting for their platform's gateway, per platform.
    public var outbound: [Outbound] = []
    /// Configuration reloads (SIGHUP) since the broker started.
    public var reloads = Reloads()
    /// The projection's progress behind the journal.
    public var projection = Projection()

    public struct Reloads: Codable, Sendable, Equatable {
        /// Reloads applied.
        public var applied = 0
        /// Reloads refused (the running configuration stayed).
        public var refused = 0
        /// When the last one was applied; absent before the first.
        public var lastAppliedAt: Date?

        public init() {}

        enum CodingKeys: String, CodingKey {
            case applied, refused
            case lastAppliedAt = "last_applied_at"
        }
    }

    public struct Outbound: Codable, Sendable, Equatable {
        public var platform: String
        public var unsent: Int
        public var oldestUnsentSeconds: Double
        /// Publishing gateways connected for the platform.
        public var gateways: Int
        /// The platform's official accounts whose token it refused: their replies wait in
        /// the gateway until a person gives new credentials.
        public var needingReauthorization: [Reauthorization] = []

        public init(platform: String, unsent: Int, oldestUnsentSeconds: Double, gateways: Int) {
            self.platform = platform
            self.unsent = unsent
            self.oldestUnsentSeconds = oldestUnsentSeconds
            self.gateways = gateways
        }

        enum CodingKeys: String, CodingKey {
            case platform, unsent, gateways
            case oldestUnsentSeconds = "oldest_unsent_seconds"
            case needingReauthorization = "needing_reauthorization"
        }
    }

    /// An account a gateway cannot post through until it has new credentials.
    public struct Reauthorization: Codable, Sendable, Equatable {
        public var account: String
        public var reason: String
        public var since: Date

        public init(account: String, reason: String, since: Date) {
            self.account = account
            self.reason = reason
            self.since = since
        }
    }

    public struct DataProtection: Codable, Sendable, Equatable {
        /// Closed inquiries whose personal data retention removed, by department.
        public var purged: [String: Int]
        /// Erasure requests carried out (dry runs not counted).
        public var erasures: Int
        /// When the last retention run ended; absent before the first.
        public var lastRetentionRun: Date?

        public init(purged: [String: Int], erasures: Int, lastRetentionRun: Date?) {
            self.purged = purged
            self.erasures = erasures
            self.lastRetentionRun = lastRetentionRun
        }

        enum CodingKeys: String, CodingKey {
            case purged, erasures
            case lastRetentionRun = "last_retention_run"
        }
    }

    public struct Build: Codable, Sendable, Equatable {
        /// Switchboard's version.
        public var version: String
        public init(version: String) { self.version = version }
    }

    /// The projection of the journal: how far behind the journal it is, and what its
    /// transactions cost. Acknowledgements never wait for it; reads see it.
    public struct Projection: Codable, Sendable, Equatable {
        /// The last journal position the tables hold.
        public var position: UInt64 = 0
        /// The last journal position appended (durable).
        public var journalPosition: UInt64 = 0
        public var transactions = 0
        /// Journal entries applied, and the rows they held.
        public var entries = 0
        public var rows = 0
        /// Total seconds spent in projection transactions.
        public var seconds = 0.0
        /// Set while a projection transaction fails (reads fall behind; nothing is lost).
        public var lastError: String?

        public init() {}

        /// Journal entries not yet in the tables.
        public var lag: UInt64 { journalPosition > position ? journalPosition - position : 0 }

        enum CodingKeys: String, CodingKey {
            case position, transactions, entries, rows, seconds
            case journalPosition = "journal_position"
            case lastError = "last_error"
        }
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

        public init(writable: Bool, lastError: String?, commits: Int, committedRows: Int, commitSeconds: Double,
                    pendingBatches: Int, commitLatency: BucketHistogram, batchRows: BucketHistogram) {
            self.writable = writable
            self.lastError = lastError
            self.commits = commits
            self.committedRows = committedRows
            self.commitSeconds = commitSeconds
            self.pendingBatches = pendingBatches
            self.commitLatency = commitLatency
            self.batchRows = batchRows
        }

        enum CodingKeys: String, CodingKey {
            case writable, commits
            case lastError = "last_error"
            case committedRows = "committed_rows"
            case commitSeconds = "commit_seconds"
            case pendingBatches = "pending_batches"
            case commitLatency = "commit_latency"
            case batchRows = "batch_rows"
        }
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

        public init(accepted: Int, duplicate: Int, threaded: Int, rejected: [String: Int], unofficialChannel: Int,
                    unofficialByPlatform: [String: Int] = [:], answersHeld: Int = 0) {
            self.accepted = accepted
            self.duplicate = duplicate
            self.threaded = threaded
            self.rejected = rejected
            self.unofficialChannel = unofficialChannel
            self.unofficialByPlatform = unofficialByPlatform
            self.answersHeld = answersHeld
        }

        enum CodingKeys: String, CodingKey {
            case accepted, duplicate, threaded, rejected
            case unofficialChannel = "unofficial_channel"
            case unofficialByPlatform = "unofficial_by_platform"
            case answersHeld = "answers_held"
        }
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
        /// Breaches since midnight UTC, one per clock.
        public var slaBreachesToday: Int
        /// Inquiries that breached any target since midnight UTC, each once.
        public var slaBreachedInquiriesToday = 0
        /// Whether worker processes are expected to serve the queue (`workers:`).
        public var expectsWorkers = true
        /// How far the most overdue ready inquiry is past its own priority's
        /// first-response target; 0 when none is.
        public var readyOverdueSeconds: Double = 0
        /// Ready inquiries past their own priority's first-response target, by priority
        /// (each count at most 10,000); priorities with none are left out.
        public var overdueByPriority: [String: Int] = [:]
        /// Seconds from arrival to the first response, to closing, and spent per leg
        /// (time with this department before a handoff or the close). Clock time that
        /// counts against the SLA: waiting for the citizen does not.
        public var firstResponse: BucketHistogram
        public var resolution: BucketHistogram
        public var leg: BucketHistogram

        public init(id: String, name: String, frontOffice: Bool, ready: Int, answersHeld: Int, inFlight: Int, workers: Int,
                    credit: Int, heldByAgents: Int, accepted: Int, awaitingCitizen: Int, parked: Int,
                    oldestReadyAgeSeconds: Double, firstResponseTargetSeconds: Double, resolutionTargetSeconds: Double,
                    delivered: Int, redelivered: Int, parkedTotal: Int, handoffsIn: [String: Int],
                    handoffsOut: [String: Int], slaWarnings: [String: Int], slaBreaches: [String: Int],
                    slaBreachesToday: Int, firstResponse: BucketHistogram, resolution: BucketHistogram,
                    leg: BucketHistogram) {
            self.id = id
            self.name = name
            self.frontOffice = frontOffice
            self.ready = ready
            self.answersHeld = answersHeld
            self.inFlight = inFlight
            self.workers = workers
            self.credit = credit
            self.heldByAgents = heldByAgents
            self.accepted = accepted
            self.awaitingCitizen = awaitingCitizen
            self.parked = parked
            self.oldestReadyAgeSeconds = oldestReadyAgeSeconds
            self.firstResponseTargetSeconds = firstResponseTargetSeconds
            self.resolutionTargetSeconds = resolutionTargetSeconds
            self.delivered = delivered
            self.redelivered = redelivered
            self.parkedTotal = parkedTotal
            self.handoffsIn = handoffsIn
            self.handoffsOut = handoffsOut
            self.slaWarnings = slaWarnings
            self.slaBreaches = slaBreaches
            self.slaBreachesToday = slaBreachesToday
            self.firstResponse = firstResponse
            self.resolution = resolution
            self.leg = leg
        }

        enum CodingKeys: String, CodingKey {
            case id, name, ready, workers, credit, accepted, parked, delivered, redelivered, resolution, leg
            case frontOffice = "front_office"
            case answersHeld = "answers_held"
            case inFlight = "in_flight"
            case heldByAgents = "held_by_agents"
            case awaitingCitizen = "awaiting_citizen"
            case oldestReadyAgeSeconds = "oldest_ready_age_seconds"
            case firstResponseTargetSeconds = "first_response_target_seconds"
            case resolutionTargetSeconds = "resolution_target_seconds"
            case parkedTotal = "parked_total"
            case handoffsIn = "handoffs_in"
            case handoffsOut = "handoffs_out"
            case slaWarnings = "sla_warnings"
            case slaBreaches = "sla_breaches"
            case slaBreachesToday = "sla_breaches_today"
            case slaBreachedInquiriesToday = "sla_breached_inquiries_today"
            case expectsWorkers = "expects_workers"
            case readyOverdueSeconds = "ready_overdue_seconds"
            case overdueByPriority = "overdue_by_priority"
            case firstResponse = "first_response"
        }
    }

    public struct Connections: Codable, Sendable, Equatable {
        public var open: Int
        /// Connections closed for exceeding a limit or staying silent.
        public var cut: Int
        /// Requests refused by the access rules, by role.
        public var denials: [String: Int]
        /// Warnings about hostile peers not written (rate limit).
        public var warningsHeldBack: Int

        public init(open: Int, cut: Int, denials: [String: Int], warningsHeldBack: Int) {
            self.open = open
            self.cut = cut
            self.denials = denials
            self.warningsHeldBack = warningsHeldBack
        }

        enum CodingKeys: String, CodingKey {
            case open, cut, denials
            case warningsHeldBack = "warnings_held_back"
        }
    }

    public init(at: Date, startedAt: Date, ready: Bool, engineTurnedAt: Date, store: Store, ingest: Ingest,
                departments: [Department], connections: Connections, eventsDropped: Int, engineTurnSeconds: BucketHistogram,
                build: Build, dataProtection: DataProtection) {
        self.at = at
        self.startedAt = startedAt
        self.ready = ready
        self.engineTurnedAt = engineTurnedAt
        self.store = store
        self.ingest = ingest
        self.departments = departments
        self.connections = connections
        self.eventsDropped = eventsDropped
        self.engineTurnSeconds = engineTurnSeconds
        self.build = build
        self.dataProtection = dataProtection
    }

    enum CodingKeys: String, CodingKey {
        case at, ready, store, ingest, departments, connections, build, outbound, reloads, projection
        case startedAt = "started_at"
        case engineTurnedAt = "engine_turned_at"
        case eventsDropped = "events_dropped"
        case engineTurnSeconds = "engine_turn_seconds"
        case dataProtection = "data_protection"
    }
}

/// How `/stats` is written and read: keys sorted, dates in ISO 8601. The keys are the
/// models' own coding keys (snake_case, spelled out), not a key strategy: a strategy
/// would also rewrite the keys of the dictionaries inside (error codes, departments).
extension BrokerStats {
    public static var encoder: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        return encoder
    }

    public static var decoder: JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }
}

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
