import ArgumentParser
import Logging
import ServiceLifecycle
import SwitchboardBroker
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
        version: "0.1.0 (libzmq \(Context.libraryVersion))"
    )

    @Option(help: "Where the broker's ROUTER socket binds. tcp://127.0.0.1:* picks a free port.")
    var endpoint = "tcp://127.0.0.1:5555"

    @Option(help: "Where the event stream's PUB socket binds; 'off' disables it.")
    var events = "tcp://127.0.0.1:5556"

    @Option(help: "Directory for the inquiry database (created if missing). One broker at a time: switchboardd.lock in it is locked while the broker runs.")
    var data = "./data"

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
        guard (1...16).contains(ioThreads) else {
            throw ValidationError("--io-threads must be from 1 to 16")
        }
        guard heartbeatInterval.duration >= .milliseconds(10) else {
            throw ValidationError("--heartbeat-interval must be at least 10ms")
        }
    }

    func run() async throws {
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
        options.broker.heartbeatInterval = heartbeatInterval.duration
        options.broker.heartbeatLiveness = heartbeatLiveness
        options.broker.unservedRequestTimeout = unservedTimeout.duration

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

        let store: SQLiteInquiryStore
        do {
            store = try SQLiteInquiryStore(directory: data)
        } catch {
            throw ValidationError("cannot open the inquiry store in --data \(data): \(error). Check the directory exists and is writable.")
        }
        let engine = try BrokerEngine(options: options, store: store, logger: logger)
        let group = ServiceGroup(
            services: [BrokerService(engine: engine, logger: logger, readyFile: ready)],
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger
        )
        try await group.run()
    }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}
