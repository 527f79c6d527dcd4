import ArgumentParser
import Dispatch
import Foundation
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import Logging
import Majordomo
import SwitchboardCore
import SwitchboardGateway
import SwitchboardProtocol
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
        let credentials = Credentials(settings.tokens)
        var posters: [any PlatformPoster] = []
        if let meta = settings.meta {
            // One publishing worker per platform with an account that has a token.
            let publishing = meta.accounts.filter { meta.tokens[$0.id] != nil }
            for platform in Set(publishing.map(\.platform)).sorted(by: { $0.rawValue < $1.rawValue }) {
                posters.append(MetaPoster(platform: platform, metaAccounts: publishing.filter { $0.platform == platform }, apiBase: meta.apiBase))
            }
        }
        if let mastodon = settings.mastodon, !mastodon.accounts.isEmpty {
            posters.append(MastodonPoster(mastodonAccounts: mastodon.accounts))
            for account in mastodon.accounts {
                let poller = MastodonPoller(account: account, credentials: credentials, lane: lane,
                                            cursor: try CursorFile(directory: settings.stateDirectory, name: "mastodon-\(account.id)"),
                                            metrics: metrics, logger: logger, ingestTimeout: settings.ingestTimeout)
                Task { await poller.run() }
                if account.stream {
                    let streamer = MastodonStreamer(poller: poller, credentials: credentials, lane: lane, metrics: metrics, logger: logger)
                    Task { await streamer.run() }
                }
            }
        }
        let xMemory = XMemory()
        if let x = settings.x, !x.accounts.isEmpty {
            posters.append(XPoster(xAccounts: x.accounts, apiBase: x.apiBase))
            for account in x.accounts {
                let poller = XPoller(account: account, apiBase: x.apiBase, credentials: credentials, lane: lane,
                                     cursor: try CursorFile(directory: settings.stateDirectory, name: account.id),
                                     metrics: metrics, logger: logger, ingestTimeout: settings.ingestTimeout, memory: xMemory)
                Task { await poller.run() }
            }
        }
        if let bluesky = settings.bluesky, !bluesky.accounts.isEmpty {
            let sessions = bluesky.accounts.map { BlueskySession(account: $0, credentials: credentials, logger: logger) }
            posters.append(BlueskyPoster(sessions: sessions))
            for session in sessions {
                let poller = BlueskyPoller(session: session, lane: lane, cursor: try CursorFile(directory: settings.stateDirectory, name: session.account.id),
                                           metrics: metrics, logger: logger, ingestTimeout: settings.ingestTimeout)
                Task { await poller.run() }
            }
        }
        if !posters.isEmpty {
            let journal = try PostedJournal(directory: settings.stateDirectory)
            let connectWorker = try Self.workerConnector(settings)
            for poster in posters {
                OutboundWorker(poster: poster, credentials: credentials, journal: journal, metrics: metrics, logger: logger,
                               connect: connectWorker).start()
            }
        }
        let tls = try settings.tls.map(TLSCredentials.init)
        Self.reloadOnHangup(config: config, credentials: credentials, tls: tls, logger: logger)
        let reporter = AccountReporter(credentials: credentials, lane: lane, logger: logger)
        Task { await reporter.run() }
        let routes = WebhookRoutes(settings: settings, lane: lane, metrics: metrics, credentials: credentials, logger: logger, xMemory: xMemory)
        let server: HTTPServerBuilder = try tls.map { try .tls(.http1(), tlsConfiguration: $0.configuration) } ?? .http1()
        let app = Application(
            router: routes.router(),
            server: server,
            configuration: .init(address: .hostname(settings.listenHost, port: settings.listenPort), serverName: "switchboard-gateway"),
            onServerRunning: { channel in
                logger.notice("switchboard-gateway listening", metadata: [
                    "http.address": "\(tls == nil ? "http" : "https")://\(settings.listenHost):\(channel.localAddress?.port ?? settings.listenPort)",
                    "mdp.endpoint": "\(settings.brokerEndpoint)",
                    "meta.accounts": "\(settings.meta?.accounts.count ?? 0)", "mastodon.accounts": "\(settings.mastodon?.accounts.count ?? 0)",
                    "generic": "\(settings.generic != nil)",
                ])
            },
            logger: logger
        )
        try await app.runService()
    }

    /// SIGHUP reads the configuration again for new credentials (the account tokens, and
    /// the TLS certificate and key): an account whose token a platform refused posts again
    /// once its token changed, and new connections get the renewed certificate. The rest
    /// of the file takes effect at the next start. A file with a mistake changes nothing,
    /// and the log says where.
    static func reloadOnHangup(config: String, credentials: Credentials, tls: TLSCredentials?, logger: Logger) {
        signal(SIGHUP, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: SIGHUP, queue: .global())
        source.setEventHandler {
            do {
                let fresh = try GatewayConfiguration.load(path: config)
                if let tls {
                    guard let renewed = fresh.tls else {
                        throw ValidationError("tls was removed from the configuration; the gateway serves TLS until it restarts")
                    }
                    try tls.replace(with: renewed)
                }
                credentials.replace(with: fresh.tokens)
                logger.notice("credentials reloaded", metadata: ["accounts": "\(fresh.tokens.count)", "tls": "\(tls != nil)"])
            } catch {
                logger.error("credentials not reloaded; the previous ones stay", metadata: ["error": "\(error)"])
            }
        }
        source.resume()
        hangup = source
    }

    /// Keeps the signal source alive; set once at start-up.
    nonisolated(unsafe) private static var hangup: (any DispatchSourceSignal)?

    /// How a publishing worker opens its connection to the broker.
    static func workerConnector(_ settings: GatewayConfiguration) throws -> @Sendable (String, Int) throws -> MajordomoWorker {
        let context = try Context()
        let endpoints = BrokerEndpoints.parse(settings.brokerEndpoint)
        let curve = try curveKeys(settings)
        return { service, credit in
            try MajordomoWorker(context: context, endpoints: endpoints, service: service, credit: credit) { socket throws(ZMQError) in
                if let curve { try socket.setCurveClient(serverKey: curve.server, keyPair: curve.pair) }
            }
        }
    }

    /// The gateway's key pair and the broker's public key, with CURVE.
    static func curveKeys(_ settings: GatewayConfiguration) throws -> (server: String, pair: CurveKeyPair)? {
        guard let keyFile = settings.brokerKey, let serverFile = settings.brokerServerKey else { return nil }
        let mine = try Certificate.load(path: keyFile)
        guard let secret = mine.secretKey else { throw ValidationError("\(keyFile) holds no secret key; give the gateway's NAME.key_secret file") }
        return (try Certificate.load(path: serverFile).publicKey, CurveKeyPair(publicKey: mine.publicKey, secretKey: secret))
    }

    /// How the lane opens its connection to the broker (with CURVE when configured).
    static func connector(_ settings: GatewayConfiguration) throws -> @Sendable () throws -> MajordomoClient {
        let context = try Context()
        let endpoints = BrokerEndpoints.parse(settings.brokerEndpoint)
        let curve = try curveKeys(settings)
        return {
            try MajordomoClient(context: context, endpoints: endpoints, redirect: { ErrorAnswer.isNotActive($0.body.first?.bytes ?? []) }) {
                socket throws(ZMQError) in
                if let curve { try socket.setCurveClient(serverKey: curve.server, keyPair: curve.pair) }
            }
        }
    }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}
