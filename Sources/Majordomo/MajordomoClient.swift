import Logging
import ZeroMQ

/// A Majordomo client: sends requests to services through a broker and reads replies.
///
/// It uses a DEALER socket, so many requests may be outstanding at once (``send(_:body:)``
/// and ``receive(timeout:)``); ``request(_:body:timeout:retries:)`` is the synchronous
/// form with the "lazy pirate" recovery 7/MDP recommends: on a timeout it closes the
/// socket, opens a fresh one and resends.
///
/// Like every socket owner, a client belongs to one thread.
public final class MajordomoClient {
    public let endpoint: String
    private let context: Context
    private let logger: Logger
    private let configure: (Socket) throws(ZMQError) -> Void
    private var socket: Socket

    /// - Parameter configure: applied to every socket the client opens (CURVE keys, say).
    public init(
        context: Context,
        endpoint: String,
        logger: Logger = Logger(label: "switchboard.mdp.client"),
        configure: @escaping (Socket) throws(ZMQError) -> Void = { _ throws(ZMQError) in }
    ) throws(ZMQError) {
        self.context = context
        self.endpoint = endpoint
        self.logger = logger
        self.configure = configure
        socket = try connectDealer(context, endpoint, configure)
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
    /// `retries` times. Returns `nil` when every attempt timed out: the broker is down or
    /// no worker answered in time (ask `mmi.service` to tell which).
    public func request(
        _ service: String, body: [Frame], timeout: Duration = .seconds(5), retries: Int = 2
    ) throws(ZMQError) -> ClientMessage? {
        for attempt in 0...max(0, retries) {
            if attempt > 0 {
                logger.info("no reply, reconnecting", metadata: ["mdp.service": "\(service)", "attempt": "\(attempt)"])
                socket.close()
                socket = try connectDealer(context, endpoint, configure)
            }
            try send(service, body: body)
            let deadline = ContinuousClock.now + timeout
            while let reply = try receive(timeout: deadline - ContinuousClock.now) {
                if reply.service == service { return reply }
            }
        }
        return nil
    }

    public func close() { socket.close() }
}
