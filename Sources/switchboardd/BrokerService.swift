import Logging
import ServiceLifecycle
import SwitchboardBroker
import ZeroMQ

/// Runs a ``BrokerEngine`` for as long as the service group lives: starts it, waits for
/// graceful shutdown (SIGTERM or SIGINT), then stops it, which closes every socket.
struct BrokerService: Service {
    let engine: BrokerEngine
    let logger: Logger

    func run() async throws {
        let endpoint: String
        do {
            endpoint = try engine.start()
        } catch {
            let hint = switch error.errno {
            case .addressInUse: "another process already listens on \(engine.options.endpoint) or \(engine.options.eventsEndpoint ?? "-"); stop it or choose another --endpoint or --events"
            case .invalidArgument, .protocolNotSupported: "--endpoint must look like tcp://127.0.0.1:5555 or ipc:///run/switchboard.sock"
            default: "check --endpoint \(engine.options.endpoint)"
            }
            logger.critical("cannot start the broker", metadata: ["error": "\(error)", "hint": "\(hint)"])
            throw error
        }
        logger.notice("switchboardd ready", metadata: ["mdp.endpoint": "\(endpoint)", "events.endpoint": "\(engine.eventsEndpoint ?? "off")"])
        try? await gracefulShutdown()
        logger.notice("shutting down")
        engine.stop()
    }
}
