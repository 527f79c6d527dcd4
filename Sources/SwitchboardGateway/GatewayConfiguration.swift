import Foundation
import SwitchboardCore
import SwitchboardProtocol
import Yams

/// `switchboard-gateway`'s configuration: one YAML file. Secrets are never in it: each is
/// named by a file (readable by its owner only) or an environment variable, and never
/// appears in a log line, an error or `/metrics`. A mistake stops the gateway at start-up
/// naming the line and field.
///
/// ```yaml
/// broker:
///   endpoint: tcp://127.0.0.1:5555   # an active broker and its standbys: all, separated by commas
///   key: /etc/switchboard/keys/gateway.key_secret   # with CURVE, both keys
///   server_key: /etc/switchboard/keys/broker.key
/// listen: 127.0.0.1:8443
/// tls:                          # only when the gateway serves TLS itself
///   certificate: /etc/letsencrypt/live/gateway.riverton.gov/fullchain.pem
///   key_file: /etc/letsencrypt/live/gateway.riverton.gov/privkey.pem
/// meta:
///   app_secret_file: /etc/switchboard/secrets/meta-app-secret   # or app_secret_env
///   verify_token_file: /etc/switchboard/secrets/meta-verify-token
///   accounts:
///     - { platform: facebook, id: "104839201", handle: RivertonCityHall }
///     - { platform: whatsapp, id: "1098234", handle: "+1 555 0100" }
/// generic:
///   secret_env: SWITCHBOARD_WEBHOOK_SECRET
/// ```
public struct GatewayConfiguration: Sendable {
    public var brokerEndpoint = "tcp://127.0.0.1:5555"
    /// With CURVE: the gateway's secret key file and the broker's public key file.
    public var brokerKey: String?
    public var brokerServerKey: String?
    public var listenHost = "127.0.0.1"
    public var listenPort = 8443
    public var meta: Meta?
    public var mastodon: Mastodon?
    public var x: X?
    public var bluesky: Bluesky?
    public var generic: Generic?
    /// Where the gateway keeps what it posted (`posted.journal`), so that nothing is
    /// posted twice across a crash.
    public var stateDirectory = "gateway-state"
    /// How long a webhook waits for the broker before answering 503 (Meta allows 5 s).
    public var ingestTimeout: TimeInterval = 4
    /// With TLS served by the gateway itself; nil behind a reverse proxy.
    public var tls: TLS?

    /// The certificate chain and its key, read at start and again on SIGHUP.
    public struct TLS: Sendable {
        /// The chain, PEM, as read from `certificatePath`.
        public var certificateChain: [UInt8]
        public var certificatePath: String
        public var key: Secret
    }

    public struct Meta: Sendable {
        public var appSecret: Secret
        public var verifyToken: Secret
        public var accounts: [MetaAccount]
        /// The Graph API's base URL (a test or staging server may stand in for it).
        public var apiBase = "https://graph.facebook.com/v21.0"
        /// Each account's access token, by account id: accounts with one are published
        /// through (the gateway serves `outbound.<platform>` for them).
        public var tokens: [String: Secret] = [:]
    }

    public struct Mastodon: Sendable {
        public var accounts: [MastodonAccount]
        /// Each account's access token, by account id (``MastodonAccount/id``).
        public var tokens: [String: Secret]
    }

    public struct X: Sendable {
        public var accounts: [XAccount]
        /// Each account's OAuth 2.0 user access token, by account id (``XAccount/id``).
        public var tokens: [String: Secret]
        /// The API's base URL (a test or staging server may stand in for it).
        public var apiBase = "https://api.x.com"
        /// The app's consumer secret, for the Account Activity webhook (absent: polling only).
        public var consumerSecret: Secret?
    }

    public struct Bluesky: Sendable {
        public var accounts: [BlueskyAccount]
        /// Each account's app password, by account id (``BlueskyAccount/id``).
        public var passwords: [String: Secret]
    }

    /// Every credential, by account id: Meta's tokens by page, Instagram or phone number
    /// id, Mastodon's by handle, X's by user id, Bluesky's app passwords by handle.
    public var tokens: [String: Secret] {
        [meta?.tokens, mastodon?.tokens, x?.tokens, bluesky?.passwords].compactMap { $0 }.reduce(into: [:]) { all, more in
            all.merge(more) { first, _ in first }
        }
    }

    public struct Generic: Sendable {
        public var secret: Secret
    }

    public static func load(path: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws(ConfigurationError) -> GatewayConfiguration {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw ConfigurationError(line: nil, field: nil, message: "cannot read \(path)")
        }
        return try parse(yaml: text, environment: environment)
    }

    public static func parse(yaml text: String, environment: [String: String]) throws(ConfigurationError) -> GatewayConfiguration {
        let root: Node
        do {
            guard let node = try Yams.compose(yaml: text), node.mapping != nil else {
                throw ConfigurationError(line: nil, field: nil, message: "the configuration must be a YAML mapping")
            }
            root = node
        } catch let error as ConfigurationError {
            throw error
        } catch {
            throw ConfigurationError(line: nil, field: nil, message: "YAML syntax: \(error)")
        }
        var configuration = GatewayConfiguration()
        var top = Fields(root, path: "")
        if var broker = try top.mapping("broker") {
            configuration.brokerEndpoint = try broker.string("endpoint") ?? configuration.brokerEndpoint
            for endpoint in configuration.brokerEndpoint.split(separator: ",") where !endpoint.contains("://") {
                throw broker.error("endpoint", "broker.endpoint \(endpoint.trimmingCharacters(in: .whitespaces)) names no transport; write tcp://HOST:PORT, several separated by commas")
            }
            configuration.brokerKey = try broker.string("key")
            configuration.brokerServerKey = try broker.string("server_key")
            guard (configuration.brokerKey == nil) == (configuration.brokerServerKey == nil) else {
                throw broker.error("key", "broker.key and broker.server_key go together (the gateway's secret key and the broker's public key)")
            }
            try broker.rejectUnknown()
        }
        if let listen = try top.string("listen") {
            guard let colon = listen.lastIndex(of: ":"), let port = Int(listen[listen.index(after: colon)...]), (0...65_535).contains(port) else {
                throw top.error("listen", "listen must be HOST:PORT, such as 127.0.0.1:8443")
            }
            configuration.listenHost = String(listen[..<colon])
            configuration.listenPort = port
        }
        configuration.stateDirectory = try top.string("state") ?? configuration.stateDirectory
        if let seconds = try top.number("ingest_timeout") {
            guard seconds > 0, seconds < 30 else { throw top.error("ingest_timeout", "ingest_timeout must be between 0 and 30 seconds (Meta allows 5)") }
            configuration.ingestTimeout = seconds
        }
        if var tls = try top.mapping("tls") {
            guard let path = try tls.string("certificate") else {
                throw tls.error("certificate", "tls.certificate is required: the certificate chain file (PEM), as certbot's fullchain.pem")
            }
            guard let chain = FileManager.default.contents(atPath: path), !chain.isEmpty else { throw tls.error("certificate", "cannot read \(path)") }
            let key = try tls.secret("key", environment: environment)
            try tls.rejectUnknown()
            configuration.tls = TLS(certificateChain: Array(chain), certificatePath: path, key: key)
        }
        if var meta = try top.mapping("meta") {
            let appSecret = try meta.secret("app_secret", environment: environment)
            let verifyToken = try meta.secret("verify_token", environment: environment)
            var accounts: [MetaAccount] = []
            var tokens: [String: Secret] = [:]
            for (index, node) in (try meta.list("accounts")).enumerated() {
                var fields = Fields(node, path: "meta.accounts[\(index)]")
                guard let name = try fields.string("platform"), let platform = Platform(rawValue: name), [.facebook, .instagram, .whatsapp].contains(platform) else {
                    throw fields.error("platform", "platform must be facebook (pages and Messenger), instagram or whatsapp")
                }
                guard let id = try fields.string("id") else { throw fields.error("id", "the page, Instagram account or WhatsApp phone number id is required") }
                guard let handle = try fields.string("handle") else { throw fields.error("handle", "the handle the broker's registry knows the account by is required") }
                // Optional: without a token the account's messages come in, but replies wait.
                if fields.has("token_file") || fields.has("token_env") { tokens[id] = try fields.secret("token", environment: environment) }
                try fields.rejectUnknown()
                if accounts.contains(where: { $0.id == id }) { throw fields.error("id", "account id \(id) is configured twice") }
                accounts.append(MetaAccount(platform: platform, id: id, handle: handle))
            }
            let apiBase = try meta.baseURL("api_base")
            try meta.rejectUnknown()
            configuration.meta = Meta(appSecret: appSecret, verifyToken: verifyToken, accounts: accounts)
            configuration.meta?.tokens = tokens
            if let apiBase { configuration.meta?.apiBase = apiBase }
        }
        if var mastodon = try top.mapping("mastodon") {
            var accounts: [MastodonAccount] = []
            var tokens: [String: Secret] = [:]
            for (index, node) in (try mastodon.list("accounts")).enumerated() {
                var fields = Fields(node, path: "mastodon.accounts[\(index)]")
                guard let instance = try fields.baseURL("instance") else {
                    throw fields.error("instance", "the instance's base URL is required, such as https://riverton.social")
                }
                guard let handle = try fields.string("handle") else {
                    throw fields.error("handle", "the handle the broker's registry knows the account by is required, such as @city@riverton.social")
                }
                var account = MastodonAccount(instance: instance, handle: handle)
                if let seconds = try fields.pollEvery() { account.pollEvery = seconds }
                if let stream = try fields.bool("stream") { account.stream = stream }
                // The token reads the notifications and posts the replies: required.
                tokens[account.id] = try fields.secret("token", environment: environment)
                try fields.rejectUnknown()
                if accounts.contains(where: { $0.id == account.id }) { throw fields.error("handle", "\(handle) is configured twice") }
                accounts.append(account)
            }
            try mastodon.rejectUnknown()
            configuration.mastodon = Mastodon(accounts: accounts, tokens: tokens)
        }
        if var x = try top.mapping("x") {
            var accounts: [XAccount] = []
            var tokens: [String: Secret] = [:]
            for (index, node) in (try x.list("accounts")).enumerated() {
                var fields = Fields(node, path: "x.accounts[\(index)]")
                guard let userID = try fields.string("user_id"), !userID.isEmpty, userID.allSatisfy(\.isNumber) else {
                    throw fields.error("user_id", "the account's numeric user id is required (GET /2/users/me shows it)")
                }
                guard let handle = try fields.string("handle") else {
                    throw fields.error("handle", "the handle the broker's registry knows the account by is required, such as @RivertonCity")
                }
                var account = XAccount(userID: userID, handle: handle)
                if let seconds = try fields.pollEvery() { account.pollEvery = seconds }
                tokens[account.id] = try fields.secret("token", environment: environment)
                try fields.rejectUnknown()
                if accounts.contains(where: { $0.userID == userID }) { throw fields.error("user_id", "user id \(userID) is configured twice") }
                accounts.append(account)
            }
            var settings = X(accounts: accounts, tokens: tokens)
            if let apiBase = try x.baseURL("api_base") { settings.apiBase = apiBase }
            if x.has("consumer_secret") || x.has("consumer_secret_file") || x.has("consumer_secret_env") {
                settings.consumerSecret = try x.secret("consumer_secret", environment: environment)
            }
            try x.rejectUnknown()
            configuration.x = settings
        }
        if var bluesky = try top.mapping("bluesky") {
            var accounts: [BlueskyAccount] = []
            var passwords: [String: Secret] = [:]
            for (index, node) in (try bluesky.list("accounts")).enumerated() {
                var fields = Fields(node, path: "bluesky.accounts[\(index)]")
                let service = try fields.baseURL("service") ?? "https://bsky.social"
                guard let handle = try fields.string("handle") else {
                    throw fields.error("handle", "the handle the broker's registry knows the account by is required, such as @riverton.bsky.social")
                }
                var account = BlueskyAccount(service: service, handle: handle)
                if let seconds = try fields.pollEvery() { account.pollEvery = seconds }
                // An app password (Settings, Privacy and security, App passwords), never the account's own.
                passwords[account.id] = try fields.secret("app_password", environment: environment)
                try fields.rejectUnknown()
                if accounts.contains(where: { $0.id == account.id }) { throw fields.error("handle", "\(handle) is configured twice") }
                accounts.append(account)
            }
            try bluesky.rejectUnknown()
            configuration.bluesky = Bluesky(accounts: accounts, passwords: passwords)
        }
        if var generic = try top.mapping("generic") {
            configuration.generic = Generic(secret: try generic.secret("secret", environment: environment))
            try generic.rejectUnknown()
        }
        try top.rejectUnknown()
        guard configuration.meta != nil || configuration.mastodon != nil || configuration.x != nil || configuration.bluesky != nil
            || configuration.generic != nil else {
            throw ConfigurationError(line: nil, field: nil, message: "nothing to serve: configure meta, mastodon, x, bluesky, generic, or several")
        }
        return configuration
    }
}

/// A secret's bytes. Its description never shows them.
public struct Secret: Sendable, CustomStringConvertible {
    public let bytes: [UInt8]
    /// Where it came from, for messages: a file's path or an environment variable's name.
    public let origin: String

    public init(bytes: [UInt8], origin: String) {
        self.bytes = bytes
        self.origin = origin
    }

    public var description: String { "secret from \(origin)" }
}

/// A YAML mapping read field by field, naming the line and field of every mistake.
struct Fields {
    let node: Node
    let path: String
    private var seen: Set<String> = []

    init(_ node: Node, path: String) {
        self.node = node
        self.path = path
    }

    func name(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    func error(_ key: String, _ message: String) -> ConfigurationError {
        let line = node.mapping?.first { $0.key.string == key }?.key.mark?.line ?? node.mark?.line
        return ConfigurationError(line: line, field: name(key), message: message)
    }

    mutating func value(_ key: String) -> Node? {
        seen.insert(key)
        guard let value = node.mapping?[key], value.null == nil else { return nil }
        return value
    }

    func has(_ key: String) -> Bool { node.mapping?[key] != nil }

    mutating func string(_ key: String) throws(ConfigurationError) -> String? {
        guard let value = value(key) else { return nil }
        guard let text = value.scalar?.string, !text.isEmpty else { throw error(key, "\(name(key)) must be a non-empty string") }
        return text
    }

    mutating func number(_ key: String) throws(ConfigurationError) -> Double? {
        guard let value = value(key) else { return nil }
        guard let number = value.float else { throw error(key, "\(name(key)) must be a number") }
        return number
    }

    /// A platform's base URL, without a trailing `/`: https, or plain http on loopback
    /// only (a test or staging server standing in for the platform).
    mutating func baseURL(_ key: String) throws(ConfigurationError) -> String? {
        guard let text = try string(key) else { return nil }
        guard URL(string: text)?.host != nil,
              text.hasPrefix("https://") || text.hasPrefix("http://127.") || text.hasPrefix("http://localhost") else {
            throw error(key, "\(name(key)) must be an https:// URL (plain http only on loopback, for a test server)")
        }
        return text.hasSuffix("/") ? String(text.dropLast()) : text
    }

    /// Seconds between two polls of an account, 1 to 3600.
    mutating func pollEvery() throws(ConfigurationError) -> TimeInterval? {
        guard let seconds = try number("poll_every") else { return nil }
        guard seconds >= 1, seconds <= 3_600 else { throw error("poll_every", "\(name("poll_every")) must be 1 to 3600 seconds") }
        return seconds
    }

    mutating func bool(_ key: String) throws(ConfigurationError) -> Bool? {
        guard let value = value(key) else { return nil }
        guard let flag = value.bool else { throw error(key, "\(name(key)) must be true or false") }
        return flag
    }

    mutating func mapping(_ key: String) throws(ConfigurationError) -> Fields? {
        guard let value = value(key) else { return nil }
        guard value.mapping != nil else { throw error(key, "\(name(key)) must be a mapping") }
        return Fields(value, path: name(key))
    }

    mutating func list(_ key: String) throws(ConfigurationError) -> [Node] {
        guard let value = value(key) else { throw error(key, "\(name(key)) is required") }
        guard let items = value.sequence else { throw error(key, "\(name(key)) must be a list") }
        return Array(items)
    }

    /// `NAME_file` (a file readable by its owner only) or `NAME_env` (an environment
    /// variable), exactly one; never the secret itself in the YAML.
    mutating func secret(_ key: String, environment: [String: String]) throws(ConfigurationError) -> Secret {
        if value(key) != nil {
            throw error(key, "\(name(key)) must not be written in the configuration: give \(key)_file (a file of mode 0600) or \(key)_env")
        }
        let file = try string("\(key)_file"), variable = try string("\(key)_env")
        switch (file, variable) {
        case (let file?, nil):
            guard let attributes = try? FileManager.default.attributesOfItem(atPath: file),
                  let data = FileManager.default.contents(atPath: file) else {
                throw error("\(key)_file", "cannot read \(file)")
            }
            let mode = (attributes[.posixPermissions] as? NSNumber)?.intValue ?? 0
            guard mode & 0o077 == 0 else {
                throw error("\(key)_file", "\(file) may be read by others (mode \(String(mode, radix: 8))); chmod 600 \(file)")
            }
            let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            guard !text.isEmpty else { throw error("\(key)_file", "\(file) is empty") }
            return Secret(bytes: Array(text.utf8), origin: file)
        case (nil, let variable?):
            guard let text = environment[variable], !text.isEmpty else { throw error("\(key)_env", "the environment variable \(variable) is not set") }
            return Secret(bytes: Array(text.utf8), origin: "$\(variable)")
        case (nil, nil):
            throw error(key, "\(name(key)) is required: give \(key)_file or \(key)_env")
        case (_?, _?):
            throw error(key, "give \(key)_file or \(key)_env, not both")
        }
    }

    func rejectUnknown() throws(ConfigurationError) {
        for pair in node.mapping ?? [:] {
            guard let key = pair.key.string, !seen.contains(key) else { continue }
            throw ConfigurationError(line: pair.key.mark?.line, field: name(key), message: "\(name(key)) is not a setting the gateway knows")
        }
    }
}
