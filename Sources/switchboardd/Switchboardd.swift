import Foundation
import ArgumentParser
import Logging
import ServiceLifecycle
import Synchronization
import SwitchboardBroker
import SwitchboardOps
import SwitchboardCore
import SwitchboardStore
import ZeroMQ

/// `switchboardd`: the Switchboard broker daemon. Thin wiring: parse options, set up
/// logging, and run the broker as a service that SIGINT and SIGTERM stop cleanly.
@main
struct Switchboardd: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "switchboardd",
        abstract: "The Switchboard broker: routes citizen inquiries to department queues over 7/MDP.",
        version: "\(SwitchboardVersion.current) (libzmq \(Context.libraryVersion))"
    )

    @Option(help: "Where the broker's ROUTER socket binds. tcp://127.0.0.1:* picks a free port.")
    var endpoint = "tcp://127.0.0.1:5555"

    @Option(help: "Where the event stream's PUB socket binds; 'off' disables it.")
    var events = "tcp://127.0.0.1:5556"

    @Option(help: "Directory for the inquiry database (created if missing). One broker at a time: switchboardd.lock in it is locked while the broker runs.")
    var data = "./data"

    @Option(help: ArgumentHelp(
        "Where inquiries are stored: sqlite (in --data; the default) or a PostgreSQL database, postgres://USER@HOST[:PORT]/DATABASE (the password in PGPASSWORD, not on the command line). On PostgreSQL any number of brokers share the database: one is active, the others stand by and take over (Protocols/9-high-availability.md).",
        valueName: "sqlite|url"
    ))
    var store = "sqlite"

    @Option(help: "This broker's name among the brokers of one PostgreSQL database, shown to operators and in a standby's answers. Default: HOST:PID.")
    var name: String?

    @Option(help: "How long the active broker's lease on PostgreSQL lasts without a renewal (1s to 60s): a standby takes over this long after the active broker stops answering, and at once when its process dies.")
    var leaseTime = DurationArgument(.seconds(6))

    @Option(help: "Departments and routing rules (YAML). Without it, the embedded demo city is used.")
    var config: String?

    @Option(help: "How often heartbeats go to workers, e.g. 2500ms or 2.5s.")
    var heartbeatInterval = DurationArgument(.milliseconds(2_500))

    @Option(help: "Missed heartbeats after which a worker is dead.")
    var heartbeatLiveness = 3

    @Option(help: "How long a request for a service with no worker waits before it is dropped.")
    var unservedTimeout = DurationArgument(.seconds(30))

    @Option(help: "libzmq I/O threads for network work (1 to 16).")
    var ioThreads: Int32 = 1

    @Option(help: "The largest message a peer may send, in bytes (4096 to 16777216); a larger one drops the connection.")
    var maxMessageSize: Int64 = 256 << 10

    @Option(help: "At most this many connections from one address; more are closed at once.")
    var maxConnectionsPerSource = 256

    @Option(help: "At most this many connections in all.")
    var maxConnections = 10_000

    @Option(help: "A connection that sends no valid 7/MDP message this long after it is accepted is closed, e.g. 30s.")
    var idleTimeout = DurationArgument(.seconds(30))

    @Option(help: "Where the operations endpoint listens (/metrics, /stats, /healthz, /readyz, and a status page at /), as HOST:PORT; 'off' disables it. Keep it on loopback unless a proxy guards it.")
    var stats = "127.0.0.1:8222"

    @Option(help: "The broker's CURVE secret key file (from 'switchboard keys generate --server'). With it, only keys in --authorized-keys may connect.")
    var serverKey: String?

    @Option(help: "Which CURVE public keys may connect, and in which role (YAML; see deploy/authorized-keys.yaml). Reloaded on SIGHUP.")
    var authorizedKeys: String?

    @Flag(help: "Allow plain (unauthenticated) mode on an address other than loopback, ipc:// or inproc://. For isolated test networks only.")
    var insecure = false

    @Option(help: "Log level: trace, debug, info, notice, warning, error or critical.")
    var logLevel: Logger.Level = .info

    @Option(help: ArgumentHelp(
        "Once the sockets are bound, write a JSON document here: {\"pid\": ..., \"mdp_endpoint\": ..., \"events_endpoint\": ... or null, \"data\": absolute --data}. Written atomically (PATH.tmp, then renamed); removed when the broker stops.",
        valueName: "path"
    ))
    var readyFile: String?

    func validate() throws {
        guard heartbeatLiveness >= 1 else {
            throw ValidationError("--heartbeat-liveness must be at least 1")
        }
        guard (4_096...16_777_216).contains(maxMessageSize) else {
            throw ValidationError("--max-message-size must be from 4096 to 16777216 bytes")
        }
        guard maxConnectionsPerSource >= 1, maxConnections >= maxConnectionsPerSource else {
            throw ValidationError("--max-connections-per-source must be at least 1 and at most --max-connections")
        }
        guard idleTimeout.duration >= .milliseconds(100) else {
            throw ValidationError("--idle-timeout must be at least 100ms")
        }
        guard (1...16).contains(ioThreads) else {
            throw ValidationError("--io-threads must be from 1 to 16")
        }
        guard heartbeatInterval.duration >= .milliseconds(10) else {
            throw ValidationError("--heartbeat-interval must be at least 10ms")
        }
        guard store == "sqlite" || store.hasPrefix("postgres://") || store.hasPrefix("postgresql://") else {
            throw ValidationError("--store must be sqlite or a postgres://USER@HOST[:PORT]/DATABASE URL")
        }
        // A standby answers on the port it will serve on: clients and workers given it
        // find the active broker there after a takeover.
        if store != "sqlite", endpoint.hasSuffix(":*") || (events != "off" && events.hasSuffix(":*")) {
            throw ValidationError("with --store postgres://, --endpoint and --events need fixed ports (a standby binds the port it will serve on), such as tcp://127.0.0.1:5555")
        }
        guard leaseTime.duration >= .seconds(1), leaseTime.duration <= .seconds(60) else {
            throw ValidationError("--lease-time must be from 1s to 60s")
        }
        guard (serverKey == nil) == (authorizedKeys == nil) else {
            throw ValidationError("--server-key and --authorized-keys go together: the broker's secret key, and who may connect")
        }
        // Only a tcp:// endpoint can be reached from elsewhere; a malformed one fails to
        // bind later, with its own hint.
        if serverKey == nil, !insecure, endpoint.hasPrefix("tcp://"), !Self.isLocal(endpoint) {
            throw ValidationError("\(endpoint) is reachable from other hosts, and without --server-key anyone who reaches it may act as any worker, gateway or agent. Generate keys ('switchboard keys generate --server --name broker') and pass --server-key and --authorized-keys, or bind to 127.0.0.1; --insecure overrides this for isolated test networks")
        }
    }

    /// `HOST:PORT` of --stats.
    static func hostAndPort(_ given: String) throws -> (String, Int) {
        // http://HOST:PORT, as `switchboard stats --stats` takes it, is the same address.
        var address = Substring(given)
        if address.hasPrefix("http://") { address = address.dropFirst("http://".count) }
        if address.hasSuffix("/") { address = address.dropLast() }
        guard let colon = address.lastIndex(of: ":"), let port = Int(address[address.index(after: colon)...]), (0...65_535).contains(port) else {
            throw ValidationError("--stats \(address) must be HOST:PORT, such as 127.0.0.1:8222, or off")
        }
        return (String(address[..<colon]), port)
    }

    /// Whether `host:port` can be listened on now: checked before the broker starts, so
    /// a taken --stats port is named as such instead of surfacing as a bare bind error
    /// after the broker said it was ready.
    static func checkListenable(host: String, port: Int) throws {
        guard port != 0 else { return }
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_PASSIVE
        var found: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, String(port), &hints, &found) == 0, let info = found else {
            throw ValidationError("--stats \(host):\(port): \(host) is not an address this host has; use 127.0.0.1:8222, or off")
        }
        defer { freeaddrinfo(found) }
        let fd = socket(info.pointee.ai_family, info.pointee.ai_socktype, info.pointee.ai_protocol)
        guard fd >= 0 else { return }
        defer { close(fd) }
        var on: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, socklen_t(MemoryLayout<Int32>.size))
        guard bind(fd, info.pointee.ai_addr, info.pointee.ai_addrlen) == 0 else {
            let reason = errno == EADDRINUSE ? "another process already listens there" : String(cString: strerror(errno))
            throw ValidationError("cannot serve the operations endpoint on \(host):\(port): \(reason); choose another --stats HOST:PORT, or --stats off")
        }
    }

    /// Loopback, ipc:// and inproc:// endpoints: plain mode is allowed there.
    static func isLocal(_ endpoint: String) -> Bool {
        endpoint.hasPrefix("ipc://") || endpoint.hasPrefix("inproc://") || endpoint.hasPrefix("tcp://127.")
            || endpoint.hasPrefix("tcp://localhost:") || endpoint.hasPrefix("tcp://[::1]:")
    }

    func run() async throws {
        // The database, its journal and the lock hold citizens' words: no other user
        // may read them, whoever started the broker (systemd's unit sets the same).
        umask(0o077)
        // SIGHUP reloads (see Hangup below) and never stops the broker: its default
        // action would, and systemd's `reload` sends it.
        signal(SIGHUP, SIG_IGN)
        let level = logLevel
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "switchboardd")

        var options = BrokerEngine.Options()
        options.endpoint = endpoint
        options.eventsEndpoint = events == "off" ? nil : events
        options.ioThreads = ioThreads
        options.maxMessageSize = maxMessageSize
        options.maxConnections = maxConnections
        options.maxConnectionsPerSource = maxConnectionsPerSource
        options.idleTimeout = idleTimeout.duration
        options.broker.heartbeatInterval = heartbeatInterval.duration
        options.broker.heartbeatLiveness = heartbeatLiveness
        options.broker.unservedRequestTimeout = unservedTimeout.duration

        if let serverKey, let authorizedKeys {
            let certificate = try Certificate.load(path: serverKey)
            guard let secret = certificate.secretKey else {
                throw ValidationError("\(serverKey) holds no secret key; pass the broker's NAME.key_secret file")
            }
            let keys = KeyRing(try Self.loadKeys(authorizedKeys))
            options.security = BrokerEngine.Security(serverSecretKey: secret, keys: keys)
            logger.info("CURVE on; authorised keys loaded", metadata: ["keys": "\(keys.current.count)", "server.public_key": "\(certificate.publicKey)"])
        } else if endpoint.hasPrefix("tcp://"), !Self.isLocal(endpoint) {
            logger.warning("plain mode on a non-local endpoint (--insecure): any peer that reaches it may act as any worker, gateway or agent", metadata: ["mdp.endpoint": "\(endpoint)"])
        }
        do {
            options.configuration = try config.map(SwitchboardConfiguration.load(path:)) ?? .demo()
        } catch {
            throw ValidationError("invalid configuration \(config ?? ""): \(error)")
        }
        logger.info("configuration loaded", metadata: [
            "config": "\(config ?? "embedded demo city")",
            "departments": "\(options.configuration.departments.count)",
            "rules": "\(options.configuration.rules.count)",
        ])
        // Before the store is opened: a second broker on the same data would restore and
        // serve the same queues.
        let lock: DataDirectoryLock
        do {
            lock = try DataDirectoryLock(data: data)
        } catch {
            logger.critical("refusing to start", metadata: ["error": "\(error)"])
            throw error
        }
        let ready = readyFile.map { ReadyFile(path: $0, dataDirectory: lock.directory) }
        // A file left by a broker that was killed must not announce endpoints nobody serves.
        ready?.remove()

        if store != "sqlite" {
            try await runOnPostgres(options: options, logger: logger, ready: ready)
            return
        }
        let store: SQLiteInquiryStore
        let journal: SQLiteInquiryJournal
        do {
            // The engine replays what the journal holds beyond the store (after a crash).
            store = try SQLiteInquiryStore(directory: data, replayingJournal: false)
            journal = try SQLiteInquiryJournal(directory: data)
        } catch {
            throw ValidationError("cannot open the inquiry store in --data \(data): \(error). Check the directory exists and is writable.")
        }
        do {
            // The key of the hash that names citizens in the erasure audit: made once, kept
            // beside the database (back both up together).
            options.citizenHashKey = try CitizenHash.loadOrCreateKey(at: (lock.directory as NSString).appendingPathComponent("erasure-audit.key"))
        } catch {
            throw ValidationError("\(error)")
        }
        let (services, _) = try opsServices(&options, roles: nil, store: store, logger: logger)
        let engine = try BrokerEngine(options: options, store: store, journal: journal, logger: logger)
        Hangup.install(keys: authorizedKeys.flatMap { path in options.security.map { (path, $0.keys) } }, config: config,
                       engine: { engine }, standby: nil, logger: logger)
        let group = ServiceGroup(
            services: [BrokerService(engine: engine, logger: logger, readyFile: ready)] + services,
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger
        )
        // However the broker ended, its store is closed: a clean stop leaves no log file.
        defer {
            do {
                try journal.close()
                try store.close()
                logger.info("store closed", metadata: ["data": "\(data)"])
            } catch {
                logger.warning("the store did not close cleanly; the next start reads its log", metadata: ["error": "\(error)"])
            }
        }
        try await group.run()
    }

    /// One of several brokers on a PostgreSQL database: it stands by until it holds the
    /// lease, then serves until it stops or loses it (9/SB-HA).
    private func runOnPostgres(options: BrokerEngine.Options, logger: Logger, ready: ReadyFile?) async throws {
        var options = options
        let location = try PostgresLocation(url: store)
        let postgres: PostgresInquiryStore
        let journal: PostgresInquiryJournal
        do {
            postgres = try PostgresInquiryStore(location: location, timeouts: (max(leaseTime.duration, .seconds(5)), leaseTime.duration))
            // An append that hangs past a lease could not be acknowledged anyway: it fails,
            // and the writer's retry finds out whether this broker still holds the lease.
            journal = try PostgresInquiryJournal(session: PostgresSession(location, statementTimeout: leaseTime.duration))
            options.citizenHashKey = try postgres.erasureAuditKey()
        } catch {
            throw ValidationError("cannot use the PostgreSQL store \(location): \(error). Check that the server runs, the database exists and the user may create tables in it.")
        }
        let name = name ?? "\(ProcessInfo.processInfo.hostName):\(getpid())"
        let roles = RoleBoard(name: name)
        let (services, _) = try opsServices(&options, roles: roles, store: postgres, logger: logger)
        let brokers = ActiveStandby(options: options, store: postgres, journal: journal, keeper: PostgresSession(location), board: roles,
                                    timing: RoleMachine.Timing(leaseTime: leaseTime.duration), logger: logger) { announcement in
            do {
                try ready?.write(endpoint: announcement.endpoint, eventsEndpoint: announcement.eventsEndpoint, role: announcement.role.rawValue)
            } catch {
                logger.error("cannot write the ready file", metadata: ["path": "\(ready?.path ?? "")", "error": "\(error)"])
            }
        }
        Hangup.install(keys: authorizedKeys.flatMap { path in options.security.map { (path, $0.keys) } }, config: config,
                       engine: { brokers.activeEngine }, standby: brokers.reloadForTakeover, logger: logger)
        let group = ServiceGroup(
            services: [ActiveStandbyService(brokers: brokers, logger: logger, readyFile: ready)] + services,
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger
        )
        defer { postgres.close() }
        try await group.run()
    }

    /// The operations endpoint, if `--stats` is not off, reading the engine's statistics
    /// and, with PostgreSQL, this broker's role.
    private func opsServices(_ options: inout BrokerEngine.Options, roles: RoleBoard?, store: any InquiryStore,
                             logger: Logger) throws -> ([any Service], StatsBoard?) {
        guard stats != "off" else { return ([], nil) }
        let board = StatsBoard()
        options.stats = board
        let (host, port) = try Self.hostAndPort(stats)
        try Self.checkListenable(host: host, port: port)
        let service = OpsEndpoint(board: board, roles: roles, store: store).application(host: host, port: port, logger: logger) { bound in
            logger.info("operations endpoint listening", metadata: ["stats.address": "\(host):\(bound)"])
        }
        return ([service], board)
    }
}

extension Switchboardd {
    static func loadKeys(_ path: String) throws -> AuthorizedKeys {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw ValidationError("cannot read --authorized-keys \(path)")
        }
        do {
            return try AuthorizedKeys.parse(yaml: text)
        } catch {
            throw ValidationError("invalid --authorized-keys \(path): \(error)")
        }
    }
}

/// SIGHUP, as `nats-server --signal reload` and `systemctl reload` expect: reload what an
/// operator edits while the broker runs, each file checked whole first. The authorised
/// keys (with CURVE): connected peers whose keys stay go on, a removed key's rights end
/// with its next message. The configuration (`--config`): departments, rules, SLA
/// targets, retention, limits; the engine applies it between two turns, and inquiries
/// already routed keep their department. A file with a mistake changes nothing: the
/// running keys or configuration stay, and the log names the line and field.
enum Hangup {
    static func install(keys: (path: String, ring: KeyRing)?, config: String?, engine: @escaping @Sendable () -> BrokerEngine?,
                        standby: (@Sendable (SwitchboardConfiguration) -> Void)?, logger: Logger) {
        let source = DispatchSource.makeSignalSource(signal: SIGHUP, queue: .global())
        source.setEventHandler {
            logger.notice("SIGHUP: reloading", metadata: ["keys": "\(keys?.path ?? "none (plain mode)")", "config": "\(config ?? "none (embedded demo city)")"])
            if let keys {
                do {
                    let fresh = try Switchboardd.loadKeys(keys.path)
                    keys.ring.replace(with: fresh)
                    logger.notice("authorised keys reloaded", metadata: ["keys": "\(fresh.count)"])
                } catch {
                    logger.error("authorised keys not reloaded; the previous ones stay in force", metadata: ["error": "\(error)"])
                }
            }
            guard let config else { return }
            // A standby has no engine: it keeps the file for when it takes over.
            guard let engine = engine() else {
                do {
                    let reloaded = try SwitchboardConfiguration.load(path: config)
                    standby?(reloaded)
                    logger.notice("configuration reloaded; this standby serves with it when it takes over")
                } catch {
                    logger.error("configuration not reloaded; the previous one stays", metadata: ["error": "\(config): \(error)"])
                }
                return
            }
            do {
                engine.reload(try SwitchboardConfiguration.load(path: config))
            } catch {
                engine.reloadRefused("\(config): \(error)")
            }
        }
        source.resume()
        Self.source = source
    }

    /// Keeps the signal source alive for the life of the process; set once, at start-up,
    /// before any other thread could read it.
    nonisolated(unsafe) private static var source: (any DispatchSourceSignal)?
}

extension Logger.Level: @retroactive ExpressibleByArgument {}
