import Foundation
import GRDB
import SwitchboardCore

/// The SQLite store: one file in WAL mode with `synchronous=FULL`, so that a committed
/// transaction survives a crash or power loss.
///
/// It wraps any GRDB `DatabaseWriter`: a `DatabasePool` on a file (the broker's store
/// writer commits while agents' reads run beside it, as WAL allows), or an in-memory
/// `DatabaseQueue` in tests. GRDB's `DatabaseError` stays the underlying error.
public final class SQLiteInquiryStore: InquiryStore {
    public let database: any DatabaseWriter
    public let path: String
    private let checkpointer: WALCheckpointer?

    /// Opens (creating if needed) `inquiries.sqlite` in `directory` and migrates it.
    /// - Parameter replayingJournal: bring in what `journal.sqlite` beside it holds beyond
    ///   it, as a tool or test reading a stopped broker's data needs; the broker passes
    ///   false and replays it itself (timed and logged) when it starts.
    public convenience init(directory: String, replayingJournal: Bool = true) throws(StoreError) {
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw StoreError(operation: "create data directory \(directory)", underlying: error)
        }
        try self.init(path: (directory as NSString).appendingPathComponent("inquiries.sqlite"))
        // What a broker appended to its journal and had not yet projected when it
        // stopped (killed, or the machine lost) is brought in before anything reads.
        let journalPath = (directory as NSString).appendingPathComponent("journal.sqlite")
        if replayingJournal, FileManager.default.fileExists(atPath: journalPath) {
            try catchUp(from: try SQLiteInquiryJournal(path: journalPath))
        }
    }

    /// Opens the database file at `path` as a pool: one writer, concurrent readers.
    public convenience init(path: String) throws(StoreError) {
        var configuration = Configuration()
        configuration.label = "switchboard.inquiries"
        // Another connection may hold the file a moment (a store closing as another
        // opens, a tool reading beside the broker): wait for it rather than fail.
        configuration.busyMode = .timeout(10)
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = FULL")
            // Removed personal data is overwritten, not left in free pages.
            try db.execute(sql: "PRAGMA secure_delete = ON")
        }
        let pool: DatabasePool
        do {
            pool = try DatabasePool(path: path, configuration: configuration)
        } catch {
            throw StoreError(operation: "open \(path)", underlying: error)
        }
        try self.init(database: pool, path: path, checkpointInBackground: true)
    }

    /// Wraps an open database (a file pool, or an in-memory queue in tests) and migrates
    /// it. With `checkpointInBackground`, a ``WALCheckpointer`` copies the log into the
    /// file beside the writer.
    public init(database: any DatabaseWriter, path: String = ":memory:", checkpointInBackground: Bool = false) throws(StoreError) {
        self.database = database
        self.path = path
        do {
            try Self.migrator.migrate(database)
            // The one connection that writes: a commit returns only once it is on disk.
            // Its page cache holds the hot index pages (64 MiB rather than SQLite's 2).
            // Its own checkpoints are a bound: with the background checkpointer they
            // come only if it falls 16,000 pages (64 MiB) behind; without it, every
            // 8,000 pages, as under load each commit writes hundreds.
            try database.writeWithoutTransaction { db in
                try db.execute(sql: "PRAGMA synchronous = FULL")
                try db.execute(sql: "PRAGMA cache_size = -65536")
                try db.execute(sql: "PRAGMA wal_autocheckpoint = \(checkpointInBackground ? 16_000 : 8_000)")
            }
            checkpointer = checkpointInBackground ? try WALCheckpointer(path: path) : nil
        } catch {
            throw StoreError(operation: "migrate \(path)", underlying: error)
        }
    }

    deinit { checkpointer?.stop() }

    /// Closes the database once the broker has stopped using it. The last connection to
    /// close copies the log into the database file and removes it, so a stopped broker
    /// leaves one file to back up. Fails if a statement is still running: nothing is
    /// lost then either, as the next start reads the log.
    public func close() throws(StoreError) {
        checkpointer?.stop()
        do {
            // GRDB closes a pool's writer before its readers, and a read-only connection
            // closing last leaves the log behind (GRDB issue 739): close readers first.
            (database as? DatabasePool)?.releaseMemory()
            try database.close()
        } catch {
            throw StoreError(operation: "close \(path)", underlying: error)
        }
    }

    /// Migrations are append-only: a shipped migration is never edited.
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1-inquiries") { db in
            try db.execute(sql: """
                CREATE TABLE inquiry (
                    seq INTEGER PRIMARY KEY AUTOINCREMENT,
                    id TEXT NOT NULL UNIQUE,
                    platform TEXT NOT NULL,
                    external_id TEXT NOT NULL,
                    department TEXT NOT NULL,
                    priority INTEGER NOT NULL,
                    state TEXT NOT NULL,
                    deliveries INTEGER NOT NULL DEFAULT 0,
                    envelope TEXT NOT NULL,
                    routing TEXT NOT NULL,
                    received_at TEXT NOT NULL,
                    parked_reason TEXT,
                    acknowledged_at TEXT,
                    UNIQUE (platform, external_id)
                );
                CREATE INDEX inquiry_open ON inquiry (state, priority, seq) WHERE state != 'acknowledged';
                """)
        }
        migrator.registerMigration("v2-lifecycle") { db in
            try db.execute(sql: """
                ALTER TABLE inquiry ADD COLUMN lifecycle TEXT;
                ALTER TABLE inquiry ADD COLUMN lease_expires_at REAL;
                ALTER TABLE inquiry ADD COLUMN sla_next_at REAL;
                CREATE INDEX inquiry_lease ON inquiry (lease_expires_at) WHERE lease_expires_at IS NOT NULL;
                CREATE INDEX inquiry_sla ON inquiry (sla_next_at) WHERE sla_next_at IS NOT NULL;
                CREATE TABLE timeline (
                    seq INTEGER PRIMARY KEY AUTOINCREMENT,
                    inquiry_id TEXT NOT NULL,
                    entry TEXT NOT NULL
                );
                CREATE INDEX timeline_inquiry ON timeline (inquiry_id, seq);
                CREATE TABLE outbound (
                    inquiry_id TEXT PRIMARY KEY,
                    platform TEXT NOT NULL,
                    account TEXT NOT NULL,
                    in_reply_to TEXT NOT NULL,
                    text TEXT NOT NULL,
                    sent_at TEXT
                );
                """)
        }
        migrator.registerMigration("v3-restore-index") { db in
            // Covers the restore query, so a restart reads the index, not every row.
            try db.execute(sql: """
                CREATE INDEX inquiry_restore ON inquiry (state, priority, seq, id, department, deliveries)
                WHERE state != 'acknowledged';
                DROP INDEX inquiry_open;
                """)
        }
        migrator.registerMigration("v4-one-vocabulary") { db in
            // `state` held a delivery vocabulary (ready, in_flight, parked, acknowledged)
            // beside the lifecycle's own, and the two drifted apart (a parked inquiry
            // showed as in progress). From now on `state` is the lifecycle state, and
            // the owner is a column so listings and restores need no JSON.
            try db.execute(sql: """
                ALTER TABLE inquiry ADD COLUMN owner_kind TEXT;
                ALTER TABLE inquiry ADD COLUMN owner_id TEXT;
                UPDATE inquiry SET
                    lifecycle = CASE WHEN state = 'parked' AND lifecycle IS NOT NULL
                        THEN json_remove(json_set(lifecycle, '$.lifecycle.state', 'parked'), '$.lifecycle.owner')
                        ELSE lifecycle END,
                    owner_kind = CASE WHEN state = 'parked' THEN NULL ELSE json_extract(lifecycle, '$.lifecycle.owner.kind') END,
                    owner_id = CASE WHEN state = 'parked' THEN NULL ELSE json_extract(lifecycle, '$.lifecycle.owner.id') END,
                    state = CASE
                        WHEN state = 'parked' THEN 'parked'
                        WHEN lifecycle IS NOT NULL THEN json_extract(lifecycle, '$.lifecycle.state')
                        WHEN state = 'acknowledged' THEN 'closed'
                        ELSE 'queued' END;
                DROP INDEX inquiry_restore;
                CREATE INDEX inquiry_pipeline ON inquiry (state, priority, seq, id, department, deliveries, owner_kind)
                    WHERE state IN ('queued', 'in_progress', 'parked');
                CREATE INDEX inquiry_listing ON inquiry (department, state, priority, seq);
                """)
        }
        migrator.registerMigration("v5-conversation") { db in
            // One outbound row per inquiry could not hold a conversation (a question, then
            // an answer), nor the citizen's follow-up posts. Messages get their own ids.
            try db.execute(sql: """
                CREATE TABLE message (
                    seq INTEGER PRIMARY KEY AUTOINCREMENT,
                    id TEXT NOT NULL UNIQUE,
                    inquiry_id TEXT NOT NULL,
                    direction TEXT NOT NULL CHECK (direction IN ('in', 'out')),
                    kind TEXT NOT NULL,
                    platform TEXT NOT NULL,
                    account TEXT,
                    external_id TEXT,
                    in_reply_to TEXT,
                    text TEXT NOT NULL,
                    sent_at TEXT
                );
                CREATE INDEX message_inquiry ON message (inquiry_id, seq);
                CREATE UNIQUE INDEX message_external ON message (platform, external_id) WHERE external_id IS NOT NULL;
                CREATE INDEX message_unsent ON message (seq) WHERE direction = 'out' AND sent_at IS NULL;
                CREATE INDEX inquiry_awaiting ON inquiry (state) WHERE state = 'awaiting_citizen';
                INSERT INTO message (id, inquiry_id, direction, kind, platform, account, in_reply_to, text, sent_at)
                    SELECT inquiry_id, inquiry_id, 'out', 'answer', platform, account, in_reply_to, text, sent_at FROM outbound;
                DROP TABLE outbound;
                """)
        }
        migrator.registerMigration("v6-channel-registry") { db in
            // The registry of official accounts: each entry whole, as JSON, with the
            // columns lookups need beside it.
            try db.execute(sql: """
                CREATE TABLE channel (
                    id TEXT PRIMARY KEY,
                    platform TEXT NOT NULL,
                    normalized TEXT NOT NULL,
                    status TEXT NOT NULL,
                    entry TEXT NOT NULL
                );
                CREATE INDEX channel_platform ON channel (platform, normalized);
                """)
        }
        migrator.registerMigration("v7-data-protection") { db in
            // The citizen's handle, normalised, to answer an erasure request without
            // reading every envelope; when each inquiry was closed, for retention; when its
            // personal data was removed; and the audit of erasures.
            try db.execute(sql: """
                ALTER TABLE inquiry ADD COLUMN author TEXT;
                ALTER TABLE inquiry ADD COLUMN closed_at REAL;
                ALTER TABLE inquiry ADD COLUMN anonymised_at REAL;
                UPDATE inquiry SET author = lower(ltrim(trim(json_extract(envelope, '$.author.handle')), '@'));
                UPDATE inquiry SET closed_at = COALESCE(
                    (SELECT MAX(json_extract(t.entry, '$.at')) FROM timeline t
                     WHERE t.inquiry_id = inquiry.id AND json_extract(t.entry, '$.to') = 'closed'
                       AND COALESCE(json_extract(t.entry, '$.from'), '') != 'closed'),
                    CAST(strftime('%s', received_at) AS REAL))
                WHERE state = 'closed';
                CREATE INDEX inquiry_author ON inquiry (platform, author) WHERE author IS NOT NULL;
                CREATE INDEX inquiry_retention ON inquiry (closed_at) WHERE closed_at IS NOT NULL AND anonymised_at IS NULL;
                CREATE TABLE erasure_audit (
                    seq INTEGER PRIMARY KEY,
                    at REAL NOT NULL,
                    actor TEXT NOT NULL,
                    platform TEXT NOT NULL,
                    citizen_hash TEXT NOT NULL,
                    inquiries INTEGER NOT NULL,
                    messages INTEGER NOT NULL
                );
                """)
        }
        migrator.registerMigration("v8-open-counts") { db in
            // Start-up counts where open inquiries stand; without it, a scan of every row.
            try db.execute(sql: """
                CREATE INDEX inquiry_open_counts ON inquiry (department, state, owner_kind) WHERE state != 'closed';
                """)
        }
        migrator.registerMigration("v9-one-queue-index") { db in
            // Three indexes (restore, listing, start-up counts) changed on every move, and
            // kept the store writer at 40% of its time in index upkeep. One covering index,
            // department first, serves all three: a move rewrites one entry, not three.
            try db.execute(sql: """
                CREATE INDEX inquiry_queue ON inquiry (department, state, priority, seq, owner_kind, deliveries, id);
                DROP INDEX inquiry_pipeline;
                DROP INDEX inquiry_listing;
                DROP INDEX inquiry_open_counts;
                """)
        }
        migrator.registerMigration("v10-message-state") { db in
            // An outgoing message was either sent or not: a failure the gateway reported, a
            // question the broker cancelled, and who wrote each had nowhere to go.
            try db.execute(sql: """
                ALTER TABLE message ADD COLUMN author TEXT;
                ALTER TABLE message ADD COLUMN status TEXT;
                ALTER TABLE message ADD COLUMN ended_at TEXT;
                ALTER TABLE message ADD COLUMN failure_code TEXT;
                ALTER TABLE message ADD COLUMN reason TEXT;
                DROP INDEX message_unsent;
                CREATE INDEX message_unsent ON message (seq) WHERE direction = 'out' AND sent_at IS NULL AND status IS NULL;
                """)
        }
        migrator.registerMigration("v11-installation") { db in
            // Which broker's data this is: a batch import resumes per file and broker.
            try db.execute(sql: """
                CREATE TABLE installation (id TEXT NOT NULL);
                INSERT INTO installation (id) VALUES (lower(hex(randomblob(16))));
                """)
        }
        migrator.registerMigration("v12-message-recipient") { db in
            // A direct message (Messenger, WhatsApp) goes to a person in a conversation,
            // not under a post: the gateway needs both.
            try db.execute(sql: """
                ALTER TABLE message ADD COLUMN recipient TEXT;
                ALTER TABLE message ADD COLUMN thread TEXT;
                """)
        }
        migrator.registerMigration("v13-message-delivery") { db in
            // What the platform said after the post: delivered, read.
            try db.execute(sql: "ALTER TABLE message ADD COLUMN delivery TEXT")
        }
        migrator.registerMigration("v14-message-recipient") { db in
            // Messenger's watermarks name the citizen, not the message.
            try db.execute(sql: "CREATE INDEX message_recipient ON message (platform, recipient, seq) WHERE direction = 'out' AND recipient IS NOT NULL")
        }
        migrator.registerMigration("v15-projection-position") { db in
            // The last journal entry the tables hold, written in the same transaction as
            // the rows it brought: a restart replays the journal after it.
            try db.execute(sql: """
                CREATE TABLE projection (position INTEGER NOT NULL);
                INSERT INTO projection (position) VALUES (0);
                """)
        }
        migrator.registerMigration("v16-citizen-links") { db in
            // One citizen across platforms: the links agents made between identities
            // (each pair once, in order), and their audit, which names identities by the
            // installation's keyed hash only.
            try db.execute(sql: """
                CREATE TABLE citizen_link (
                    a_platform TEXT NOT NULL,
                    a_handle TEXT NOT NULL,
                    b_platform TEXT NOT NULL,
                    b_handle TEXT NOT NULL,
                    actor TEXT NOT NULL,
                    note TEXT NOT NULL,
                    at REAL NOT NULL,
                    PRIMARY KEY (a_platform, a_handle, b_platform, b_handle)
                );
                CREATE INDEX citizen_link_b ON citizen_link (b_platform, b_handle);
                CREATE TABLE citizen_link_audit (
                    seq INTEGER PRIMARY KEY,
                    at REAL NOT NULL,
                    actor TEXT NOT NULL,
                    action TEXT NOT NULL,
                    a_hash TEXT NOT NULL,
                    b_hash TEXT NOT NULL,
                    note TEXT
                );
                CREATE INDEX citizen_link_audit_a ON citizen_link_audit (a_hash);
                CREATE INDEX citizen_link_audit_b ON citizen_link_audit (b_hash);
                """)
        }
        return migrator
    }

    // MARK: Writing

    public func commit(_ batch: JournalBatch) throws(StoreError) -> CommitResult {
        guard !batch.isEmpty else { return CommitResult() }
        do {
            return try database.write { db in try Self.apply([batch], db) }
        } catch {
            throw StoreError(operation: "commit", underlying: error)
        }
    }

    public func project(_ entries: [(position: UInt64, batch: JournalBatch)]) throws(StoreError) -> CommitResult {
        guard let last = entries.last?.position else { return CommitResult() }
        do {
            return try database.write { db in
                // Entries the projection already holds (another process caught up first) are skipped.
                let held = UInt64(try Int64.fetchOne(db.cachedStatement(sql: "SELECT position FROM projection")) ?? 0)
                let fresh = entries.filter { $0.position > held }
                guard !fresh.isEmpty else { return CommitResult() }
                let result = try Self.apply(fresh.map(\.batch), db)
                try db.cachedStatement(sql: "UPDATE projection SET position = ?").execute(arguments: [Int64(last)])
                return result
            }
        } catch {
            throw StoreError(operation: "project the journal through \(last)", underlying: error)
        }
    }

    public func projectedPosition() throws(StoreError) -> UInt64 {
        try read("read the projection's position") { db in UInt64(try Int64.fetchOne(db, sql: "SELECT position FROM projection") ?? 0) }
    }

    public func stored(_ keys: [DeduplicationKey]) throws(StoreError) -> [DeduplicationKey: DuplicateOf] {
        guard !keys.isEmpty else { return [:] }
        return try read("find duplicates") { db in
            // Almost every key is new: each is first only looked for in the key's index
            // (the journal writer asks for every key of every batch once the broker's
            // memory of posts is full, as it is on a city's history), and only a key found
            // is read as a row.
            var exists = try BoundStatement(db.cachedStatement(sql: "SELECT 1 FROM inquiry WHERE platform = ? AND external_id = ?"))
            var found: [DeduplicationKey: DuplicateOf] = [:]
            for key in keys {
                let held = try exists.exists { row in
                    row.text(key.platform.rawValue)
                    row.text(key.externalID)
                }
                if held, let original = try Self.duplicate(of: key, db) { found[key] = original }
            }
            return found
        }
    }

    /// One transaction for consecutive batches (``ProjectionWindow``): the inquiry rows,
    /// then the timeline, then each batch's messages and registry rows, in order.
    private static func apply(_ batches: [JournalBatch], _ db: Database) throws -> CommitResult {
        let window = ProjectionWindow(batches)
        let result = try applyRows(window.inserts, window.records, db)
        try applyTimeline(window.timelines(skipping: result.duplicates), db)
        for batch in batches {
            try applyEvents(batch, skipping: result.duplicates, db)
        }
        return result
    }

    /// One timeline row per inquiry per transaction (a JSON array when there are several).
    private static func applyTimeline(_ timelines: [(inquiry: InquiryID, entries: [TimelineEntry])], _ db: Database) throws {
        guard !timelines.isEmpty else { return }
        var append = try BoundStatement(db.cachedStatement(sql: "INSERT INTO timeline (inquiry_id, entry) VALUES (?, ?)"))
        for (id, written) in timelines {
            try append.run { row in
                row.text(id.description)
                row.text(TimelineColumn.json(written))
            }
            for entry in written {
                // Retention counts from the close; a reopen stops the count.
                if entry.to == .closed, entry.from != .closed {
                    try db.cachedStatement(sql: "UPDATE inquiry SET closed_at = ? WHERE id = ?")
                        .execute(arguments: [entry.at.timeIntervalSince1970, entry.inquiry.description])
                } else if entry.from == .closed, entry.to != .closed {
                    // Reopened: what is written from now on is personal data again, for retention.
                    try db.cachedStatement(sql: "UPDATE inquiry SET closed_at = NULL, anonymised_at = NULL WHERE id = ?")
                        .execute(arguments: [entry.inquiry.description])
                }
            }
        }
    }

    /// Inserts first (a repeated key is skipped and reported), then every changed record
    /// as one UPDATE, each through a cached prepared statement.
    private static func applyRows(_ inserts: [AcceptedInquiry], _ records: [InquiryID: LifecycleRecord], _ db: Database) throws -> CommitResult {
        var result = CommitResult()
        if !inserts.isEmpty {
            var insert = try BoundStatement(db.cachedStatement(sql: """
                INSERT INTO inquiry (id, platform, external_id, department, priority, state, owner_kind, owner_id, deliveries,
                                     envelope, routing, received_at, lifecycle, lease_expires_at, sla_next_at, author, seq)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (platform, external_id) DO NOTHING
                """))
            for inquiry in inserts {
                let record = inquiry.record
                try insert.run { row in
                    row.text(record.id.description)
                    row.text(inquiry.key.platform.rawValue)
                    row.text(inquiry.key.externalID)
                    row.text(record.lifecycle.department)
                    row.integer(record.priority.rank)
                    row.text(record.lifecycle.state.rawValue)
                    row.text(record.lifecycle.owner?.kind.rawValue)
                    row.text(record.lifecycle.owner?.id)
                    row.integer(Int(record.deliveries))
                    row.text(inquiry.envelopeJSON)
                    row.text(inquiry.routingJSON)
                    row.text(inquiry.receivedAt)
                    row.text(LifecycleColumn.json(record))
                    row.real(record.leaseExpiresAt?.timeIntervalSince1970)
                    row.real(record.sla.nextAlert?.timeIntervalSince1970)
                    row.text(inquiry.author.map(CitizenHandle.normalized))
                    // The machine numbers cases; a store that is handed none numbers them itself.
                    if record.caseNumber > 0 { row.integer(record.caseNumber) } else { row.text(nil) }
                }
                if db.changesCount == 0, let original = try duplicate(of: inquiry.key, db) {
                    result.duplicates[record.id] = original
                }
            }
        }
        let skipped = result.duplicates
        if !records.isEmpty {
            var update = try BoundStatement(db.cachedStatement(sql: """
                UPDATE inquiry SET state = ?, owner_kind = ?, owner_id = ?, department = ?, priority = ?, deliveries = ?,
                                   lifecycle = ?, lease_expires_at = ?, sla_next_at = ?
                WHERE id = ?
                """))
            for (id, record) in records where skipped[id] == nil {
                try update.run { row in
                    row.text(record.lifecycle.state.rawValue)
                    row.text(record.lifecycle.owner?.kind.rawValue)
                    row.text(record.lifecycle.owner?.id)
                    row.text(record.lifecycle.department)
                    row.integer(record.priority.rank)
                    row.integer(Int(record.deliveries))
                    row.text(LifecycleColumn.json(record))
                    row.real(record.leaseExpiresAt?.timeIntervalSince1970)
                    row.real(record.sla.nextAlert?.timeIntervalSince1970)
                    row.text(id.description)
                }
            }
        }
        return result
    }

    /// A batch's messages and registry entries.
    private static func applyEvents(_ batch: JournalBatch, skipping skipped: [InquiryID: DuplicateOf], _ db: Database) throws {
        for message in batch.outbound where skipped[message.inquiry] == nil {
            try db.cachedStatement(sql: """
                INSERT INTO message (id, inquiry_id, direction, kind, platform, account, in_reply_to, text, author, recipient, thread)
                VALUES (?, ?, 'out', ?, ?, ?, ?, ?, ?, ?, ?)
                """).execute(arguments: [message.id.description, message.inquiry.description, message.kind.rawValue,
                                         message.platform.rawValue, message.account, message.inReplyTo, message.text, message.author,
                                         message.recipient, message.thread])
        }
        for message in batch.inbound {
            // A follow-up seen before (past the broker's memory of keys) is not stored twice.
            try db.cachedStatement(sql: """
                INSERT INTO message (id, inquiry_id, direction, kind, platform, external_id, in_reply_to, text)
                VALUES (?, ?, 'in', ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING
                """).execute(arguments: [message.id.description, message.inquiry.description, message.kind, message.key.platform.rawValue,
                                         message.key.externalID, message.inReplyTo, message.text])
        }
        for channel in batch.channels {
            try db.cachedStatement(sql: "INSERT OR REPLACE INTO channel (id, platform, normalized, status, entry) VALUES (?, ?, ?, ?, ?)")
                .execute(arguments: [channel.id, channel.platform.rawValue, channel.normalized, channel.status.rawValue,
                                     String(decoding: try StoredDocuments.channelEncoder.encode(channel), as: UTF8.self)])
        }
        for (id, at, postedAs) in batch.outboundSent {
            try db.cachedStatement(sql: "UPDATE message SET sent_at = ? WHERE id = ?").execute(arguments: [at, id.description])
            // The post's id is a hint for threading: one a platform gives twice must not
            // fail the whole batch (and with it every batch after it).
            if let postedAs {
                try db.cachedStatement(sql: "UPDATE OR IGNORE message SET external_id = ? WHERE id = ?").execute(arguments: [postedAs, id.description])
            }
        }
        for update in batch.outboundStatuses {
            if update.status == "failed" {
                try db.cachedStatement(sql: "UPDATE message SET status = 'failed', ended_at = ?, failure_code = ?, reason = ? WHERE id = ?")
                    .execute(arguments: [update.at, update.code, update.reason, update.id.description])
            } else {
                // Read implies delivered; a late "delivered" does not undo "read".
                try db.cachedStatement(sql: "UPDATE message SET delivery = ? WHERE id = ? AND (delivery IS NULL OR ? = 'read')")
                    .execute(arguments: [update.status, update.id.description, update.status])
            }
        }
        for ended in batch.outboundEnded {
            try db.cachedStatement(sql: "UPDATE message SET status = ?, ended_at = ?, failure_code = ?, reason = ? WHERE id = ? AND sent_at IS NULL")
                .execute(arguments: [ended.status.rawValue, ended.at, ended.code, ended.reason, ended.id.description])
        }
    }

    private static func duplicate(of key: DeduplicationKey, _ db: Database) throws -> DuplicateOf? {
        try Row.fetchOne(db.cachedStatement(sql: "SELECT id, department, priority FROM inquiry WHERE platform = ? AND external_id = ?"),
                         arguments: [key.platform.rawValue, key.externalID]).flatMap(StoredRows.duplicate)
    }

    // MARK: Reading

    public func inquiry(_ id: InquiryID) throws(StoreError) -> StoredInquiry? {
        try read("load inquiry") { db in
            guard let row = try Row.fetchOne(db.cachedStatement(sql: """
                SELECT platform, external_id, envelope, routing, received_at, lifecycle, priority, lease_expires_at, deliveries, department, seq,
                       state, owner_kind, owner_id
                FROM inquiry WHERE id = ?
                """), arguments: [id.description]) else { return nil }
            return try StoredRows.inquiry(row, id: id)
        }
    }

    public func inquiry(for key: DeduplicationKey) throws(StoreError) -> DuplicateOf? {
        try read("find duplicate") { db in try Self.duplicate(of: key, db) }
    }

    public func recentKeys(limit: Int) throws(StoreError) -> [(key: DeduplicationKey, original: DuplicateOf)] {
        try read("load recent keys") { db in
            var result: [(key: DeduplicationKey, original: DuplicateOf)] = []
            let rows = try Row.fetchCursor(db, sql: "SELECT platform, external_id, id, department, priority FROM inquiry ORDER BY seq DESC LIMIT ?",
                                           arguments: [limit])
            while let row = try rows.next() {
                if let original = StoredRows.original(row) { result.append(original) }
            }
            // Citizens' follow-ups threaded into conversations are posts too: a retried
            // one must be recognised after a restart, not become a new inquiry.
            let followUps = try Row.fetchCursor(db, sql: """
                SELECT m.platform, m.external_id, m.inquiry_id AS id, i.department, i.priority FROM message m JOIN inquiry i ON i.id = m.inquiry_id
                WHERE m.direction = 'in' AND m.external_id IS NOT NULL ORDER BY m.seq DESC LIMIT ?
                """, arguments: [limit])
            while let row = try followUps.next() {
                if let original = StoredRows.original(row) { result.append(original) }
            }
            return result
        }
    }

    public func restorable() throws(StoreError) -> (queue: [RestorableInquiry], parked: Int) {
        try read("restore queues") { db in
            var queue: [RestorableInquiry] = []
            var parked = 0
            // Per department, one range of the covering `inquiry_queue` index per state,
            // already in queue order.
            for department in try Self.departments(db) {
                for (state, inFlight) in [(LifecycleState.inProgress, true), (.queued, false)] {
                    let rows = try Row.fetchCursor(db.cachedStatement(sql: """
                        SELECT id, priority, deliveries, owner_kind FROM inquiry
                        WHERE department = ? AND state = ? ORDER BY priority, seq
                        """), arguments: [department, state.rawValue])
                    while let row = try rows.next() {
                        // Only a worker's hold ends with the broker; an agent's or a
                        // department's does not.
                        if inFlight && (row["owner_kind"] as String?) != Actor.Kind.worker.rawValue { continue }
                        guard let id = InquiryID(row["id"] as String) else { continue }
                        queue.append(RestorableInquiry(id: id, department: department, priority: Priority(rank: row["priority"]) ?? .normal,
                                                       deliveries: UInt16(clamping: row["deliveries"] as Int), wasInFlight: inFlight))
                    }
                }
                parked += try Int.fetchOne(db.cachedStatement(sql: "SELECT COUNT(*) FROM inquiry WHERE department = ? AND state = 'parked'"),
                                           arguments: [department]) ?? 0
            }
            return (queue, parked)
        }
    }

    /// Every department that has rows, by a loose scan of `inquiry_queue`: one index
    /// seek per department, however many closed inquiries each holds.
    private static func departments(_ db: Database) throws -> [String] {
        try String.fetchAll(db, sql: departmentsCTE + " SELECT name FROM departments WHERE name IS NOT NULL")
    }

    /// The loose scan behind ``departments(_:)``, as a CTE named `departments`.
    private static let departmentsCTE = """
        WITH RECURSIVE departments(name) AS (
            SELECT MIN(department) FROM inquiry
            UNION ALL
            SELECT (SELECT MIN(department) FROM inquiry WHERE department > departments.name) FROM departments
            WHERE departments.name IS NOT NULL
        )
        """

    /// Every state but `closed`, as SQL literals: named, so an index range skips the
    /// closed rows instead of reading them to filter them out.
    private static let openStates = LifecycleState.allCases.filter { $0 != .closed }.map { "'\($0.rawValue)'" }.joined(separator: ", ")

    public func record(_ id: InquiryID) throws(StoreError) -> LifecycleRecord? {
        try inquiry(id)?.record
    }

    public func expiredLeases(before date: Date, limit: Int) throws(StoreError) -> [InquiryID] {
        try read("find expired leases") { db in
            try String.fetchAll(db, sql: "SELECT id FROM inquiry WHERE lease_expires_at <= ? ORDER BY lease_expires_at LIMIT ?",
                                arguments: [date.timeIntervalSince1970, limit]).compactMap { InquiryID($0) }
        }
    }

    public func dueSLAAlerts(before date: Date, limit: Int) throws(StoreError) -> [InquiryID] {
        try read("find due SLA alerts") { db in
            try String.fetchAll(db, sql: "SELECT id FROM inquiry WHERE sla_next_at <= ? ORDER BY sla_next_at LIMIT ?",
                                arguments: [date.timeIntervalSince1970, limit]).compactMap { InquiryID($0) }
        }
    }

    public func list(_ filter: InquiryFilter) throws(StoreError) -> InquiryPage {
        try read("list inquiries") { db in
            var conditions: [String] = []
            var arguments: StatementArguments = []
            // Seeks each department's range of `inquiry_queue` for the states asked,
            // rather than reading every closed row in the index.
            let everyDepartment = filter.department == nil && (filter.state != nil || filter.openOnly)
            if let department = filter.department {
                conditions.append("department = ?")
                _ = arguments.append(contentsOf: [department])
            } else if everyDepartment {
                conditions.append("department IN (SELECT name FROM departments)")
            }
            if let state = filter.state {
                conditions.append("state = ?")
                _ = arguments.append(contentsOf: [state.rawValue])
            } else if filter.openOnly {
                conditions.append("state IN (\(Self.openStates))")
            }
            if let priority = filter.priority { conditions.append("priority = ?"); _ = arguments.append(contentsOf: [priority.rank]) }
            if let owner = filter.owner {
                conditions.append("owner_kind = ? AND owner_id = ?")
                _ = arguments.append(contentsOf: [owner.kind.rawValue, owner.id])
            }
            let clause = conditions.isEmpty ? "" : " WHERE " + conditions.joined(separator: " AND ")
            let with = everyDepartment ? Self.departmentsCTE + " " : ""
            let total = try Int.fetchOne(db, sql: with + "SELECT COUNT(*) FROM inquiry" + clause, arguments: arguments) ?? 0
            var page = arguments
            _ = page.append(contentsOf: [filter.limit, filter.offset])
            let now = Date()
            let items = try Row.fetchAll(db, sql: with + """
                SELECT id, department, state, priority, owner_kind, owner_id, received_at, platform, envelope, lifecycle, seq,
                       (SELECT COUNT(*) FROM message m WHERE m.inquiry_id = inquiry.id AND m.direction = 'out'
                            AND m.sent_at IS NULL AND m.status IS NULL) AS unsent,
                       json_extract(routing, '$.unofficial_channel.reason') AS unofficial
                FROM inquiry\(clause)
                ORDER BY priority, seq LIMIT ? OFFSET ?
                """, arguments: page).compactMap { StoredRows.summary($0, at: now) }
            return InquiryPage(items: items, total: total)
        }
    }

    public func publicStatuses(_ query: PublicStatusQuery) throws(StoreError) -> [PublicStatus] {
        try read("list public statuses") { db in
            var conditions: [String] = []
            var arguments: StatementArguments = []
            if !query.caseNumbers.isEmpty {
                conditions.append("seq IN (\(query.caseNumbers.map { _ in "?" }.joined(separator: ", ")))")
                _ = arguments.append(contentsOf: StatementArguments(query.caseNumbers))
            } else {
                if !query.departments.isEmpty {
                    conditions.append("department IN (\(query.departments.map { _ in "?" }.joined(separator: ", ")))")
                    _ = arguments.append(contentsOf: StatementArguments(query.departments))
                }
                if let closed = query.closed { conditions.append(closed ? "state = 'closed'" : "state <> 'closed'") }
                if let from = query.receivedFrom { conditions.append("received_at >= ?"); _ = arguments.append(contentsOf: [from]) }
                if let before = query.receivedBefore { conditions.append("received_at < ?"); _ = arguments.append(contentsOf: [before]) }
                let ids = receivedIDRange(from: query.receivedFrom, before: query.receivedBefore)
                if let low = ids.low { conditions.append("id >= ?"); _ = arguments.append(contentsOf: [low]) }
                if let high = ids.high { conditions.append("id < ?"); _ = arguments.append(contentsOf: [high]) }
            }
            _ = arguments.append(contentsOf: [query.limit])
            let clause = conditions.isEmpty ? "" : " WHERE " + conditions.joined(separator: " AND ")
            return try Row.fetchAll(db, sql: """
                SELECT id, seq, department, state, priority, owner_kind, owner_id, lifecycle, lease_expires_at, deliveries, received_at,
                       (SELECT entry FROM timeline t WHERE t.inquiry_id = inquiry.id ORDER BY t.seq DESC LIMIT 1) AS last_entry
                FROM inquiry\(clause) ORDER BY seq DESC LIMIT ?
                """, arguments: arguments).compactMap { try StoredRows.publicStatus($0) }
        }
    }

    public func reportInquiries(receivedFrom from: String, before: String, department: String?, after: InquiryID?,
                                limit: Int) throws(StoreError) -> [ReportInquiry] {
        try read("read the report's inquiries") { db in
            let ids = receivedIDRange(from: from, before: before)
            var arguments: StatementArguments = [from, before, ids.low ?? "", ids.high ?? "g", after?.description ?? ""]
            if let department { _ = arguments.append(contentsOf: [department]) }
            _ = arguments.append(contentsOf: [limit])
            // A page of inquiries by id (their arrival order), each with its whole timeline.
            let rows = try Row.fetchAll(db, sql: """
                SELECT i.id, i.platform, i.department, i.state, i.priority, i.owner_kind, i.owner_id, i.lifecycle, i.lease_expires_at,
                       i.deliveries, i.received_at, json_extract(i.routing, '$.unofficial_channel.reason') AS unofficial, t.entry AS entry
                FROM inquiry i LEFT JOIN timeline t ON t.inquiry_id = i.id
                WHERE i.id IN (SELECT id FROM inquiry WHERE received_at >= ? AND received_at < ? AND id >= ? AND id < ? AND id > ?\(department == nil ? "" : " AND department = ?")
                               ORDER BY id LIMIT ?)
                ORDER BY i.id, t.seq
                """, arguments: arguments)
            return try StoredRows.reportInquiries(rows)
        }
    }

    public func ids(withPrefix prefix: String, limit: Int) throws(StoreError) -> [InquiryID] {
        let lowered = prefix.lowercased()
        guard !lowered.isEmpty, lowered.allSatisfy({ $0.isHexDigit || $0 == "-" }) else { return [] }
        return try read("find ids by prefix") { db in
            try String.fetchAll(db, sql: "SELECT id FROM inquiry WHERE id >= ? AND id < ? ORDER BY id LIMIT ?",
                                arguments: [lowered, lowered + "\u{7f}", limit]).compactMap { InquiryID($0) }
        }
    }

    public func timeline(_ id: InquiryID) throws(StoreError) -> [TimelineEntry] {
        try read("read timeline") { db in
            try String.fetchAll(db, sql: "SELECT entry FROM timeline WHERE inquiry_id = ? ORDER BY seq", arguments: [id.description])
                .flatMap(TimelineColumn.decode)
        }
    }

    public func pendingOutbound() throws(StoreError) -> [OutboundMessage] {
        try read("restore outbound messages") { db in
            try Row.fetchAll(db, sql: "SELECT * FROM message WHERE direction = 'out' AND sent_at IS NULL AND status IS NULL ORDER BY seq")
                .compactMap(StoredRows.outbound)
        }
    }

    public func conversation(_ id: InquiryID) throws(StoreError) -> [ConversationMessage] {
        try read("read conversation") { db in
            try Row.fetchAll(db, sql: "SELECT * FROM message WHERE inquiry_id = ? ORDER BY seq", arguments: [id.description])
                .compactMap(StoredRows.conversationMessage)
        }
    }

    public func outbound(platform: Platform, postedAs externalID: String) throws(StoreError) -> OutboundMessage? {
        try read("find a posted message") { db in
            try Row.fetchOne(db, sql: "SELECT * FROM message WHERE platform = ? AND external_id = ? AND direction = 'out'",
                             arguments: [platform.rawValue, externalID]).flatMap(StoredRows.outbound)
        }
    }

    public func outbound(platform: Platform, recipient: String, sentBy: String, notYet status: String) throws(StoreError) -> [OutboundMessage] {
        try read("find messages to a citizen") { db in
            // Read implies delivered: a message already read is not "delivered" again.
            try Row.fetchAll(db, sql: """
                SELECT * FROM message WHERE platform = ? AND recipient = ? AND direction = 'out' AND sent_at IS NOT NULL
                AND sent_at <= ? AND (delivery IS NULL OR (delivery = 'delivered' AND ? = 'read')) ORDER BY seq
                """, arguments: [platform.rawValue, recipient, sentBy, status]).compactMap(StoredRows.outbound)
        }
    }

    public func inquiry(case number: Int) throws(StoreError) -> InquiryID? {
        try read("find a case number") { db in
            try String.fetchOne(db, sql: "SELECT id FROM inquiry WHERE seq = ?", arguments: [number]).flatMap { InquiryID($0) }
        }
    }

    public func installationID() throws(StoreError) -> String {
        try read("read the installation id") { db in try String.fetchOne(db, sql: "SELECT id FROM installation") ?? "" }
    }

    public func lastCaseNumber() throws(StoreError) -> Int {
        try read("read the last case number") { db in
            // AUTOINCREMENT's own record: the highest sequence ever used, deleted rows too.
            let used = try Int.fetchOne(db, sql: "SELECT seq FROM sqlite_sequence WHERE name = 'inquiry'") ?? 0
            return max(used, try Int.fetchOne(db, sql: "SELECT MAX(seq) FROM inquiry") ?? 0)
        }
    }

    public func outbound(_ id: InquiryID) throws(StoreError) -> OutboundMessage? {
        try read("load outbound message") { db in
            try Row.fetchOne(db, sql: "SELECT * FROM message WHERE id = ? AND direction = 'out'", arguments: [id.description]).flatMap(StoredRows.outbound)
        }
    }

    public func stateCounts() throws(StoreError) -> [StateCount] {
        try read("count open inquiries") { db in
            // Grouped by state only, which is the index's order, with a sum per owner
            // kind: grouping by the owner too sorted every open row (1.1 s for a million).
            let kinds = Actor.Kind.allCases
            let sums = kinds.map { "SUM(owner_kind = '\($0.rawValue)') AS \($0.rawValue)" }.joined(separator: ", ")
            var counts: [StateCount] = []
            for department in try Self.departments(db) {
                for row in try Row.fetchAll(db, sql: """
                    SELECT state, COUNT(*) AS total, \(sums) FROM inquiry WHERE department = ? AND state IN (\(Self.openStates))
                    GROUP BY state
                    """, arguments: [department]) {
                    guard let state = LifecycleState(rawValue: row["state"]) else { continue }
                    var unowned: Int = row["total"]
                    for kind in kinds {
                        let count: Int = row[kind.rawValue] ?? 0
                        unowned -= count
                        if count > 0 { counts.append(StateCount(department: department, state: state, ownerKind: kind, count: count)) }
                    }
                    if unowned > 0 { counts.append(StateCount(department: department, state: state, ownerKind: nil, count: unowned)) }
                }
            }
            return counts
        }
    }

    // MARK: Data protection

    public func purgeExpired(_ policy: RetentionPolicy, now: Date, limit: Int, after cursor: RetentionCursor?) throws(StoreError) -> RetentionBatch {
        // The shortest period bounds the scan; each candidate is then held to its own, so
        // an inquiry not yet due (answered, 180 days) is passed over, and the cursor goes on
        // to those behind it that are (spam, 30 days).
        let shortest = policy.shortestPeriod
        do {
            return try database.write { db in
                let candidates = try Row.fetchAll(db, sql: """
                    SELECT seq, id, department, json_extract(lifecycle, '$.lifecycle.resolution') AS resolution, closed_at FROM inquiry
                    WHERE closed_at IS NOT NULL AND anonymised_at IS NULL AND closed_at < ? AND state = 'closed'
                      AND (closed_at, seq) > (?, ?)
                    ORDER BY closed_at, seq LIMIT ?
                    """, arguments: [now.timeIntervalSince1970 - shortest, cursor?.closedAt ?? -Double.greatestFiniteMagnitude,
                                     cursor?.row ?? Int64.min, limit])
                var batch = RetentionBatch(purged: [:], examined: candidates.count, cursor: cursor)
                for row in candidates {
                    let department: String = row["department"]
                    let resolution = (row["resolution"] as String?).flatMap(Resolution.init(rawValue:))
                    let closedAt: Double = row["closed_at"]
                    batch.cursor = RetentionCursor(closedAt: closedAt, row: row["seq"])
                    guard closedAt + policy.period(department: department, resolution: resolution) < now.timeIntervalSince1970 else { continue }
                    if try Self.anonymise(row["id"], at: now, db) { batch.purged[department, default: 0] += 1 }
                }
                return batch
            }
        } catch {
            throw StoreError(operation: "purge expired personal data", underlying: error)
        }
    }

    public func citizenRecords(platform: Platform, handle: String) throws(StoreError) -> CitizenRecords {
        let author = CitizenHandle.normalized(handle)
        return try read("find a citizen's inquiries") { db in
            let rows = try Row.fetchAll(db, sql: """
                SELECT id, state, external_id, anonymised_at FROM inquiry WHERE platform = ? AND author = ? ORDER BY seq
                """, arguments: [platform.rawValue, author])
            var closed: [(InquiryID, DeduplicationKey)] = [], open: [InquiryID] = [], anonymised = 0
            for row in rows {
                guard let id = InquiryID(row["id"] as String) else { continue }
                if (row["state"] as String) == LifecycleState.closed.rawValue {
                    closed.append((id, DeduplicationKey(platform: platform, externalID: row["external_id"])))
                    if (row["anonymised_at"] as Double?) != nil { anonymised += 1 }
                } else {
                    open.append(id)
                }
            }
            // The messages of those closed inquiries, in one pass rather than one query each.
            let messageRows = try Row.fetchAll(db, sql: """
                SELECT m.direction, m.external_id FROM message m JOIN inquiry i ON i.id = m.inquiry_id
                WHERE i.platform = ? AND i.author = ? AND i.state = 'closed'
                """, arguments: [platform.rawValue, author])
            let messages = messageRows.count
            let followUps = messageRows.compactMap { row -> DeduplicationKey? in
                guard (row["direction"] as String) == "in", let post = row["external_id"] as String? else { return nil }
                return DeduplicationKey(platform: platform, externalID: post)
            }
            return CitizenRecords(closed: closed, open: open, messages: messages, alreadyAnonymised: anonymised, followUps: followUps)
        }
    }

    public func erase(_ ids: [InquiryID], audits: [ErasureAudit], identities: [CitizenIdentity]) throws(StoreError) -> ErasureOutcome {
        var erased: [InquiryID] = []
        do {
            try database.write { db in
                // Only what is still closed now: a reopen committed since the request was
                // read keeps its data (the answer names it).
                for id in ids {
                    if try Self.anonymise(id.description, at: audits.first?.at ?? Date(), db) { erased.append(id) }
                }
                for var entry in audits {
                    // One identity: what was erased is its count (a reopen meanwhile keeps its data).
                    if audits.count == 1 { entry.inquiries = erased.count }
                    try db.execute(sql: """
                        INSERT INTO erasure_audit (at, actor, platform, citizen_hash, inquiries, messages) VALUES (?, ?, ?, ?, ?, ?)
                        """, arguments: [entry.at.timeIntervalSince1970, entry.actor, entry.platform.rawValue, entry.citizenHash,
                                         entry.inquiries, entry.messages])
                }
                try Self.forgetLinks(of: identities, hashes: audits.map(\.citizenHash), db)
            }
        } catch {
            throw StoreError(operation: "erase a citizen's personal data", underlying: error)
        }
        return ErasureOutcome(erased: erased, logTruncated: (try? truncateLog()) != nil)
    }

    public func erasures(citizenHash: String) throws(StoreError) -> [Date] {
        try read("read the erasure audit") { db in
            try Double.fetchAll(db, sql: "SELECT at FROM erasure_audit WHERE citizen_hash = ? ORDER BY seq", arguments: [citizenHash])
                .map(Date.init(timeIntervalSince1970:))
        }
    }

    /// Copies the WAL into the database and empties it, so the removed data's old page
    /// images are gone from disk: retried while a reader still holds an old snapshot.
    public func truncateLog() throws(StoreError) {
        try WALCheckpointer.truncateLog(of: database, operation: "checkpoint and truncate the WAL after an erasure")
    }

    /// Replaces an inquiry's personal data with its anonymised record: the envelope keeps
    /// its id, times, platform and the official account only; the post's id (which links
    /// to the citizen) and the handle go; messages lose their text and the posts they
    /// answer; timeline entries lose their notes. Moves, times and SLA outcomes stay.
    @discardableResult
    static func anonymise(_ id: String, at now: Date, _ db: Database) throws -> Bool {
        try db.cachedStatement(sql: """
            UPDATE inquiry SET
                envelope = json_object('id', id, 'received_at', received_at,
                                       'source', json_object('platform', platform, 'account', json_extract(envelope, '$.source.account')),
                                       'captured_at', json_extract(envelope, '$.captured_at'), 'anonymised', json('true')),
                routing = json_object('department', json_extract(routing, '$.department'), 'priority', json_extract(routing, '$.priority'),
                                      'rule', json_extract(routing, '$.rule'), 'tags', json(COALESCE(json_extract(routing, '$.tags'), '[]'))),
                external_id = 'anonymised:' || id, author = NULL, anonymised_at = ?
            WHERE id = ? AND state = 'closed'
            """).execute(arguments: [now.timeIntervalSince1970, id])
        guard db.changesCount > 0 else { return false }
        // A reply still waiting for its gateway is not sent any more: its text is gone.
        try db.cachedStatement(sql: "DELETE FROM message WHERE inquiry_id = ? AND direction = 'out' AND sent_at IS NULL")
            .execute(arguments: [id])
        try db.cachedStatement(sql: "UPDATE message SET text = '', in_reply_to = NULL, external_id = NULL WHERE inquiry_id = ?")
            .execute(arguments: [id])
        // The agents' notes go; the moves stay. A row holds one entry or an array of them.
        for row in try Row.fetchAll(db.cachedStatement(sql: "SELECT seq, entry FROM timeline WHERE inquiry_id = ? AND instr(entry, '\"note\"') > 0"),
                                    arguments: [id]) {
            let entries = try TimelineColumn.decode(row["entry"]).map { entry in
                var entry = entry
                entry.note = nil
                return entry
            }
            try db.cachedStatement(sql: "UPDATE timeline SET entry = ? WHERE seq = ?").execute(arguments: [TimelineColumn.json(entries), row["seq"] as Int64])
        }
        return true
    }

    /// The WHERE clause of an export and its arguments.
    static func exportFilter(before: Date, department: String?, after: InquiryID?) -> (String, StatementArguments) {
        var sql = "WHERE state = 'closed' AND closed_at < ?"
        var arguments: StatementArguments = [before.timeIntervalSince1970]
        if let department { sql += " AND department = ?"; arguments += [department] }
        if let after { sql += " AND id > ?"; arguments += [after.description] }
        return (sql, arguments)
    }

    public func countClosed(before: Date, department: String?, after: InquiryID?) throws(StoreError) -> Int {
        try read("count closed inquiries") { db in
            let (filter, arguments) = Self.exportFilter(before: before, department: department, after: after)
            return try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM inquiry \(filter)", arguments: arguments) ?? 0
        }
    }

    public func exportClosed(before: Date, department: String?, after: InquiryID?, limit: Int) throws(StoreError) -> [ExportRecord] {
        try read("export closed inquiries") { db in
            var (filter, arguments) = Self.exportFilter(before: before, department: department, after: after)
            arguments += [limit]
            let sql = """
                SELECT id, department, envelope, routing, lifecycle, closed_at, anonymised_at, state, owner_kind, owner_id, priority,
                       lease_expires_at, deliveries
                FROM inquiry \(filter) ORDER BY id LIMIT ?
                """
            return try Row.fetchAll(db, sql: sql, arguments: arguments).compactMap { row -> ExportRecord? in
                guard let id = InquiryID(row["id"] as String) else { return nil }
                let timeline = try String.fetchAll(db, sql: "SELECT entry FROM timeline WHERE inquiry_id = ? ORDER BY seq", arguments: [id.description])
                    .flatMap { try TimelineColumn.decode($0).map(TimelineColumn.json) }
                let messages = try Row.fetchAll(db, sql: "SELECT * FROM message WHERE inquiry_id = ? ORDER BY seq", arguments: [id.description]).map(StoredRows.exportMessage)
                return ExportRecord(id: id, department: row["department"], envelopeJSON: row["envelope"], routingJSON: row["routing"],
                                    lifecycleJSON: (row["lifecycle"] as String?) == nil ? nil : LifecycleColumn.document(try StoredRows.record(row, id: id)), closedAt: (row["closed_at"] as Double?).map(Date.init(timeIntervalSince1970:)),
                                    anonymisedAt: (row["anonymised_at"] as Double?).map(Date.init(timeIntervalSince1970:)),
                                    timelineJSON: timeline, messages: messages)
            }
        }
    }

    public func awaitingCitizen() throws(StoreError) -> (inquiries: [StoredInquiry], threads: [ThreadKey]) {
        let ids = try read("find inquiries awaiting the citizen") { db in
            try String.fetchAll(db, sql: "SELECT id FROM inquiry WHERE state = 'awaiting_citizen'").compactMap { InquiryID($0) }
        }
        var inquiries: [StoredInquiry] = []
        var threads: [ThreadKey] = []
        for id in ids {
            guard let stored = try inquiry(id) else { continue }
            inquiries.append(stored)
            threads.append(ThreadKey(key: stored.key, inquiry: id))
        }
        let posted = try read("find posted messages") { db in
            try Row.fetchAll(db, sql: """
                SELECT m.platform, m.external_id, m.inquiry_id FROM message m JOIN inquiry i ON i.id = m.inquiry_id
                WHERE i.state = 'awaiting_citizen' AND m.direction = 'out' AND m.external_id IS NOT NULL
                """)
        }
        for row in posted {
            guard let platform = Platform(rawValue: row["platform"]), let id = InquiryID(row["inquiry_id"] as String) else { continue }
            threads.append(ThreadKey(key: DeduplicationKey(platform: platform, externalID: row["external_id"]), inquiry: id))
        }
        return (inquiries, threads)
    }

    public func channels() throws(StoreError) -> [ChannelEntry] {
        try read("load the channel registry") { db in
            try String.fetchAll(db, sql: "SELECT entry FROM channel ORDER BY rowid").map {
                try StoredDocuments.decoder.decode(ChannelEntry.self, from: Data($0.utf8))
            }
        }
    }

    /// The value of a PRAGMA on the writer connection, for checks and diagnostics.
    public func pragma(_ name: String) throws(StoreError) -> String? {
        do {
            return try database.write { db in try String.fetchOne(db, sql: "PRAGMA \(name)") }
        } catch {
            throw StoreError(operation: "read pragma", underlying: error)
        }
    }

    func read<T>(_ operation: String, _ body: (Database) throws -> T) throws(StoreError) -> T {
        do {
            return try database.read(body)
        } catch {
            throw StoreError(operation: operation, underlying: error)
        }
    }
}
