import Foundation
import SwitchboardStore

/// Whether this broker serves or stands by, decided from what the database answers about
/// the lease (see 9/SB-HA), on the broker's monotonic clock. Pure: the keeper thread
/// (``ActiveStandby``) asks the database what the actions say and feeds the answers back.
///
/// - A standby tries to take the lease over every ``Timing/probeEvery``: it succeeds when
///   the lease ran out, or at once when the active broker's hint lock is free (its
///   connection to the database ended: killed, or its machine lost).
/// - The active broker renews every ``Timing/renewEvery`` and, when a renewal fails to
///   reach the database, tries again every ``Timing/retryEvery``. It stops serving the
///   moment a renewal is refused (the lease changed hands) or its own deadline passes
///   (the last renewal that succeeded, counted from when it was sent, plus the lease
///   time, less the margin), whichever comes first; it never waits for the database to
///   tell it.
public struct RoleMachine: Sendable {
    public enum Role: String, Sendable, Equatable {
        case standby, active, stopped
    }

    public struct Timing: Sendable, Equatable {
        /// How long a lease lasts on the database's clock.
        public var leaseTime: Duration
        /// How much sooner than the database this broker stops acknowledging.
        public var margin: Duration
        public var renewEvery: Duration
        public var retryEvery: Duration
        public var probeEvery: Duration

        /// Renewals twelve times a lease, a margin of a sixth of it, probes 24 times a
        /// lease: with 6 s, a renewal every half second, and a standby that notices within
        /// about 0.9 s that the active broker's process died (then it replays the journal
        /// and restores the queues: well under a second more with 10,000 waiting).
        /// Each is one short statement: a few a second cost the database nothing.
        public init(leaseTime: Duration = .seconds(6)) {
            self.leaseTime = leaseTime
            margin = leaseTime / 6
            renewEvery = leaseTime / 12
            retryEvery = leaseTime / 24
            probeEvery = leaseTime / 24
        }

        /// How long the keeper waits for one statement: a renewal that hangs must leave
        /// time to try again before the deadline (`L - L/6`), and a busy database must not
        /// fail every probe and renewal.
        public var statementTimeout: Duration { leaseTime / 3 }

        /// How long after the last renewal a standby may take over early, when the active
        /// broker's hint lock is free: one renewal interval and a margin of at least a
        /// quarter second, so that a renewal a little late (a slow statement, a busy
        /// machine) while the hint lock is lost for a moment does not depose a live broker.
        public var staleAfter: Duration { renewEvery + max(renewEvery / 5, .milliseconds(250)) }
    }

    public enum Event: Sendable, Equatable {
        case tick(ContinuousClock.Instant)
        /// The lease was taken, by a request sent at `sentAt`.
        case took(BrokerLease, early: Bool, sentAt: ContinuousClock.Instant)
        /// Another broker holds it.
        case held(by: BrokerLease?, sentAt: ContinuousClock.Instant)
        /// A renewal sent at `sentAt` succeeded.
        case renewed(sentAt: ContinuousClock.Instant)
        /// A renewal was refused: the lease ran out or changed hands.
        case refused
        /// The database could not be asked (unreachable, too slow, an error).
        case unreachable(String, at: ContinuousClock.Instant)
        /// Having taken the lease, the broker could not start serving (its replay of the
        /// journal failed: the database timed it out behind the locks of a broker cut off
        /// mid-transaction, say); the lease was given back.
        case couldNotServe(String)
        case stopRequested
    }

    public enum Action: Sendable, Equatable {
        /// Ask the database for the lease (a standby's probe).
        case takeOver
        case renew(BrokerLease)
        /// Become the active broker under `lease`, appending until `until`.
        case serve(BrokerLease, until: ContinuousClock.Instant, early: Bool)
        /// Appends may go on until `until`.
        case extend(BrokerLease, until: ContinuousClock.Instant)
        /// Stop serving now and stand by; `reason` says why, for the operator.
        case standBy(reason: String)
        /// Stop: give the lease up so that a standby takes over at once.
        case release(BrokerLease)
    }

    public let timing: Timing
    public private(set) var role: Role = .standby
    public private(set) var lease: BrokerLease?
    /// Who holds the lease, as last seen by a standby.
    public private(set) var activeHolder: BrokerLease?
    private var deadline: LeaseDeadline
    private var nextAttempt: ContinuousClock.Instant

    public init(timing: Timing, now: ContinuousClock.Instant) {
        self.timing = timing
        deadline = LeaseDeadline(duration: timing.leaseTime, margin: timing.margin)
        nextAttempt = now
    }

    /// Until when the active broker may acknowledge (nil on a standby).
    public var until: ContinuousClock.Instant? { role == .active ? deadline.deadline : nil }

    /// When the keeper should next be woken (a tick) if nothing else happens.
    public var nextWake: ContinuousClock.Instant {
        guard role == .active, let until = deadline.deadline else { return nextAttempt }
        return min(nextAttempt, until)
    }

    public mutating func handle(_ event: Event) -> [Action] {
        switch (role, event) {
        case (.stopped, _):
            return []
        case (.standby, .tick(let now)):
            guard now >= nextAttempt else { return [] }
            nextAttempt = now + timing.probeEvery
            return [.takeOver]
        case (.standby, .took(let taken, let early, let sentAt)):
            deadline.renewed(sentAt: sentAt)
            guard let until = deadline.deadline else { return [] }
            role = .active
            lease = taken
            activeHolder = taken
            nextAttempt = sentAt + timing.renewEvery
            return [.serve(taken, until: until, early: early)]
        case (.standby, .held(let holder, _)):
            activeHolder = holder
            return []
        case (.active, .tick(let now)):
            guard deadline.holds(at: now) else { return stepDown("no renewal reached the database before this broker's deadline") }
            guard now >= nextAttempt, let lease else { return [] }
            nextAttempt = now + timing.retryEvery
            return [.renew(lease)]
        case (.active, .renewed(let sentAt)):
            deadline.renewed(sentAt: sentAt)
            nextAttempt = sentAt + timing.renewEvery
            guard let lease, let until = deadline.deadline else { return [] }
            return [.extend(lease, until: until)]
        case (.active, .refused):
            return stepDown("the database refused the renewal: the lease ran out or another broker took it")
        case (.active, .couldNotServe(let reason)):
            return stepDown("could not start serving (\(reason)); the lease was given back, and this broker or another takes it again")
        case (.active, .stopRequested):
            role = .stopped
            return lease.map { [.release($0)] } ?? []
        case (.standby, .stopRequested):
            role = .stopped
            return []
        case (_, .unreachable):
            // Tried again at the next attempt; an active broker's deadline decides.
            return []
        case (.standby, .renewed), (.standby, .refused), (.active, .took), (.active, .held), (.standby, .couldNotServe):
            return []
        }
    }

    private mutating func stepDown(_ reason: String) -> [Action] {
        role = .standby
        lease = nil
        deadline.lost()
        return [.standBy(reason: reason)]
    }
}
