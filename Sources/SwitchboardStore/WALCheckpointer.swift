import Foundation
import GRDB
import Synchronization

/// Copies the write-ahead log into the database file on its own connection and thread,
/// so that the store writer's commits do not wait for it.
///
/// SQLite checkpoints on the committing connection by default: every few thousand
/// pages one commit also copies the whole log into the database and syncs it, and the
/// clients of that batch wait 50 ms or more (the broker's p99 under load). A passive
/// checkpoint from a second connection runs beside the writer, as WAL allows: it copies
/// what is committed and never blocks a commit. The writer keeps a far larger
/// automatic checkpoint only as a bound, for when this thread cannot keep up; it then
/// finds most of the log already copied.
final class WALCheckpointer: Sendable {
    /// How often the log is copied. Short enough that the writer's bound is rarely met.
    static let interval = DispatchTimeInterval.milliseconds(250)

    private let connection: DatabaseQueue
    private let stopping = Mutex(false)
    /// Signalled by ``stop()``: the wait between copies ends at once.
    private let wake = DispatchSemaphore(value: 0)
    private let finished = DispatchSemaphore(value: 0)

    /// Opens a second connection to the database at `path` and starts the thread, named
    /// `name` (at most 15 characters, as Linux keeps them).
    init(path: String, name: String = "sb-checkpoint") throws {
        var configuration = Configuration()
        configuration.label = "switchboard.checkpoint"
        configuration.prepareDatabase { db in
            // The database file is synced after each copy, as the writer's own would be.
            try db.execute(sql: "PRAGMA synchronous = FULL")
            try db.execute(sql: "PRAGMA wal_autocheckpoint = 0")
        }
        connection = try DatabaseQueue(path: path, configuration: configuration)
        let thread = Thread { [self] in
            // Named from inside: on Linux only a thread's own name change reaches `top -H`.
            Thread.current.name = name
            run()
            finished.signal()
        }
        thread.start()
    }

    /// Copies the whole log of `database` into its file and empties it, so that no page
    /// image of removed data stays in the log (before an erasure answers). Retried while
    /// another connection holds the checkpoint lock (a background checkpointer mid-copy:
    /// SQLite then refuses at once, without its busy handler) or a reader an old snapshot.
    static func truncateLog(of database: any DatabaseWriter, operation: String) throws(StoreError) {
        var attempts = 0
        while true {
            do {
                _ = try database.writeWithoutTransaction { db in try db.checkpoint(.truncate) }
                return
            } catch {
                attempts += 1
                guard attempts < 50 else { throw StoreError(operation: operation, underlying: error) }
                Thread.sleep(forTimeInterval: 0.02)
            }
        }
    }

    /// Ends the thread after the copy in progress, if any.
    func stop() {
        let first = stopping.withLock { stopping in
            defer { stopping = true }
            return !stopping
        }
        guard first else { return }
        wake.signal()
        finished.wait()
    }

    private func run() {
        // Closed here, before ``stop()`` returns: the store's own connection must be the
        // last to close, so that it (not this one, later, under an exclusive lock that a
        // reopening store would trip over) finishes the log.
        defer { try? connection.close() }
        while !stopping.withLock({ $0 }) {
            // Passive: copies what no reader still needs and returns; a busy database
            // is not an error, the next turn copies more.
            _ = try? connection.writeWithoutTransaction { db in try db.checkpoint(.passive) }
            _ = wake.wait(timeout: .now() + Self.interval)
        }
    }
}
