import Foundation
import GRDB
import SwitchboardCore

/// The SQLite store: one file in WAL mode with `synchronous=FULL`, so that a committed
/// transaction survives a crash or power loss.
///
/// Only the broker's engine thread writes. GRDB's `DatabaseQueue` serialises access, so
/// the type is `Sendable` and reads from tools (such as statistics) are safe too.
public final class SQLiteInquiryStore: InquiryStore {
    private let database: DatabaseQueue
    public let path: String

    /// Opens (creating if needed) `inquiries.sqlite` in `directory` and migrates it.
    public convenience init(directory: String) throws {
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw StoreError(operation: "create data directory \(directory)", underlying: error.localizedDescription)
        }
        try self.init(path: (directory as NSString).appendingPathComponent("inquiries.sqlite"))
    }

    public init(path: String) throws {
        self.path = path
        var configuration = Configuration()
        configuration.label = "switchboard.inquiries"
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA journal_mode = WAL")
            try db.execute(sql: "PRAGMA synchronous = FULL")
        }
        do {
            database = try DatabaseQueue(path: path, configuration: configuration)
            try Self.migrator.migrate(database)
        } catch {
            throw StoreError(operation: "open \(path)", underlying: "\(error)")
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
        return migrator
    }

    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.dateEncodingStrategy = .secondsSince1970
        return encoder
    }()

    static let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .secondsSince1970
        return decoder
    }()

    /// The `lifecycle` column: the state machine and SLA clocks as JSON. Read with
    /// `JSONDecoder`; written by hand in the same shape, because it is written on every
    /// move and JSONEncoder was a fifth of the broker's time.
    struct LifecycleColumn: Codable {
        var lifecycle: InquiryLifecycle
        var sla: InquirySLA

        var json: String {
            var machine = JSONWriter()
            machine.add("id", lifecycle.id.description)
            machine.add("state", lifecycle.state.rawValue)
            machine.add("department", lifecycle.department)
            if let owner = lifecycle.owner {
                var actor = JSONWriter()
                actor.add("kind", owner.kind.rawValue)
                actor.add("id", owner.id)
                machine.add("owner", object: actor)
            }
            machine.addBool("answered", lifecycle.answered)
            machine.add("resolution", lifecycle.resolution?.rawValue)
            var clocks = JSONWriter()
            clocks.add("department", sla.department)
            for (key, clock) in [("legFirstResponse", sla.legFirstResponse), ("legResolution", sla.legResolution),
                                 ("wholeFirstResponse", sla.wholeFirstResponse), ("wholeResolution", sla.wholeResolution)] {
                var writer = JSONWriter()
                writer.add("target", clock.target)
                writer.add("accrued", clock.accrued)
                if let since = clock.runningSince { writer.add("runningSince", since.timeIntervalSince1970) }
                writer.addBool("met", clock.met)
                writer.addBool("warned", clock.warned)
                writer.addBool("breached", clock.breached)
                clocks.add(key, object: writer)
            }
            var column = JSONWriter()
            column.add("lifecycle", object: machine)
            column.add("sla", object: clocks)
            return column.result
        }
    }

    public func commit(_ batch: StoreBatch) throws {
        guard !batch.isEmpty else { return }
        do {
            try database.write { db in
                for change in batch.changes { try apply(change, db) }
            }
        } catch {
            throw StoreError(operation: "commit", underlying: "\(error)")
        }
    }

    private func apply(_ change: StoreBatch.Change, _ db: Database) throws {
        switch change {
        case .accept(let inquiry):
            try db.cachedStatement(sql: """
                INSERT INTO inquiry (id, platform, external_id, department, priority, state, envelope, routing, received_at)
                VALUES (?, ?, ?, ?, ?, 'ready', ?, ?, ?)
                """).execute(arguments: [
                inquiry.id.description, inquiry.key.platform.rawValue, inquiry.key.externalID, inquiry.department,
                inquiry.priority.rank, inquiry.envelopeJSON, inquiry.routingJSON, inquiry.receivedAt,
            ])
        case .requeued(let id):
            try db.cachedStatement(sql: "UPDATE inquiry SET state = 'ready', deliveries = 0, parked_reason = NULL WHERE id = ?")
                .execute(arguments: [id.description])
        case .delivered(let id, let deliveries):
            try db.cachedStatement(sql: "UPDATE inquiry SET state = 'in_flight', deliveries = ? WHERE id = ?")
                .execute(arguments: [Int(deliveries), id.description])
        case .acknowledged(let id, let at):
            try db.cachedStatement(sql: "UPDATE inquiry SET state = 'acknowledged', acknowledged_at = ? WHERE id = ?")
                .execute(arguments: [at, id.description])
        case .parked(let id, let reason):
            try db.cachedStatement(sql: "UPDATE inquiry SET state = 'parked', parked_reason = ? WHERE id = ?")
                .execute(arguments: [reason, id.description])
        case .record(let id, let record):
            let column = LifecycleColumn(lifecycle: record.lifecycle, sla: record.sla).json
            try db.cachedStatement(sql: """
                UPDATE inquiry SET lifecycle = ?, department = ?, priority = ?, lease_expires_at = ?, sla_next_at = ? WHERE id = ?
                """).execute(arguments: [
                column, record.lifecycle.department, record.priority.rank, record.leaseExpiresAt?.timeIntervalSince1970,
                record.sla.nextAlert?.timeIntervalSince1970, id.description,
            ])
        case .timeline(let entry):
            try db.cachedStatement(sql: "INSERT INTO timeline (inquiry_id, entry) VALUES (?, ?)")
                .execute(arguments: [entry.inquiry.description, String(decoding: try Self.encoder.encode(entry), as: UTF8.self)])
        case .outbound(let reply):
            try db.cachedStatement(sql: "INSERT OR REPLACE INTO outbound (inquiry_id, platform, account, in_reply_to, text) VALUES (?, ?, ?, ?, ?)")
                .execute(arguments: [reply.inquiry.description, reply.platform.rawValue, reply.account, reply.inReplyTo, reply.text])
        case .outboundSent(let id, let at):
            try db.cachedStatement(sql: "UPDATE outbound SET sent_at = ? WHERE inquiry_id = ?").execute(arguments: [at, id.description])
        }
    }

    public func inquiryID(for key: DeduplicationKey) throws -> InquiryID? {
        try read("find duplicate") { db in
            try String.fetchOne(db, sql: "SELECT id FROM inquiry WHERE platform = ? AND external_id = ?",
                                arguments: [key.platform.rawValue, key.externalID]).flatMap { InquiryID($0) }
        }
    }

    public func delivery(_ id: InquiryID) throws -> StoredInquiry? {
        try read("load inquiry") { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT department, priority, envelope, routing, deliveries FROM inquiry WHERE id = ?",
                                             arguments: [id.description]) else { return nil }
            return StoredInquiry(
                id: id, department: row["department"], priority: Priority(rank: row["priority"]) ?? .normal,
                envelopeJSON: row["envelope"], routingJSON: row["routing"], deliveries: UInt16(clamping: row["deliveries"] as Int)
            )
        }
    }

    public func openInquiries() throws -> [OpenInquiry] {
        try read("restore queues") { db in
            var result: [OpenInquiry] = []
            // One index-ordered pass per state (the `state != ...` term lets SQLite use
            // the partial covering index); columns are read by position, not by name.
            for state in [InquiryState.inFlight, .ready, .parked] {
                let rows = try Row.fetchCursor(db, sql: """
                    SELECT id, department, priority, deliveries FROM inquiry
                    WHERE state = ? AND state != 'acknowledged'
                    ORDER BY priority, seq
                    """, arguments: [state.rawValue])
                while let row = try rows.next() {
                    guard let id = InquiryID(row[0] as String) else { continue }
                    result.append(OpenInquiry(id: id, department: row[1], priority: Priority(rank: row[2]) ?? .normal,
                                              state: state, deliveries: UInt16(clamping: row[3] as Int)))
                }
            }
            return result
        }
    }

    public func state(of id: InquiryID) throws -> InquiryState? {
        try read("read state") { db in
            try String.fetchOne(db, sql: "SELECT state FROM inquiry WHERE id = ?", arguments: [id.description]).flatMap(InquiryState.init(rawValue:))
        }
    }

    public func countsByState() throws -> [InquiryState: Int] {
        try read("count") { db in
            var counts: [InquiryState: Int] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT state, COUNT(*) AS n FROM inquiry GROUP BY state") {
                if let state = InquiryState(rawValue: row["state"]) { counts[state] = row["n"] }
            }
            return counts
        }
    }

    public func record(_ id: InquiryID) throws -> LifecycleRecord? {
        try read("load lifecycle") { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT lifecycle, priority, lease_expires_at FROM inquiry WHERE id = ?", arguments: [id.description]),
                  let text = row["lifecycle"] as String?
            else { return nil }
            let column = try Self.decoder.decode(LifecycleColumn.self, from: Data(text.utf8))
            return LifecycleRecord(
                lifecycle: column.lifecycle, priority: Priority(rank: row["priority"]) ?? .normal, sla: column.sla,
                leaseExpiresAt: (row["lease_expires_at"] as Double?).map(Date.init(timeIntervalSince1970:))
            )
        }
    }

    public func expiredLeases(before date: Date, limit: Int) throws -> [InquiryID] {
        try read("find expired leases") { db in
            try String.fetchAll(db, sql: "SELECT id FROM inquiry WHERE lease_expires_at <= ? ORDER BY lease_expires_at LIMIT ?",
                                arguments: [date.timeIntervalSince1970, limit]).compactMap { InquiryID($0) }
        }
    }

    public func dueSLAAlerts(before date: Date, limit: Int) throws -> [InquiryID] {
        try read("find due SLA alerts") { db in
            try String.fetchAll(db, sql: "SELECT id FROM inquiry WHERE sla_next_at <= ? ORDER BY sla_next_at LIMIT ?",
                                arguments: [date.timeIntervalSince1970, limit]).compactMap { InquiryID($0) }
        }
    }

    public func list(_ filter: InquiryFilter) throws -> [InquirySummary] {
        try read("list inquiries") { db in
            var sql = "SELECT id, platform, received_at, lifecycle, priority FROM inquiry WHERE lifecycle IS NOT NULL"
            var arguments: StatementArguments = []
            if let department = filter.department { sql += " AND department = ?"; _ = arguments.append(contentsOf: [department]) }
            if let priority = filter.priority { sql += " AND priority = ?"; _ = arguments.append(contentsOf: [priority.rank]) }
            if let state = filter.state { sql += " AND json_extract(lifecycle, '$.lifecycle.state') = ?"; _ = arguments.append(contentsOf: [state.rawValue]) }
            sql += " ORDER BY priority, seq LIMIT ?"
            _ = arguments.append(contentsOf: [filter.limit])
            return try Row.fetchAll(db, sql: sql, arguments: arguments).compactMap { row -> InquirySummary? in
                guard let id = InquiryID(row["id"] as String), let platform = Platform(rawValue: row["platform"]),
                      let column = try? Self.decoder.decode(LifecycleColumn.self, from: Data((row["lifecycle"] as String).utf8))
                else { return nil }
                return InquirySummary(id: id, department: column.lifecycle.department, state: column.lifecycle.state,
                                      priority: Priority(rank: row["priority"]) ?? .normal, owner: column.lifecycle.owner,
                                      receivedAt: row["received_at"], platform: platform)
            }
        }
    }

    public func timeline(_ id: InquiryID) throws -> [TimelineEntry] {
        try read("read timeline") { db in
            try String.fetchAll(db, sql: "SELECT entry FROM timeline WHERE inquiry_id = ? ORDER BY seq", arguments: [id.description])
                .map { try Self.decoder.decode(TimelineEntry.self, from: Data($0.utf8)) }
        }
    }

    public func pendingOutbound() throws -> [OutboundReply] {
        try read("restore outbound replies") { db in
            try Row.fetchAll(db, sql: "SELECT * FROM outbound WHERE sent_at IS NULL ORDER BY rowid").compactMap(Self.outbound)
        }
    }

    public func outbound(_ id: InquiryID) throws -> OutboundReply? {
        try read("load outbound reply") { db in
            try Row.fetchOne(db, sql: "SELECT * FROM outbound WHERE inquiry_id = ?", arguments: [id.description]).flatMap(Self.outbound)
        }
    }

    static func outbound(_ row: Row) -> OutboundReply? {
        guard let id = InquiryID(row["inquiry_id"] as String), let platform = Platform(rawValue: row["platform"]) else { return nil }
        return OutboundReply(inquiry: id, platform: platform, account: row["account"], inReplyTo: row["in_reply_to"], text: row["text"],
                             sent: (row["sent_at"] as String?) != nil)
    }

    /// The value of a PRAGMA on the store's connection, for checks and diagnostics.
    func pragma(_ name: String) throws -> String? {
        try read("read pragma") { db in try String.fetchOne(db, sql: "PRAGMA \(name)") }
    }

    private func read<T>(_ operation: String, _ body: (Database) throws -> T) throws -> T {
        do {
            return try database.read(body)
        } catch {
            throw StoreError(operation: operation, underlying: "\(error)")
        }
    }
}
