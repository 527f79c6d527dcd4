import Foundation
import Logging
import NIOCore
import NIOPosix
import PostgresNIO
import Synchronization
import SwitchboardCore

/// Where a PostgreSQL store lives: a `postgres://user[:password]@host[:port]/database` URL,
/// as libpq and every PostgreSQL tool write it (`postgresql://` too). The password may be
/// left out and given in `PGPASSWORD` instead, so that it is not on a command line.
public struct PostgresLocation: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var port: Int
    public var user: String
    public var password: String?
    public var database: String

    public init(host: String, port: Int = 5432, user: String, password: String? = nil, database: String) {
        self.host = host
        self.port = port
        self.user = user
        self.password = password
        self.database = database
    }

    /// Parses a URL; the error says which part is wrong and what a valid one looks like.
    public init(url text: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws(StoreError) {
        func invalid(_ why: String) -> StoreError {
            StoreError(operation: "read the PostgreSQL location",
                       underlying: PostgresLocationError(message: "\(why); write it as postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE"))
        }
        guard let components = URLComponents(string: text), ["postgres", "postgresql"].contains(components.scheme ?? "") else {
            throw invalid("\"\(Self.redacted(text))\" is not a postgres:// URL")
        }
        guard let host = components.host, !host.isEmpty else { throw invalid("the URL names no host") }
        guard let user = components.user, !user.isEmpty else { throw invalid("the URL names no user") }
        let database = String(components.path.drop { $0 == "/" })
        guard !database.isEmpty else { throw invalid("the URL names no database") }
        self.init(host: host, port: components.port ?? 5432, user: user,
                  password: components.password ?? environment["PGPASSWORD"], database: database)
    }

    /// The URL without its password, for logs and errors.
    public var description: String { "postgres://\(user)@\(host):\(port)/\(database)" }

    static func redacted(_ text: String) -> String {
        text.replacingOccurrences(of: #"://([^:@/]+):[^@/]*@"#, with: "://$1:***@", options: .regularExpression)
    }
}

public struct PostgresLocationError: Error, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}

/// One connection to PostgreSQL, used from one thread at a time, blocking: the journal
/// writer, the projector and the lanes are plain threads, each with its own session, as
/// they each have their own SQLite connection. A query on a connection that was lost
/// (the server restarted, the connection was terminated) fails; the next one connects
/// again.
///
/// Every statement the PostgreSQL store runs goes through ``run(_:_:)``, so a failure
/// always names the operation that did not happen.
public final class PostgresSession: Sendable {
    public let location: PostgresLocation
    /// How long any statement may take before its connection is closed and it fails: a
    /// network that went silent (a cut cable, a frozen firewall) leaves a socket open but
    /// unanswered, and a thread waiting on it forever could never be stopped.
    public let statementTimeout: Duration
    private let logger: Logger
    private let connection = Mutex<PostgresConnection?>(nil)
    private static let ids = Atomic<Int>(0)

    /// How long the server lets this session sit inside a transaction without a statement
    /// before it ends the session (`idle_in_transaction_session_timeout`): a broker paused
    /// in the middle of a projection transaction (SIGSTOP, a VM frozen) must not hold its
    /// locks against the broker that takes over.
    public let idleInTransactionTimeout: Duration

    public init(_ location: PostgresLocation, statementTimeout: Duration = .seconds(30), idleInTransactionTimeout: Duration = .seconds(10),
                logger: Logger = Logger(label: "switchboard.postgres")) {
        self.location = location
        self.statementTimeout = statementTimeout
        self.idleInTransactionTimeout = idleInTransactionTimeout
        self.logger = logger
    }

    deinit { close() }

    /// Runs `query`, connecting first if there is no open connection, waiting for it up to
    /// `timeout` (the session's ``statementTimeout`` if nil): the broker lease's keeper
    /// must learn within its deadline that the database cannot be reached, not minutes
    /// later.
    @discardableResult
    public func run(_ operation: String, _ query: PostgresQuery, timeout: Duration? = nil) throws(StoreError) -> PostgresQueryResult {
        do {
            let open = try connected(within: timeout ?? statementTimeout)
            do {
                return try Self.answer(query, on: open, within: timeout ?? statementTimeout, logger: logger)
            } catch {
                // A connection that failed, or timed out (closed, but perhaps not yet
                // marked so), is not used again; a statement the server refused leaves it
                // usable, but a fresh one costs little.
                if open.isClosed || error is PostgresTimeout { connection.withLock { if $0 === open { $0 = nil } } }
                throw error
            }
        } catch {
            throw StoreError(operation: operation, underlying: PostgresFailure(error))
        }
    }

    /// Runs `body` in one transaction on one connection: BEGIN, the body's statements,
    /// COMMIT; ROLLBACK when the body throws. A connection lost inside it is never
    /// replaced mid-way (its statements would run outside the transaction): the whole
    /// transaction fails, and nothing of it was written.
    public func transaction<T>(_ operation: String, _ body: (PostgresTransaction) throws(StoreError) -> T) throws(StoreError) -> T {
        let open: PostgresConnection
        do {
            open = try connected(within: statementTimeout)
            _ = try Self.answer("BEGIN", on: open, within: statementTimeout, logger: logger)
        } catch {
            connection.withLock { if ($0?.isClosed ?? false) || error is PostgresTimeout { $0 = nil } }
            throw StoreError(operation: operation, underlying: PostgresFailure(error))
        }
        let transaction = PostgresTransaction(connection: open, timeout: statementTimeout, logger: logger)
        do {
            let result = try body(transaction)
            try transaction.run(operation, "COMMIT")
            return result
        } catch {
            _ = try? Self.answer("ROLLBACK", on: open, within: statementTimeout, logger: logger)
            if open.isClosed || (error.underlying as? PostgresFailure)?.timedOut == true { connection.withLock { if $0 === open { $0 = nil } } }
            throw error
        }
    }

    /// Closes the connection (the next query opens another).
    public func close() {
        if let open = connection.withLock({ $0.take() }) { _ = try? open.close().wait() }
    }

    /// The server's answer to `query`, or ``PostgresTimeout`` after `timeout`, when the
    /// connection is closed (the server then rolls back whatever it had begun).
    static func answer(_ query: PostgresQuery, on open: PostgresConnection, within timeout: Duration, logger: Logger) throws -> PostgresQueryResult {
        let answer = open.query(query, logger: logger)
        let answered = DispatchSemaphore(value: 0)
        answer.whenComplete { _ in answered.signal() }
        if answered.wait(timeout: .now() + .milliseconds(Int(timeout.seconds * 1_000))) == .timedOut {
            // Closed here and now (locally: a silent server need not answer), so that the
            // connection is never let go of open (postgres-nio asserts it is closed).
            _ = try? open.close().wait()
            throw PostgresTimeout(after: timeout)
        }
        return try answer.wait()
    }

    /// The open connection, or a new one, made within `timeout` (at most 5 s): the lease
    /// keeper must not wait longer on a silent server than it may go without renewing.
    private func connected(within timeout: Duration) throws -> PostgresConnection {
        if let open = connection.withLock({ $0 }), !open.isClosed { return open }
        var configuration = PostgresConnection.Configuration(host: location.host, port: location.port, username: location.user,
                                                             password: location.password, database: location.database, tls: .disable)
        configuration.options.connectTimeout = .milliseconds(Int64(min(timeout, .seconds(5)).seconds * 1_000))
        configuration.options.additionalStartupParameters = [
            ("idle_in_transaction_session_timeout", "\(Int64(idleInTransactionTimeout.seconds * 1_000))"),
        ]
        let id = Self.ids.add(1, ordering: .relaxed).newValue
        let open = try PostgresConnection.connect(on: MultiThreadedEventLoopGroup.singleton.any(), configuration: configuration,
                                                  id: id, logger: logger).wait()
        connection.withLock { $0 = open }
        return open
    }
}

/// A statement that did not answer in time; its connection was closed.
public struct PostgresTimeout: Error, CustomStringConvertible {
    public let after: Duration
    public var description: String { "PostgreSQL did not answer within \(after); the connection was closed and the next statement opens another" }
}

/// The statements of one transaction, on the connection it began on.
public struct PostgresTransaction {
    let connection: PostgresConnection
    let timeout: Duration
    let logger: Logger

    @discardableResult
    public func run(_ operation: String, _ query: PostgresQuery) throws(StoreError) -> PostgresQueryResult {
        do {
            return try PostgresSession.answer(query, on: connection, within: timeout, logger: logger)
        } catch {
            throw StoreError(operation: operation, underlying: PostgresFailure(error))
        }
    }
}

/// Sessions for the threads that read and write a PostgreSQL store at once (the
/// projector, the lanes, the operations endpoint): each call borrows one, or opens
/// another when all are in use, and gives it back. At most `limit` stay open.
public final class PostgresPool: Sendable {
    public let location: PostgresLocation
    private let idle = Mutex<[PostgresSession]>([])
    private let limit: Int

    private let statementTimeout: Duration
    private let idleInTransactionTimeout: Duration

    public init(_ location: PostgresLocation, keeping limit: Int = 8, statementTimeout: Duration = .seconds(30),
                idleInTransactionTimeout: Duration = .seconds(10)) {
        self.location = location
        self.limit = limit
        self.statementTimeout = statementTimeout
        self.idleInTransactionTimeout = idleInTransactionTimeout
    }

    public func withSession<T>(_ body: (PostgresSession) throws(StoreError) -> T) throws(StoreError) -> T {
        let session = idle.withLock { $0.popLast() } ?? PostgresSession(location, statementTimeout: statementTimeout,
                                                                            idleInTransactionTimeout: idleInTransactionTimeout)
        defer {
            idle.withLock { sessions in
                if sessions.count < limit { sessions.append(session) } else { session.close() }
            }
        }
        return try body(session)
    }

    /// Closes every idle session.
    public func close() {
        for session in idle.withLock({ sessions in defer { sessions = [] }; return sessions }) { session.close() }
    }
}

/// A PostgreSQL error with what the server said (its SQLSTATE and message), not
/// postgres-nio's generic description.
public struct PostgresFailure: Error, CustomStringConvertible {
    public let description: String
    /// The server's SQLSTATE, when it answered (`40001` a serialization failure, …).
    public let state: String?

    /// The statement did not answer in time (``PostgresTimeout``).
    public let timedOut: Bool

    init(_ error: any Error) {
        timedOut = error is PostgresTimeout
        if let error = error as? PSQLError {
            state = error.serverInfo?[.sqlState]
            if let message = error.serverInfo?[.message] {
                description = "\(message) (SQLSTATE \(state ?? "?"))"
            } else {
                description = "\(error.code)"
            }
        } else {
            state = nil
            description = "\(error)"
        }
    }
}
