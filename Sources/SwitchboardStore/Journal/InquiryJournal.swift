import Foundation
import GRDB

/// The record of every decision the inquiry side makes, in order: one entry per sealed
/// batch, appended before anything in it is acknowledged.
///
/// The journal is what makes a batch durable; the projection (``InquiryStore``) is
/// brought up to date from it off the hot path. An entry stays until the projection
/// holds it (``InquiryStore/projectedPosition()``), then it is trimmed, so the journal
/// holds at most the projector's lag. A PostgreSQL journal implements the same contract.
///
/// Contract: positions only grow; ``append(_:at:trimmingThrough:)`` returns only once the
/// entry is durable; one thread appends (the broker's journal writer), any may read.
public protocol InquiryJournal: Sendable {
    /// Appends `entry` at `position` and, in the same transaction, removes every entry at
    /// or before `trimmingThrough` (those the projection already holds).
    func append(_ entry: [UInt8], at position: UInt64, trimmingThrough: UInt64) throws(StoreError)
    /// The entries after `position`, oldest first: what a restart replays into the projection.
    func entries(after position: UInt64) throws(StoreError) -> [(position: UInt64, entry: [UInt8])]
    /// The newest position written, 0 for an empty journal.
    func lastPosition() throws(StoreError) -> UInt64
    /// Removes the entries through `position` and empties the write-ahead log, so that no
    /// copy of a removed entry stays in the journal's files (before an erasure answers).
    func trim(through position: UInt64) throws(StoreError)
}

/// The journal does not continue the projection: entries between them are missing.
public struct JournalGap: Error, CustomStringConvertible {
    public let projected: UInt64
    public let firstEntry: UInt64

    public var description: String {
        "the journal starts at entry \(firstEntry) but the database holds entries only up to \(projected), so they do not belong together "
            + "(was inquiries.sqlite restored from a backup?). To start from the database alone, move journal.sqlite and its -wal and -shm "
            + "files out of the data directory; what was acknowledged after the backup is then lost."
    }
}

/// The SQLite journal: `journal.sqlite` beside the projection, in its own file so that
/// an append never waits for the projector's write lock. WAL with `synchronous=FULL`:
/// one append is one write and one fsync of the log. The log is copied into the file by
/// a ``WALCheckpointer`` beside the writer: SQLite's own checkpoint, every 1,000 pages
/// (about every half second at half load), ran inside an append and held that batch's
/// acknowledgements for 10 to 70 ms. Entries trimmed on the hot path
/// leave free pages for the next appends; an erasure's ``trim(through:)`` rewrites the
/// file (VACUUM, small: the journal holds only the projector's lag) and empties its log,
/// so that no removed entry stays readable in either.
public final class SQLiteInquiryJournal: InquiryJournal {
    public let database: DatabaseQueue
    public let path: String
    private let checkpointer: WALCheckpointer?

    /// Opens (creating if needed) `journal.sqlite` in `directory`.
    public convenience init(directory: String) throws(StoreError) {
        try self.init(path: (directory as NSString).appendingPathComponent("journal.sqlite"))
    }

    /// - Parameter checkpointInBackground: copy the log on a thread of its own; without
    ///   it, appends copy it themselves every 1,000 pages.
    public init(path: String, checkpointInBackground: Bool = true) throws(StoreError) {
        var configuration = Configuration()
        configuration.label = "switchboard.journal"
        configuration.busyMode = .timeout(10)
        self.path = path
        do {
            database = try DatabaseQueue(path: path, configuration: configuration)
            // WAL is a property of the file, set outside a transaction.
            try database.writeWithoutTransaction { db in
                try db.execute(sql: "PRAGMA journal_mode = WAL")
                try db.execute(sql: "PRAGMA synchronous = FULL")
                try db.execute(sql: "CREATE TABLE IF NOT EXISTS journal (position INTEGER PRIMARY KEY, entry BLOB NOT NULL)")
                // With the background copy, an append copies the log itself only as a
                // bound, should that thread fall 16,000 pages (64 MiB) behind.
                if checkpointInBackground { try db.execute(sql: "PRAGMA wal_autocheckpoint = 16000") }
            }
            checkpointer = checkpointInBackground ? try WALCheckpointer(path: path, name: "sb-journal-ckpt") : nil
        } catch {
            throw StoreError(operation: "open journal \(path)", underlying: error)
        }
    }

    public func append(_ entry: [UInt8], at position: UInt64, trimmingThrough: UInt64) throws(StoreError) {
        do {
            try database.write { db in
                if trimmingThrough > 0 {
                    try db.cachedStatement(sql: "DELETE FROM journal WHERE position <= ?").execute(arguments: [Int64(trimmingThrough)])
                }
                try db.cachedStatement(sql: "INSERT INTO journal (position, entry) VALUES (?, ?)")
                    .execute(arguments: [Int64(position), Data(entry)])
            }
        } catch {
            throw StoreError(operation: "append to the journal", underlying: error)
        }
    }

    public func entries(after position: UInt64) throws(StoreError) -> [(position: UInt64, entry: [UInt8])] {
        do {
            return try database.read { db in
                try Row.fetchAll(db, sql: "SELECT position, entry FROM journal WHERE position > ? ORDER BY position",
                                 arguments: [Int64(position)])
                    .map { row in (UInt64(row["position"] as Int64), [UInt8](row["entry"] as Data)) }
            }
        } catch {
            throw StoreError(operation: "read the journal", underlying: error)
        }
    }

    public func lastPosition() throws(StoreError) -> UInt64 {
        do {
            return try database.read { db in
                UInt64(try Int64.fetchOne(db, sql: "SELECT max(position) FROM journal") ?? 0)
            }
        } catch {
            throw StoreError(operation: "read the journal", underlying: error)
        }
    }

    public func trim(through position: UInt64) throws(StoreError) {
        do {
            try database.writeWithoutTransaction { db in
                try db.execute(sql: "DELETE FROM journal WHERE position <= ?", arguments: [Int64(position)])
                try db.execute(sql: "VACUUM")
            }
        } catch {
            throw StoreError(operation: "trim the journal", underlying: error)
        }
        // Not `PRAGMA wal_checkpoint(TRUNCATE)`: it reports a checkpoint the background
        // checkpointer's copy kept it from making as a row, not an error, and the log
        // would keep the removed entries while the erasure answered.
        try WALCheckpointer.truncateLog(of: database, operation: "empty the journal's log after a trim")
    }

    deinit { checkpointer?.stop() }

    /// Closes the file; the last connection copies the log into it (the checkpointer's
    /// is closed first, so that this one is the last).
    public func close() throws(StoreError) {
        checkpointer?.stop()
        do {
            try database.close()
        } catch {
            throw StoreError(operation: "close \(path)", underlying: error)
        }
    }
}
