#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import Logging
import ServiceLifecycle
import SwitchboardBroker
import SwitchboardCore
import ZeroMQ

/// Runs a ``BrokerEngine`` for as long as the service group lives. `run()` is the
/// long-running work: it starts the engine, announces it, then waits for whichever comes
/// first, graceful shutdown (SIGTERM or SIGINT) or the engine thread ending on its own.
/// On shutdown it stops the engine, which closes every socket, and returns. If the engine
/// ended by itself, the broker is dead: it throws, so the daemon exits non-zero and a
/// supervisor can restart it, instead of staying up with nothing serving.
struct BrokerService: Service {
    let engine: BrokerEngine
    let logger: Logger
    /// Where to announce the bound endpoints (`--ready-file`), if anywhere.
    var readyFile: ReadyFile? = nil

    func run() async throws {
        let endpoint = try start()
        do {
            try readyFile?.write(endpoint: endpoint, eventsEndpoint: engine.eventsEndpoint)
        } catch {
            logger.critical("cannot write the ready file", metadata: ["path": "\(readyFile?.path ?? "")", "error": "\(error)"])
            engine.stop()
            throw error
        }
        // Whatever ends the broker, its endpoints are no longer worth announcing.
        defer { readyFile?.remove() }
        logger.notice("switchboardd ready", metadata: ["mdp.endpoint": "\(endpoint)", "events.endpoint": "\(engine.eventsEndpoint ?? "off")"])

        let ending = await shutdownOrEngineEnd()
        switch ending.termination {
        case .failed(let reason):
            logger.critical("the broker engine failed; switchboardd exits", metadata: ["reason": "\(reason)"])
            throw BrokerEngineEnded(description: "the broker engine failed: \(reason)")
        case .stopped where ending.requested:
            return
        case .stopped:
            logger.critical("the broker engine stopped without a shutdown request; switchboardd exits")
            throw BrokerEngineEnded(description: "the broker engine stopped without a shutdown request")
        }
    }

    /// Starts the engine, with a hint for the usual mistakes when it cannot bind.
    private func start() throws -> String {
        do {
            return try engine.start()
        } catch {
            let hint = switch error.errno {
            case .addressInUse:
                "another process already listens on \(([engine.options.endpoint] + [engine.options.eventsEndpoint].compactMap { $0 }).joined(separator: " or ")); "
                    + "stop it or choose another --endpoint or --events"
            case .invalidArgument, .protocolNotSupported: "--endpoint must look like tcp://127.0.0.1:5555 or ipc:///run/switchboard.sock"
            default: "check --endpoint \(engine.options.endpoint)"
            }
            logger.critical("cannot start the broker", metadata: ["error": "\(error)", "hint": "\(hint)"])
            throw error
        }
    }

    /// What woke the service up.
    private enum Wake: Sendable, Equatable {
        case engineEnded(BrokerEngine.Termination)
        case shutdownRequested
        case cancelled
    }

    /// How the engine ended, and whether this service asked it to.
    private struct Ending: Sendable {
        var termination: BrokerEngine.Termination
        var requested: Bool
    }

    /// Races graceful shutdown against the engine thread's end. On shutdown (or when the
    /// service group cancels this task) it stops the engine and waits for it to end; when
    /// the engine ends first, it stops waiting for shutdown.
    private func shutdownOrEngineEnd() async -> Ending {
        let engine = engine
        let logger = logger
        return await withTaskGroup(of: Wake.self, returning: Ending.self) { group in
            group.addTask {
                .engineEnded(await engine.awaitTermination())
            }
            group.addTask {
                do {
                    try await gracefulShutdown()
                    return .shutdownRequested
                } catch {
                    return .cancelled
                }
            }
            var termination: BrokerEngine.Termination?
            var requested = false
            while let wake = await group.next() {
                switch wake {
                case .engineEnded(let ended):
                    termination = ended
                    group.cancelAll()
                case .shutdownRequested, .cancelled:
                    // After the engine has ended, the shutdown waiter only reports its own cancellation.
                    guard termination == nil else { continue }
                    requested = true
                    logger.notice("shutting down", metadata: ["reason": "\(wake == .cancelled ? "cancelled" : "signal")"])
                    engine.stop()
                }
            }
            return Ending(termination: termination ?? .stopped, requested: requested)
        }
    }
}

/// Runs this broker among the brokers of one PostgreSQL database (``ActiveStandby``) for
/// as long as the service group lives: on graceful shutdown it stops serving or standing
/// by (an active broker releases the lease, so a standby takes over at once); if the
/// lease keeper ends by itself, the broker cannot go on, and it throws so that the daemon
/// exits non-zero and a supervisor restarts it.
struct ActiveStandbyService: Service {
    let brokers: ActiveStandby
    let logger: Logger
    var readyFile: ReadyFile? = nil

    func run() async throws {
        brokers.start()
        defer { readyFile?.remove() }
        let brokers = brokers
        let ended = await withTaskGroup(of: ActiveStandby.Termination?.self) { group in
            group.addTask { await brokers.awaitTermination() }
            group.addTask {
                try? await gracefulShutdown()
                return nil
            }
            let first = await group.next() ?? nil
            if first == nil {
                logger.notice("shutting down")
                brokers.stop()
            }
            group.cancelAll()
            return first
        }
        if case .failed(let reason)? = ended {
            logger.critical("switchboardd exits", metadata: ["reason": "\(reason)"])
            throw BrokerEngineEnded(description: reason)
        }
    }
}

/// The engine thread ended by itself; the description is the whole message.
struct BrokerEngineEnded: Error, CustomStringConvertible {
    let description: String
}

/// The `--ready-file` (a ``ReadyDocument``). It is written to `PATH.tmp` and renamed, so
/// a reader never sees half of it, and removed when the broker stops.
struct ReadyFile: Sendable {
    let path: String
    /// The data directory, absolute.
    let dataDirectory: String

    func write(endpoint: String, eventsEndpoint: String?, role: String? = nil) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let document = ReadyDocument(pid: getpid(), mdpEndpoint: endpoint, eventsEndpoint: eventsEndpoint, data: dataDirectory, role: role)
        let temporary = path + ".tmp"
        try (encoder.encode(document) + Data("\n".utf8)).write(to: URL(fileURLWithPath: temporary))
        guard rename(temporary, path) == 0 else {
            let code = errno
            unlink(temporary)
            throw ReadyFileError(description: "cannot rename \(temporary) to \(path): \(String(cString: strerror(code)))")
        }
    }

    /// Removes the file (and a leftover temporary), if present.
    func remove() {
        unlink(path)
        unlink(path + ".tmp")
    }
}

struct ReadyFileError: Error, CustomStringConvertible {
    let description: String
}
