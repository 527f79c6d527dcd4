import Foundation
import Logging
import ZeroMQ

/// A Majordomo client: sends requests to services through a broker and reads replies.
///
/// It uses a DEALER socket, so many requests may be outstanding at once (``send(_:body:)``
/// and ``receive(timeout:)``); ``request(_:body:timeout:retries:)`` is the synchronous
/// form with the "lazy pirate" recovery 7/MDP recommends: on a timeout it closes the
/// socket, opens a fresh one and resends.
///
/// Given several brokers (an active one and standbys sharing a database), it is the
/// zguide's Binary Star client: on a timeout, or an answer the `redirect` test says comes
/// from a broker that does not serve (Switchboard's `not_active`), it connects to the
/// next endpoint and sends the same request again.
///
/// Like every socket owner, a client belongs to one thread.
public final class MajordomoClient {
    /// Every broker the client may talk to, in the order it tries them.
    public let endpoints: [String]
    /// The one it talks to now.
    public var endpoint: String { endpoints[current] }
    private var current = 0
    private let context: Context
    private let logger: Logger
    private let configure: (Socket) throws(ZMQError) -> Void
    private let redirect: (ClientMessage) -> Bool
    private var socket: Socket

    /// - Parameter configure: applied to every socket the client opens (CURVE keys, say).
    public convenience init(
        context: Context,
        endpoint: String,
        logger: Logger = Logger(label: "switchboard.mdp.client"),
        configure: @escaping (Socket) throws(ZMQError) -> Void = { _ throws(ZMQError) in }
    ) throws(ZMQError) {
        try self.init(context: context, endpoints: [endpoint], logger: logger, configure: configure)
    }

    /// - Parameters:
    ///   - endpoints: at least one; the first is tried first.
    ///   - redirect: whether a reply says "not here, try another broker".
    public init(
        context: Context,
        endpoints: [String],
        logger: Logger = Logger(label: "switchboard.mdp.client"),
        redirect: @escaping (ClientMessage) -> Bool = { _ in false },
        configure: @escaping (Socket) throws(ZMQError) -> Void = { _ throws(ZMQError) in }
    ) throws(ZMQError) {
        // No endpoint to connect to is a caller's mistake, named like a bad endpoint.
        guard !endpoints.isEmpty else { throw .failed(function: "zmq_connect", errno: .invalidArgument) }
        self.context = context
        self.endpoints = endpoints
        self.logger = logger
        self.redirect = redirect
        self.configure = configure
        socket = try connectDealer(context, endpoints[0], configure)
    }

    /// The pause between rounds when every broker said it does not serve.
    static let roundPause: Duration = .milliseconds(200)

    /// Whether `reply` came from a broker that does not serve.
    public func isRedirect(_ reply: ClientMessage) -> Bool { redirect(reply) }

    /// Closes the socket and connects to the next endpoint (the same one when there is
    /// only one): what to do after a timeout or a redirect. Requests outstanding on the
    /// old socket are lost; send them again.
    public func failOver() throws(ZMQError) {
        socket.close()
        current = (current + 1) % endpoints.count
        socket = try connectDealer(context, endpoints[current], configure)
        logger.debug("switched broker", metadata: ["mdp.endpoint": "\(endpoints[current])"])
    }

    /// Sends one request without waiting for its reply.
    public func send(_ service: String, body: [Frame]) throws(ZMQError) {
        try socket.send(ClientMessage(service: service, body: body).frames)
    }

    /// Waits up to `timeout` for the next reply. Malformed replies are logged and skipped.
    public func receive(timeout: Duration) throws(ZMQError) -> ClientMessage? {
        let deadline = ContinuousClock.now + timeout
        while true {
            let remaining = deadline - ContinuousClock.now
            guard remaining > .zero, let frames = try socket.receive(.timeout(remaining)) else { return nil }
            do {
                return try ClientMessage(frames: frames)
            } catch {
                logger.warning("dropped a malformed reply", metadata: ["mdp.error": "\(error)"])
            }
        }
    }

    /// Sends a request and waits for its reply, retrying on a fresh socket up to
    /// `retries` times after a timeout, each time on the next endpoint. A redirect goes to
    /// the next endpoint at once and does not count as a retry, but each endpoint redirects
    /// at most once per call. Returns `nil` when every attempt timed out: the broker is
    /// down or no worker answered in time (ask `mmi.service` to tell which), or the last
    /// redirect when no broker would serve.
    public func request(
        _ service: String, body: [Frame], timeout: Duration = .seconds(5), retries: Int = 2
    ) throws(ZMQError) -> ClientMessage? {
        // With several brokers, each is tried at least once after a timeout.
        var timeoutsLeft = max(0, retries, endpoints.count - 1)
        var redirectsLeft = endpoints.count
        var redirected: ClientMessage?
        let started = ContinuousClock.now
        while true {
            try send(service, body: body)
            let deadline = ContinuousClock.now + timeout
            var timedOut = true
            while let reply = try receive(timeout: deadline - ContinuousClock.now) {
                guard reply.service == service else { continue }
                guard redirect(reply) else { return reply }
                redirected = reply
                timedOut = false
                break
            }
            if timedOut {
                guard timeoutsLeft > 0 else { return nil }
                timeoutsLeft -= 1
                logger.debug("no reply, reconnecting", metadata: ["mdp.service": "\(service)", "mdp.endpoint": "\(endpoint)"])
            } else {
                redirectsLeft -= 1
                if redirectsLeft == 0 {
                    // Every broker stands by: a takeover is under way (9/SB-HA, a few
                    // seconds). Ask again, a round at a time, until `timeout` has passed.
                    // Given one broker, its answer is final: told at once.
                    guard endpoints.count > 1, ContinuousClock.now - started < timeout else { return redirected }
                    while try receive(timeout: Self.roundPause) != nil {}
                    redirectsLeft = endpoints.count
                }
            }
            try failOver()
        }
    }

    public func close() { socket.close() }
}

/// Several brokers in one setting (`--endpoint`, `SWITCHBOARD_BROKER`, a gateway's
/// `broker.endpoint`): endpoints separated by commas, tried in order.
public enum BrokerEndpoints {
    public static func parse(_ text: String) -> [String] {
        text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }
}
