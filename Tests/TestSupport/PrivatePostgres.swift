import Foundation
import Synchronization

/// The PostgreSQL server the tests of the PostgreSQL store run against: the one
/// `SWITCHBOARD_TEST_POSTGRES` names (a `postgres://` URL of a superuser), else a private
/// one this test process starts on loopback with `scripts/postgres.sh` (Debian's
/// `postgresql` package; `scripts/bootstrap.sh test` installs it) and stops when it exits.
/// Each test makes a database of its own on it.
public enum PrivatePostgres {
    /// The server's URL without a database (`postgres://postgres@127.0.0.1:PORT`).
    public static func server() throws -> String {
        try started.withLock { state in
            if let url = state.url { return url }
            if let url = ProcessInfo.processInfo.environment["SWITCHBOARD_TEST_POSTGRES"], !url.isEmpty {
                state.url = url.hasSuffix("/postgres") ? String(url.dropLast("/postgres".count)) : url
                return state.url!
            }
            let directory = temporaryDirectory()
            var failures: [String] = []
            for _ in 0..<5 {
                let port = Int.random(in: 20_000...60_000)
                let (status, output) = try script(["start", directory, "\(port)"])
                if status == 0 {
                    state.url = "postgres://postgres@127.0.0.1:\(port)"
                    state.directory = directory
                    stopAtExit(&state)
                    return state.url!
                }
                failures.append(output)
            }
            throw PostgresUnavailable(details: failures.last ?? "")
        }
    }

    /// A fresh, empty database on the server, for one test: its URL.
    public static func freshDatabase() throws -> String {
        try createDatabase(on: try server())
    }

    static func createDatabase(on server: String) throws -> String {
        let name = "t_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")
        let log = temporaryDirectory() + "/psql.log"
        let status = try spawnAndWait("/usr/bin/env", ["psql", "-q", "-v", "ON_ERROR_STOP=1", "\(server)/postgres", "-c", "CREATE DATABASE \(name)"],
                                      output: log)
        guard status == 0 else { throw PostgresUnavailable(details: (try? String(contentsOfFile: log, encoding: .utf8)) ?? "") }
        return "\(server)/\(name)"
    }

    /// A server of its own for one test that restarts or crashes it (the shared one serves
    /// every other test at the same time), stopped when the process exits.
    public final class Dedicated: Sendable {
        public let url: String
        let directory: String

        public init() throws {
            let directory = temporaryDirectory()
            var failures: [String] = []
            for _ in 0..<5 {
                let port = Int.random(in: 20_000...60_000)
                let (status, output) = try PrivatePostgres.script(["start", directory, "\(port)"])
                if status == 0 {
                    url = "postgres://postgres@127.0.0.1:\(port)"
                    self.directory = directory
                    PrivatePostgres.started.withLock { state in
                        state.dedicated.append(directory)
                        PrivatePostgres.stopAtExit(&state)
                    }
                    return
                }
                failures.append(output)
            }
            throw PostgresUnavailable(details: failures.last ?? "")
        }

        /// A fresh database on it: its URL.
        public func freshDatabase() throws -> String {
            try PrivatePostgres.createDatabase(on: url)
        }

        /// Stops the server as a crash would (`pg_ctl -m immediate`) and starts it again.
        public func crashAndRestart() throws {
            let (status, output) = try PrivatePostgres.script(["crash-restart", directory])
            guard status == 0 else { throw PostgresUnavailable(details: output) }
        }
    }

    /// Every server this process started stops when it exits.
    private static func stopAtExit(_ state: inout State) {
        guard !state.stopsAtExit else { return }
        state.stopsAtExit = true
        atexit { PrivatePostgres.stop() }
    }

    private struct State {
        var stopsAtExit = false
        var dedicated: [String] = []
        var url: String?
        var directory: String?
    }

    private static let started = Mutex(State())

    private static func stop() {
        let (shared, dedicated) = started.withLock { ($0.directory, $0.dedicated) }
        for directory in [shared].compactMap({ $0 }) + dedicated { _ = try? script(["stop", directory]) }
    }

    private static func script(_ arguments: [String]) throws -> (status: Int32, output: String) {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let log = temporaryDirectory() + "/postgres.sh.log"
        let status = try spawnAndWait(root.appendingPathComponent("scripts/postgres.sh").path, arguments, output: log)
        return (status, (try? String(contentsOfFile: log, encoding: .utf8)) ?? "")
    }

    /// Runs a program to its end with its output in a file. Not Foundation's `Process`,
    /// which was seen here not to reap the script and wait forever. The script closes every
    /// descriptor it inherited beyond the first three, so the server it leaves running
    /// holds none of this process's.
    static func spawnAndWait(_ path: String, _ arguments: [String], output: String) throws -> Int32 {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, output, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        let argv = ([path] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, path, &actions, nil, argv, environ)
        guard spawned == 0 else { throw PostgresUnavailable(details: "cannot run \(path): \(String(cString: strerror(spawned)))") }
        var status: Int32 = 0
        var waited: pid_t
        repeat { waited = waitpid(pid, &status, 0) } while waited == -1 && errno == EINTR
        guard waited == pid else { return -1 }
        // Exited normally: the exit code; otherwise (a signal) a failure.
        return (status & 0x7f) == 0 ? (status >> 8) & 0xff : -1
    }
}

public struct PostgresUnavailable: Error, CustomStringConvertible {
    public let details: String
    public var description: String {
        "no PostgreSQL server for the tests: install Debian's postgresql package (scripts/bootstrap.sh test does) or set "
            + "SWITCHBOARD_TEST_POSTGRES to a postgres:// URL of a superuser. \(details)"
    }
}
