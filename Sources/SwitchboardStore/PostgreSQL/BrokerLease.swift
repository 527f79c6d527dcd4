import Foundation
import PostgresNIO

/// The right to be the active broker on one PostgreSQL database: one row
/// (`switchboard_lease`), taken and renewed on the database's clock (`now()`), with an
/// epoch that only grows. Every journal append checks, in its own statement, that the
/// lease it holds is still the current one (see ``PostgresInquiryJournal``): that check,
/// not the renewal, is the fence. A broker that lost the lease can still believe it holds
/// it for a moment; its appends are refused all the same.
///
/// - Taking a lease succeeds only when nobody holds one that has not run out, and moves
///   the epoch on: two brokers taking it at once get one winner (the row's lock orders
///   them, and the second finds it held).
/// - Renewing succeeds only while the lease has not run out and is still this holder's at
///   this epoch: a broker that was paused past its lease never renews it, even if nobody
///   took it meanwhile; it must take it again, with a new epoch.
/// - Clocks: only the database's `now()` decides. A broker's own deadline
///   (``LeaseDeadline``) counts from when it *sent* the renewal, on its monotonic clock,
///   so it always ends before the database's.
public struct BrokerLease: Sendable, Equatable {
    /// Who holds it: the broker's name (host and process), shown to operators.
    public var holder: String
    /// Grows by one each time the lease changes hands.
    public var epoch: Int64

    public init(holder: String, epoch: Int64) {
        self.holder = holder
        self.epoch = epoch
    }

    /// Creates the lease's table (and the journal's) if they are missing.
    public static func prepare(_ session: PostgresSession) throws(StoreError) {
        try PostgresSchema.migrate(session)
    }

    /// Takes the lease for `holder` for `duration` if nobody holds it; nil if someone does.
    public static func take(_ holder: String, for duration: Duration, _ session: PostgresSession) throws(StoreError) -> BrokerLease? {
        let milliseconds = Int64(duration.seconds * 1_000)
        let rows = try session.run("take the broker lease", """
            INSERT INTO switchboard_lease AS lease (name, holder, epoch, expires_at)
            VALUES ('active', \(holder), 1, now() + \(milliseconds) * interval '1 millisecond')
            ON CONFLICT (name) DO UPDATE
                SET holder = EXCLUDED.holder, epoch = lease.epoch + 1, expires_at = EXCLUDED.expires_at, renewed_at = now()
                WHERE lease.expires_at <= now()
            RETURNING epoch
            """)
        guard let row = rows.first else { return nil }
        return BrokerLease(holder: holder, epoch: try decode(Int64.self, row, "epoch", "take the broker lease"))
    }

    /// The advisory lock the active broker holds on its lease keeper's connection: the
    /// database releases it the moment that connection ends (the broker's process was
    /// killed, its machine lost), so a standby learns of it at once instead of waiting
    /// for the lease to run out. A hint only: an active broker that lost just that
    /// connection is alive, and it is the epoch checked in every append, not the lock,
    /// that keeps it from acknowledging after a standby took over.
    static let hintLock: Int64 = 7_242_024

    /// A standby's attempt: takes the lease if it ran out, or early if nobody holds the
    /// hint lock (the active broker's connection is gone) and its holder has not renewed
    /// for `stale` (so it is not a live broker that lost the lock for a moment). On success
    /// this session holds the hint lock; `early` says the lease had not yet run out.
    public static func takeOver(_ holder: String, for duration: Duration, staleAfter stale: Duration, _ session: PostgresSession,
                                timeout: Duration? = nil) throws(StoreError) -> (lease: BrokerLease, early: Bool)? {
        let operation = "take over the broker lease"
        let probe = try session.run(operation, """
            SELECT pg_try_advisory_lock(\(hintLock)) AS free,
                   COALESCE((SELECT expires_at > now() FROM switchboard_lease WHERE name = 'active'), false) AS running
            """, timeout: timeout).first
        // Read without throwing: a lock taken by the probe is let go below whatever happens.
        let free = probe.flatMap { try? $0.makeRandomAccess()["free"].decode(Bool.self) } ?? false
        let running = probe.flatMap { try? $0.makeRandomAccess()["running"].decode(Bool.self) } ?? false
        let milliseconds = Int64(duration.seconds * 1_000)
        do {
            let rows = try session.run(operation, """
                INSERT INTO switchboard_lease AS lease (name, holder, epoch, expires_at)
                VALUES ('active', \(holder), 1, now() + \(milliseconds) * interval '1 millisecond')
                ON CONFLICT (name) DO UPDATE
                    SET holder = EXCLUDED.holder, epoch = lease.epoch + 1, expires_at = EXCLUDED.expires_at, renewed_at = now()
                    WHERE lease.expires_at <= now()
                       OR (\(free) AND lease.renewed_at < now() - \(Int64(stale.seconds * 1_000)) * interval '1 millisecond')
                RETURNING epoch
                """, timeout: timeout)
            if let row = rows.first {
                return (BrokerLease(holder: holder, epoch: try decode(Int64.self, row, "epoch", operation)), running)
            }
        } catch {
            if free { _ = try? session.run("release the hint lock", "SELECT pg_advisory_unlock_all()", timeout: timeout) }
            throw error
        }
        if free { try session.run("release the hint lock", "SELECT pg_advisory_unlock_all()", timeout: timeout) }
        return nil
    }

    /// Holds the hint lock on this session, taking it again if the connection was
    /// replaced (a session-level lock stacks: it is taken only when not already held).
    /// False when a standby holds it for a moment; the next renewal tries again.
    public func holdHint(_ session: PostgresSession, timeout: Duration? = nil) throws(StoreError) -> Bool {
        let operation = "hold the hint lock"
        let row = try session.run(operation, """
            SELECT CASE WHEN EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()
                                     AND classid = 0 AND objid = \(Self.hintLock) AND granted)
                   THEN true ELSE pg_try_advisory_lock(\(Self.hintLock)) END AS held
            """, timeout: timeout).first
        return try row.map { row throws(StoreError) in try decode(Bool.self, row, "held", operation) } ?? false
    }

    /// Ends the sessions of any other broker that still writes the projection: a broker cut
    /// off in the middle of a projection transaction holds the projection's row lock until
    /// the database notices its connection is gone, which a connection stalled halfway
    /// through a message (or a network partition) can put off indefinitely, and the new
    /// active broker's replay would wait behind it. Only the lease's holder projects, and
    /// an ended transaction leaves nothing half applied. Called by a broker that has just
    /// taken the lease; returns how many sessions it ended.
    public static func endOtherProjectors(_ session: PostgresSession, timeout: Duration? = nil) throws(StoreError) -> Int {
        let operation = "end other brokers' projection sessions"
        let row = try session.run(operation, """
            SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) AS ended FROM (
                SELECT DISTINCT pid FROM pg_locks
                WHERE locktype = 'relation' AND relation = 'switchboard_projection'::regclass
                  AND mode IN ('RowShareLock', 'RowExclusiveLock') AND pid <> pg_backend_pid()
            ) AS writers
            """, timeout: timeout).first
        return Int(try row.map { row throws(StoreError) in try decode(Int64.self, row, "ended", operation) } ?? 0)
    }

    /// Lets the hint lock go (the broker stepped down): standbys may take over at once.
    public static func releaseHint(_ session: PostgresSession, timeout: Duration? = nil) throws(StoreError) {
        try session.run("release the hint lock", "SELECT pg_advisory_unlock_all()", timeout: timeout)
    }

    /// Extends the lease by `duration` from now; false when it ran out or changed hands
    /// (the broker must stop acknowledging at once).
    public func renew(for duration: Duration, _ session: PostgresSession, timeout: Duration? = nil) throws(StoreError) -> Bool {
        let milliseconds = Int64(duration.seconds * 1_000)
        let result = try session.run("renew the broker lease", """
            UPDATE switchboard_lease SET expires_at = now() + \(milliseconds) * interval '1 millisecond', renewed_at = now()
            WHERE name = 'active' AND holder = \(holder) AND epoch = \(epoch) AND expires_at > now()
            """, timeout: timeout)
        return (result.metadata.rows ?? 0) == 1
    }

    /// Gives the lease up (a planned switch-over, a graceful stop): a standby may take it
    /// at once instead of waiting for it to run out.
    public func release(_ session: PostgresSession, timeout: Duration? = nil) throws(StoreError) {
        try session.run("release the broker lease", """
            UPDATE switchboard_lease SET expires_at = now()
            WHERE name = 'active' AND holder = \(holder) AND epoch = \(epoch) AND expires_at > now()
            """, timeout: timeout)
    }

    /// Who holds the lease now, and for how much longer by the database's clock; nil when
    /// it was never taken.
    public static func current(_ session: PostgresSession, timeout: Duration? = nil) throws(StoreError) -> (lease: BrokerLease, remaining: Duration)? {
        let rows = try session.run("read the broker lease", """
            SELECT holder, epoch, GREATEST(EXTRACT(EPOCH FROM expires_at - now()), 0)::float8 AS remaining
            FROM switchboard_lease WHERE name = 'active'
            """, timeout: timeout)
        guard let row = rows.first else { return nil }
        let operation = "read the broker lease"
        return (BrokerLease(holder: try decode(String.self, row, "holder", operation), epoch: try decode(Int64.self, row, "epoch", operation)),
                .seconds(try decode(Double.self, row, "remaining", operation)))
    }
}

/// When the active broker must stop acknowledging: the moment it *sent* its last renewal
/// that succeeded, plus the lease's duration, less a margin for the clocks' drift. Pure
/// and on the broker's monotonic clock, so a wall clock that jumps changes nothing.
public struct LeaseDeadline: Sendable, Equatable {
    public let duration: Duration
    public let margin: Duration
    /// Nil until a renewal (or the taking) succeeded.
    public private(set) var deadline: ContinuousClock.Instant?

    public init(duration: Duration, margin: Duration) {
        self.duration = duration
        self.margin = margin
    }

    /// A take or renewal sent at `sent` succeeded.
    public mutating func renewed(sentAt sent: ContinuousClock.Instant) {
        let next = sent + duration - margin
        deadline = max(deadline ?? next, next)
    }

    /// The lease was lost (a renewal refused, an append fenced off).
    public mutating func lost() { deadline = nil }

    /// Whether the broker may still acknowledge at `now`.
    public func holds(at now: ContinuousClock.Instant) -> Bool {
        guard let deadline else { return false }
        return now < deadline
    }
}

/// Reads one column of a PostgreSQL row by name, naming the operation when it cannot.
func decode<T: PostgresDecodable>(_ type: T.Type, _ row: PostgresRow, _ column: String, _ operation: String) throws(StoreError) -> T {
    do {
        return try row.makeRandomAccess()[column].decode(T.self)
    } catch {
        throw StoreError(operation: operation, underlying: PostgresFailure(error))
    }
}
