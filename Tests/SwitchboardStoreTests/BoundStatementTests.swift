import GRDB
import Testing
@testable import SwitchboardStore

/// The writer's direct binding: what it stores reads back through GRDB exactly, and a
/// failing statement throws GRDB's own error and leaves the statement usable.
@Suite struct BoundStatementTests {
    func database() throws -> DatabaseQueue {
        let queue = try DatabaseQueue()
        try queue.write { db in
            try db.execute(sql: "CREATE TABLE t (key TEXT NOT NULL UNIQUE, number INTEGER, real REAL, note TEXT)")
        }
        return queue
    }

    @Test func valuesReadBackAsBound() throws {
        let queue = try database()
        try queue.write { db in
            var insert = try BoundStatement(db.cachedStatement(sql: "INSERT INTO t (key, number, real, note) VALUES (?, ?, ?, ?)"))
            try insert.run { row in
                row.text("é \"quoted\" \u{1F6A7}")
                row.integer(Int(Int64.max))
                row.real(1_795_528_741.906_73)
                row.text(nil)
            }
            try insert.run { row in
                row.text("second")
                row.integer(nil)
                row.real(nil)
                row.text("a note")
            }
        }
        let rows = try queue.read { db in try Row.fetchAll(db, sql: "SELECT key, number, real, note FROM t ORDER BY rowid") }
        #expect(rows.count == 2)
        #expect(rows[0]["key"] as String == "é \"quoted\" \u{1F6A7}")
        #expect(rows[0]["number"] as Int64 == Int64.max)
        #expect(rows[0]["real"] as Double == 1_795_528_741.906_73)
        #expect(rows[0]["note"] as String? == nil)
        // A reused statement binds every parameter afresh: nothing of the first row leaks.
        #expect(rows[1]["key"] as String == "second")
        #expect(rows[1]["number"] as Int? == nil)
        #expect(rows[1]["real"] as Double? == nil)
        #expect(rows[1]["note"] as String == "a note")
    }

    @Test func aFailedStepThrowsGRDBsErrorAndTheStatementRunsAgain() throws {
        let queue = try database()
        try queue.write { db in
            var insert = try BoundStatement(db.cachedStatement(sql: "INSERT INTO t (key) VALUES (?)"))
            try insert.run { $0.text("one") }
            let error = #expect(throws: DatabaseError.self) { try insert.run { $0.text("one") } }
            #expect(error?.resultCode == .SQLITE_CONSTRAINT)
            #expect(error?.sql == "INSERT INTO t (key) VALUES (?)")
            try insert.run { $0.text("two") }
        }
        #expect(try queue.read { db in try String.fetchAll(db, sql: "SELECT key FROM t ORDER BY rowid") } == ["one", "two"])
    }
}
