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
        return migrator
    }

    public func commit(_ batch: StoreBatch) throws {
        guard !batch.isEmpty else { return }
        do {
            try database.write { db in
                if !batch.accepted.isEmpty {
                    let insert = try db.cachedStatement(sql: """
                        INSERT INTO inquiry (id, platform, external_id, department, priority, state, envelope, routing, received_at)
                        VALUES (?, ?, ?, ?, ?, 'ready', ?, ?, ?)
                        """)
                    for inquiry in batch.accepted {
                        try insert.execute(arguments: [
                            inquiry.id.description, inquiry.key.platform.rawValue, inquiry.key.externalID, inquiry.department,
                            inquiry.priority.rank, inquiry.envelopeJSON, inquiry.routingJSON, inquiry.receivedAt,
                        ])
                    }
                }
                if !batch.requeued.isEmpty {
                    let requeue = try db.cachedStatement(sql: "UPDATE inquiry SET state = 'ready', deliveries = 0, parked_reason = NULL WHERE id = ?")
                    for id in batch.requeued { try requeue.execute(arguments: [id.description]) }
                }
                if !batch.delivered.isEmpty {
                    let deliver = try db.cachedStatement(sql: "UPDATE inquiry SET state = 'in_flight', deliveries = ? WHERE id = ?")
                    for (id, deliveries) in batch.delivered { try deliver.execute(arguments: [Int(deliveries), id.description]) }
                }
                if !batch.acknowledged.isEmpty {
                    let acknowledge = try db.cachedStatement(sql: "UPDATE inquiry SET state = 'acknowledged', acknowledged_at = ? WHERE id = ?")
                    for (id, at) in batch.acknowledged { try acknowledge.execute(arguments: [at, id.description]) }
                }
                if !batch.parked.isEmpty {
                    let park = try db.cachedStatement(sql: "UPDATE inquiry SET state = 'parked', parked_reason = ? WHERE id = ?")
                    for (id, reason) in batch.parked { try park.execute(arguments: [reason, id.description]) }
                }
            }
        } catch {
            throw StoreError(operation: "commit", underlying: "\(error)")
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
            let rows = try Row.fetchCursor(db, sql: """
                SELECT id, department, priority, state, deliveries FROM inquiry
                WHERE state != 'acknowledged'
                ORDER BY state = 'in_flight' DESC, priority, seq
                """)
            var result: [OpenInquiry] = []
            while let row = try rows.next() {
                guard let id = InquiryID(row["id"] as String), let state = InquiryState(rawValue: row["state"]) else { continue }
                result.append(OpenInquiry(id: id, department: row["department"], priority: Priority(rank: row["priority"]) ?? .normal,
                                          state: state, deliveries: UInt16(clamping: row["deliveries"] as Int)))
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

    private func read<T>(_ operation: String, _ body: (Database) throws -> T) throws -> T {
        do {
            return try database.read(body)
        } catch {
            throw StoreError(operation: operation, underlying: "\(error)")
        }
    }
}
