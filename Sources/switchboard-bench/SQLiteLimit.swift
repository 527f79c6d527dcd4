import Foundation
import SwitchboardCore
import GRDB

/// The physical ceiling for Switchboard's store: batched 512-byte inserts into SQLite in
/// WAL mode with `synchronous=FULL`, on the same disk as the broker's data, committed in
/// batches the size the broker's turns produce. No broker can make durable inquiries
/// faster than this, so each durable figure is reported as a ratio to it.
enum SQLiteLimit {
    static func measure(directory: String, duration: Duration, batch: Int = 1_000) throws -> Double {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        var configuration = Configuration()
        configuration.prepareDatabase { db in try db.execute(sql: "PRAGMA synchronous = FULL") }
        let pool = try DatabasePool(path: (directory as NSString).appendingPathComponent("limit.sqlite"), configuration: configuration)
        try pool.writeWithoutTransaction { db in
            try db.execute(sql: "PRAGMA synchronous = FULL")
            try db.execute(sql: "CREATE TABLE IF NOT EXISTS row (seq INTEGER PRIMARY KEY, payload TEXT NOT NULL)")
        }
        let payload = String(repeating: "x", count: 512)
        let start = ContinuousClock.now
        var rows = 0
        while ContinuousClock.now - start < duration {
            try pool.write { db in
                let insert = try db.cachedStatement(sql: "INSERT INTO row (payload) VALUES (?)")
                for _ in 0..<batch { try insert.execute(arguments: [payload]) }
            }
            rows += batch
        }
        let elapsed = ContinuousClock.now - start
        let seconds = elapsed.seconds
        return Double(rows) / seconds
    }
}
