import ArgumentParser
import Foundation
import Hummingbird
import Logging
import Majordomo
import SwitchboardCore
import SwitchboardGateway
import ZeroMQ

/// `switchboard-gateway`: takes citizens' messages from the platforms' webhooks to the
/// broker's `sb.ingest`, a 7/MDP peer like any other (the `gateway` role under CURVE).
/// See Protocols/8-gateways.md.
@main
struct GatewayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "switchboard-gateway",
        abstract: "Take citizens' messages from Meta's webhooks and a signed generic webhook to a Switchboard broker.",
        discussion: "See deploy/gateway.yaml for a configuration, and Protocols/8-gateways.md for what each payload becomes."
    )

    @Option(help: "The gateway's configuration (YAML; see deploy/gateway.yaml).") var config: String
    @Option(help: "trace … critical.") var logLevel: Logger.Level = .info

    func run() async throws {
        let level = logLevel
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "switchboard-gateway")
        let settings: GatewayConfiguration
        do {
            settings = try GatewayConfiguration.load(path: config)
        } catch {
            throw ValidationError("invalid configuration \(config): \(error)")
        }
        let connect = try Self.connector(settings)
        let lane = IngestLane(logger: logger, connect: connect)
        lane.start()
        let metrics = GatewayMetrics()
        let routes = WebhookRoutes(settings: settings, lane: lane, metrics: metrics, logger: logger)
        let app = Application(
            router: routes.router(),
            configuration: .init(address: .hostname(settings.listenHost, port: settings.listenPort), serverName: "switchboard-gateway"),
            onServerRunning: { channel in
                logger.notice("switchboard-gateway listening", metadata: [
                    "http.address": "\(settings.listenHost):\(channel.localAddress?.port ?? settings.listenPort)",
                    "mdp.endpoint": "\(settings.brokerEndpoint)",
                    "meta.accounts": "\(settings.meta?.accounts.count ?? 0)", "generic": "\(settings.generic != nil)",
                ])
            },
            logger: logger
        )
        try await app.runService()
    }

    /// How the lane opens its connection to the broker (with CURVE when configured).
    static func connector(_ settings: GatewayConfiguration) throws -> @Sendable () throws -> MajordomoClient {
        let context = try Context()
        let endpoint = settings.brokerEndpoint
        guard let keyFile = settings.brokerKey, let serverFile = settings.brokerServerKey else {
            return { try MajordomoClient(context: context, endpoint: endpoint) }
        }
        let mine = try Certificate.load(path: keyFile)
        guard let secret = mine.secretKey else { throw ValidationError("\(keyFile) holds no secret key; give the gateway's NAME.key_secret file") }
        let server = try Certificate.load(path: serverFile).publicKey
        let pair = CurveKeyPair(publicKey: mine.publicKey, secretKey: secret)
        return {
            try MajordomoClient(context: context, endpoint: endpoint) { socket throws(ZMQError) in
                try socket.setCurveClient(serverKey: server, keyPair: pair)
            }
        }
    }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}
