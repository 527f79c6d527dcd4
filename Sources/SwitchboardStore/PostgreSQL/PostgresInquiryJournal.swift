import Foundation
import NIOCore
import PostgresNIO
import Synchronization

/// The journal on PostgreSQL (`switchboard_journal`), for brokers that share one database:
/// the same contract as the SQLite journal, and a fence. Each append is one statement,
/// one round trip, committed with the server's `synchronous_commit` (on by default), and
/// it writes only if the lease it names (``fence``) is still the current one, which it
/// reads `FOR SHARE`: a broker taking the lease over waits for an append in progress to
/// commit, and every append after that names an old epoch and is refused
/// (``LeaseLostError``). Nothing refused is acknowledged, so two brokers never both
/// acknowledge.
public final class PostgresInquiryJournal: InquiryJournal {
    private let session: PostgresSession
    /// The lease appends are made under, and the broker's own deadline for it.
    private let held = Mutex<(lease: BrokerLease?, until: ContinuousClock.Instant?)>((nil, nil))

    /// - Parameter session: the journal's own connection (the journal writer's thread).
    public init(session: PostgresSession) throws(StoreError) {
        self.session = session
        try PostgresSchema.migrate(session)
    }

    /// The lease appends are made under, with no deadline of the broker's own; nil
    /// refuses every append (a standby).
    public var fence: BrokerLease? {
        get { held.withLock { $0.lease } }
        set { held.withLock { $0 = (newValue, nil) } }
    }

    /// Appends under `lease` until `until` on the broker's monotonic clock (its
    /// ``LeaseDeadline``): an append that would start after it is refused, and one whose
    /// commit is confirmed after it is reported as refused, though it is durable. Its
    /// batch is then never acknowledged by this broker; the one that takes over replays it,
    /// and the client's retry finds it (ingests are idempotent by post id).
    public func hold(_ lease: BrokerLease?, until: ContinuousClock.Instant?) {
        held.withLock { $0 = (lease, until) }
    }

    /// The lease, if appends may still be made under it now.
    private func currentFence() -> BrokerLease? {
        let (lease, until) = held.withLock { $0 }
        if let until, ContinuousClock.now >= until { return nil }
        return lease
    }

    public func append(_ entry: [UInt8], at position: UInt64, trimmingThrough: UInt64) throws(StoreError) {
        guard let fence = currentFence() else {
            throw StoreError(operation: "append to the journal", underlying: LeaseLostError(epoch: held.withLock { $0.lease?.epoch }))
        }
        try appendFenced(entry, at: position, trimmingThrough: trimmingThrough, fence: fence)
        // Durable, but confirmed too late to be acknowledged by this broker.
        guard currentFence() == fence else {
            throw StoreError(operation: "append to the journal", underlying: LeaseLostError(epoch: fence.epoch))
        }
    }

    private func appendFenced(_ entry: [UInt8], at position: UInt64, trimmingThrough: UInt64, fence: BrokerLease) throws(StoreError) {
        var bytes = ByteBufferAllocator().buffer(capacity: entry.count)
        bytes.writeBytes(entry)
        let result = try session.run("append to the journal", """
            WITH lease AS (
                SELECT epoch FROM switchboard_fence(\(fence.holder), \(fence.epoch)) AS epoch
            ), trimmed AS (
                DELETE FROM switchboard_journal WHERE position <= \(Int64(trimmingThrough)) AND EXISTS (SELECT 1 FROM lease)
            )
            INSERT INTO switchboard_journal (position, entry, epoch) SELECT \(Int64(position)), \(bytes), epoch FROM lease
            ON CONFLICT (position) DO NOTHING
            """)
        guard (result.metadata.rows ?? 0) == 1 else {
            // A retry of an append whose commit was not confirmed (the connection dropped
            // after it) finds its own entry there: it is durable, under this lease.
            let operation = "check the journal after an append"
            let found = try session.run(operation, "SELECT epoch FROM switchboard_journal WHERE position = \(Int64(position))").first
            if let found, try decode(Int64.self, found, "epoch", operation) == fence.epoch { return }
            throw StoreError(operation: "append to the journal", underlying: LeaseLostError(epoch: fence.epoch))
        }
    }

    public func entries(after position: UInt64) throws(StoreError) -> [(position: UInt64, entry: [UInt8])] {
        let operation = "read the journal"
        let rows = try session.run(operation, "SELECT position, entry FROM switchboard_journal WHERE position > \(Int64(position)) ORDER BY position")
        var entries: [(position: UInt64, entry: [UInt8])] = []
        for row in rows {
            let at = try decode(Int64.self, row, "position", operation)
            var bytes = try decode(ByteBuffer.self, row, "entry", operation)
            entries.append((UInt64(at), bytes.readBytes(length: bytes.readableBytes) ?? []))
        }
        return entries
    }

    public func lastPosition() throws(StoreError) -> UInt64 {
        let operation = "read the journal's last position"
        // Empty after a trim: the projection's position says where the journal was.
        guard let row = try session.run(operation, "SELECT COALESCE(MAX(position), 0)::int8 AS last FROM switchboard_journal").first else { return 0 }
        return UInt64(try decode(Int64.self, row, "last", operation))
    }

    /// Removes the entries through `position`, and VACUUMs the table so their rows are
    /// gone from its pages. (PostgreSQL's own write-ahead log keeps them until its next
    /// checkpoints recycle it; a city that must remove them sooner runs `CHECKPOINT`.)
    public func trim(through position: UInt64) throws(StoreError) {
        guard let fence = currentFence() else { throw StoreError(operation: "trim the journal", underlying: LeaseLostError(epoch: nil)) }
        // Only the active broker trims: a deposed one must not remove what a standby replays.
        let result = try session.run("trim the journal", """
            WITH lease AS (
                SELECT epoch FROM switchboard_fence(\(fence.holder), \(fence.epoch)) AS epoch
            ), trimmed AS (
                DELETE FROM switchboard_journal WHERE position <= \(Int64(position)) AND EXISTS (SELECT 1 FROM lease)
            )
            SELECT epoch FROM lease
            """)
        guard result.first != nil else { throw StoreError(operation: "trim the journal", underlying: LeaseLostError(epoch: fence.epoch)) }
        try session.run("vacuum the journal", "VACUUM switchboard_journal")
    }
}

/// An append was refused because the lease it was made under is no longer the current
/// one: another broker took over, or this one's lease ran out. Nothing was written.
public struct LeaseLostError: Error, CustomStringConvertible {
    public let epoch: Int64?

    public var description: String {
        guard let epoch else { return "this broker holds no lease on the database: it is a standby and acknowledges nothing" }
        return "the broker lease of epoch \(epoch) is no longer the current one (another broker took over, or it ran out): nothing was written"
    }
}

/// The PostgreSQL store's tables, created by one list of steps, each run once and
/// recorded in `switchboard_migration`, under an advisory lock so that brokers starting
/// together do not run a step twice.
enum PostgresSchema {
    static let steps: [(name: String, sql: String)] = [
        ("v1-lease-and-journal", """
            CREATE TABLE switchboard_lease (
                name text PRIMARY KEY,
                holder text NOT NULL,
                epoch bigint NOT NULL,
                expires_at timestamptz NOT NULL
            );
            CREATE TABLE switchboard_journal (
                position bigint PRIMARY KEY,
                entry bytea NOT NULL,
                epoch bigint NOT NULL
            );
            -- The fence, in one place: the lease's epoch if this holder holds it now, the
            -- row read FOR SHARE so that a takeover waits for the statement to commit.
            CREATE FUNCTION switchboard_fence(fence_holder text, fence_epoch bigint) RETURNS SETOF bigint
            LANGUAGE sql VOLATILE AS $fence$
                SELECT epoch FROM switchboard_lease
                WHERE name = 'active' AND holder = fence_holder AND epoch = fence_epoch AND expires_at > now()
                FOR SHARE
            $fence$;
            """),
        // The projection: the same tables as the SQLite store's, with its columns' meaning
        // (times the machine compares are seconds since 1970, those shown are ISO 8601
        // text; documents are JSON text, kept byte for byte), prefixed so that a city's
        // database may hold other applications' tables beside them.
        ("v2-projection", """
            CREATE SEQUENCE switchboard_case_number;
            CREATE TABLE switchboard_inquiry (
                seq bigint PRIMARY KEY DEFAULT nextval('switchboard_case_number'),
                id text NOT NULL UNIQUE,
                platform text NOT NULL,
                external_id text NOT NULL,
                department text NOT NULL,
                priority integer NOT NULL,
                state text NOT NULL,
                owner_kind text,
                owner_id text,
                deliveries integer NOT NULL DEFAULT 0,
                envelope text NOT NULL,
                routing text NOT NULL,
                received_at text NOT NULL,
                lifecycle text,
                lease_expires_at double precision,
                sla_next_at double precision,
                author text,
                closed_at double precision,
                anonymised_at double precision,
                UNIQUE (platform, external_id)
            );
            CREATE INDEX switchboard_inquiry_queue ON switchboard_inquiry (department, state, priority, seq);
            CREATE INDEX switchboard_inquiry_lease ON switchboard_inquiry (lease_expires_at) WHERE lease_expires_at IS NOT NULL;
            CREATE INDEX switchboard_inquiry_sla ON switchboard_inquiry (sla_next_at) WHERE sla_next_at IS NOT NULL;
            CREATE INDEX switchboard_inquiry_author ON switchboard_inquiry (platform, author) WHERE author IS NOT NULL;
            CREATE INDEX switchboard_inquiry_retention ON switchboard_inquiry (closed_at, seq)
                WHERE closed_at IS NOT NULL AND anonymised_at IS NULL;
            CREATE INDEX switchboard_inquiry_awaiting ON switchboard_inquiry (state) WHERE state = 'awaiting_citizen';
            CREATE TABLE switchboard_timeline (
                seq bigserial PRIMARY KEY,
                inquiry_id text NOT NULL,
                entry text NOT NULL
            );
            CREATE INDEX switchboard_timeline_inquiry ON switchboard_timeline (inquiry_id, seq);
            CREATE TABLE switchboard_message (
                seq bigserial PRIMARY KEY,
                id text NOT NULL UNIQUE,
                inquiry_id text NOT NULL,
                direction text NOT NULL CHECK (direction IN ('in', 'out')),
                kind text NOT NULL,
                platform text NOT NULL,
                account text,
                external_id text,
                in_reply_to text,
                text text NOT NULL,
                sent_at text,
                author text,
                status text,
                ended_at text,
                failure_code text,
                reason text,
                recipient text,
                thread text,
                delivery text
            );
            CREATE INDEX switchboard_message_inquiry ON switchboard_message (inquiry_id, seq);
            CREATE UNIQUE INDEX switchboard_message_external ON switchboard_message (platform, external_id) WHERE external_id IS NOT NULL;
            CREATE INDEX switchboard_message_unsent ON switchboard_message (seq) WHERE direction = 'out' AND sent_at IS NULL AND status IS NULL;
            CREATE INDEX switchboard_message_recipient ON switchboard_message (platform, recipient, seq)
                WHERE direction = 'out' AND recipient IS NOT NULL;
            CREATE TABLE switchboard_channel (
                seq bigserial NOT NULL,
                id text PRIMARY KEY,
                platform text NOT NULL,
                normalized text NOT NULL,
                status text NOT NULL,
                entry text NOT NULL
            );
            CREATE TABLE switchboard_erasure_audit (
                seq bigserial PRIMARY KEY,
                at double precision NOT NULL,
                actor text NOT NULL,
                platform text NOT NULL,
                citizen_hash text NOT NULL,
                inquiries integer NOT NULL,
                messages integer NOT NULL
            );
            CREATE TABLE switchboard_installation (id text NOT NULL);
            INSERT INTO switchboard_installation (id) VALUES (md5(random()::text || clock_timestamp()::text));
            CREATE TABLE switchboard_projection (position bigint NOT NULL);
            INSERT INTO switchboard_projection (position) VALUES (0);
            """),
        // The key of the hash that names citizens in the erasure audit: one for every
        // broker of the database, so that a repeated request is recognised whichever
        // broker was active (SQLite keeps it in erasure-audit.key beside its file).
        ("v3-erasure-audit-key", """
            ALTER TABLE switchboard_installation ADD COLUMN erasure_audit_key bytea;
            -- gen_random_uuid draws on the server's strong random source (PostgreSQL 13 and later).
            UPDATE switchboard_installation SET erasure_audit_key = decode(replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', ''), 'hex');
            """),
        // When the holder last renewed: a free hint lock alone does not let a standby take
        // over early, only together with renewals that stopped (the holder may have lost
        // the lock for a moment, and a deposed broker lets it go).
        ("v4-lease-renewed-at", """
            ALTER TABLE switchboard_lease ADD COLUMN renewed_at timestamptz NOT NULL DEFAULT now();
            """),
        // One citizen across platforms: the links agents made, and their audit by hash
        // (SQLite's v16-citizen-links).
        ("v5-citizen-links", """
            CREATE TABLE switchboard_citizen_link (
                a_platform text NOT NULL,
                a_handle text NOT NULL,
                b_platform text NOT NULL,
                b_handle text NOT NULL,
                actor text NOT NULL,
                note text NOT NULL,
                at double precision NOT NULL,
                PRIMARY KEY (a_platform, a_handle, b_platform, b_handle)
            );
            CREATE INDEX switchboard_citizen_link_b ON switchboard_citizen_link (b_platform, b_handle);
            CREATE TABLE switchboard_citizen_link_audit (
                seq bigserial PRIMARY KEY,
                at double precision NOT NULL,
                actor text NOT NULL,
                action text NOT NULL,
                a_hash text NOT NULL,
                b_hash text NOT NULL,
                note text
            );
            CREATE INDEX switchboard_citizen_link_audit_a ON switchboard_citizen_link_audit (a_hash);
            CREATE INDEX switchboard_citizen_link_audit_b ON switchboard_citizen_link_audit (b_hash);
            """),
    ]

    static func migrate(_ session: PostgresSession) throws(StoreError) {
        for step in steps {
            // One statement, so one transaction, with the lock held to its end: a second
            // broker waits, then finds the step applied. (One round trip of the extended
            // protocol holds one statement only: hence a DO block.)
            try session.run("migrate the database (\(step.name))", PostgresQuery(unsafeSQL: """
                DO $migrate$ BEGIN
                    PERFORM pg_advisory_xact_lock(7242023);
                    CREATE TABLE IF NOT EXISTS switchboard_migration (name text PRIMARY KEY, applied_at timestamptz NOT NULL);
                    IF NOT EXISTS (SELECT 1 FROM switchboard_migration WHERE name = '\(step.name)') THEN
                        \(step.sql)
                        INSERT INTO switchboard_migration (name, applied_at) VALUES ('\(step.name)', now());
                    END IF;
                END $migrate$
                """))
        }
    }
}
