import Foundation
import Synchronization
import SwitchboardCore

/// Where this broker stands among the brokers of one database, for the operations
/// endpoint (`/healthz`, `/readyz`, `/metrics`, the status page) and the ready file: read
/// by any thread, written by the lease keeper (``ActiveStandby``).
public final class RoleBoard: Sendable {
    public struct Status: Sendable, Equatable {
        public var role: RoleMachine.Role = .standby
        /// This broker's name in the lease.
        public var name: String
        /// The lease this broker serves under (active).
        public var epoch: Int64?
        /// The broker that holds the lease, as this one last saw it.
        public var activeHolder: String?
        /// When this broker must stop acknowledging unless it renews (active).
        public var until: ContinuousClock.Instant?
        /// Times this broker became the active one since it started.
        public var takeovers = 0
        /// How long the last takeover took, from the lease to serving (the journal replayed,
        /// the queues restored).
        public var lastTakeoverSeconds: Double?
        /// Since when it has had its role.
        public var since = Date()
        /// Why the database could not be asked, while it cannot.
        public var databaseError: String?

        /// Seconds left before this broker's own deadline (active), 0 otherwise.
        public func leaseRemaining(at now: ContinuousClock.Instant) -> Double {
            guard role == .active, let until else { return 0 }
            return max(0, (until - now).seconds)
        }
    }

    private let status: Mutex<Status>

    public init(name: String) {
        status = Mutex(Status(name: name))
    }

    public var current: Status { status.withLock { $0 } }

    func update(_ change: (inout Status) -> Void) {
        status.withLock { change(&$0) }
    }
}
