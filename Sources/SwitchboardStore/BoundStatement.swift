import GRDB
import GRDBSQLite

/// Runs one of the store's hot statements (the projector's inquiry insert and update and
/// timeline row, the journal writer's check that a post is new) by binding its values
/// straight to SQLite, then stepping it once.
///
/// GRDB's `execute(arguments:)` boxes every value into a `DatabaseValue` array, checks
/// the count against the statement, and nests one closure per argument to bind strings
/// without copying them. Under durable load that bookkeeping took about a seventh of
/// the writer thread, which is the broker's bottleneck, for work SQLite then does in
/// less. The statements still come from GRDB's cache, run inside GRDB's transaction,
/// and fail with GRDB's `DatabaseError`; this file is the only place the store calls
/// SQLite's C API itself.
///
/// Only for statements that return no rows (``run(_:)``) or whose rows only say that
/// something exists (``exists(_:)``), in a database with no transaction observers (GRDB
/// is not told a statement ran; the store registers none).
struct BoundStatement {
    private let statement: Statement
    private var next: CInt = 1
    /// The first bind that failed (a value too large for SQLite), reported by ``run(_:)``.
    private var failure = SQLITE_OK

    init(_ statement: Statement) {
        self.statement = statement
    }

    /// Binds `bind`'s values in order, steps the statement to its end and resets it.
    mutating func run(_ bind: (inout BoundStatement) -> Void) throws {
        guard try step(bind) == SQLITE_DONE else {
            throw DatabaseError(resultCode: .SQLITE_MISUSE, message: "a statement run for no rows returned one", sql: statement.sql)
        }
    }

    /// Binds `bind`'s values in order and steps the statement once: whether it returned a
    /// row. No value of the row is read.
    mutating func exists(_ bind: (inout BoundStatement) -> Void) throws -> Bool {
        try step(bind) == SQLITE_ROW
    }

    /// Binds, steps once and resets: `SQLITE_DONE` or `SQLITE_ROW`, else the error thrown.
    private mutating func step(_ bind: (inout BoundStatement) -> Void) throws -> CInt {
        let handle = statement.sqliteStatement
        // A reset statement keeps its last bindings; every parameter is bound again.
        sqlite3_reset(handle)
        next = 1
        failure = SQLITE_OK
        bind(&self)
        precondition(next - 1 == sqlite3_bind_parameter_count(handle), "every parameter of \(statement.sql) is bound")
        let code = failure == SQLITE_OK ? sqlite3_step(handle) : failure
        sqlite3_reset(handle)
        guard code == SQLITE_DONE || code == SQLITE_ROW else {
            throw DatabaseError(resultCode: ResultCode(rawValue: code), message: String(cString: sqlite3_errmsg(sqlite3_db_handle(handle))), sql: statement.sql)
        }
        return code
    }

    mutating func text(_ value: String?) {
        guard var value else { return null() }
        value.withUTF8 { bytes in
            check(sqlite3_bind_text(statement.sqliteStatement, next, bytes.baseAddress, CInt(bytes.count), Self.transient))
        }
        next += 1
    }

    mutating func integer(_ value: Int?) {
        guard let value else { return null() }
        sqlite3_bind_int64(statement.sqliteStatement, next, Int64(value))
        next += 1
    }

    mutating func real(_ value: Double?) {
        guard let value else { return null() }
        sqlite3_bind_double(statement.sqliteStatement, next, value)
        next += 1
    }

    mutating func null() {
        sqlite3_bind_null(statement.sqliteStatement, next)
        next += 1
    }

    private mutating func check(_ code: CInt) {
        if code != SQLITE_OK, failure == SQLITE_OK { failure = code }
    }

    /// SQLite copies the bytes before the bind returns: Swift's buffers live only as long
    /// as the closure that lends them.
    private static let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)
}
