import Foundation
import Logging
import ZeroMQ

/// A request handed to a worker: the client's address and the request body.
public struct WorkerRequest: Equatable, Sendable {
    public var client: Frame
    public var body: [Frame]
}

/// A Majordomo worker: registers one service with a broker, receives its requests and
/// sends the replies, keeping the heartbeat dialog of 7/MDP going underneath.
///
/// The worker sends a HEARTBEAT whenever it has sent nothing for one interval and
/// treats the broker as gone after `liveness` silent intervals (or on DISCONNECT); it
/// then opens a new socket, to the next of its endpoints when it has several (an active
/// broker and its standbys), and sends READY again. A broker that sends DISCONNECT at
/// once to every READY (a standby) is not hammered: after a round of such refusals the
/// worker waits a little longer each time, up to one heartbeat interval. Heartbeats go out only while the
/// worker is inside ``receive(timeout:)`` or ``heartbeat()``: a handler that runs for
/// longer than `interval × liveness` must call ``heartbeat()`` or the broker will give
/// its request to another worker.
public final class MajordomoWorker {
    public let service: String
    /// Every broker the worker may serve through, in the order it tries them.
    public let endpoints: [String]
    /// The one it is registered with now.
    public var endpoint: String { endpoints[current] }
    private var current = 0
    /// DISCONNECTs that came right after a READY, in a row: standbys turning it away.
    private var refusals = 0
    private var registeredAt = ContinuousClock.now
    public let heartbeatInterval: Duration
    public let liveness: Int
    /// How many requests the broker may hand this worker before it replies (the credit
    /// extension); 1 is plain 7/MDP.
    public let credit: Int

    private let context: Context
    private let logger: Logger
    private let configure: (Socket) throws(ZMQError) -> Void
    private var socket: Socket
    private var brokerDeadline: ContinuousClock.Instant
    private var nextHeartbeat: ContinuousClock.Instant
    /// How many times the worker has (re)registered; 1 after the first READY.
    public private(set) var registrations = 0

    public init(
        context: Context,
        endpoints: [String],
        service: String,
        heartbeatInterval: Duration = .milliseconds(2_500),
        liveness: Int = 3,
        credit: Int = 1,
        logger: Logger = Logger(label: "switchboard.mdp.worker"),
        configure: @escaping (Socket) throws(ZMQError) -> Void = { _ throws(ZMQError) in }
    ) throws(ZMQError) {
        // No endpoint to connect to is a caller's mistake, named like a bad endpoint.
        guard !endpoints.isEmpty else { throw .failed(function: "zmq_connect", errno: .invalidArgument) }
        self.context = context
        self.endpoints = endpoints
        self.service = service
        self.heartbeatInterval = heartbeatInterval
        self.liveness = max(1, liveness)
        self.credit = min(max(1, credit), MDP.maxCredit)
        self.logger = logger
        self.configure = configure
        let now = ContinuousClock.now
        brokerDeadline = now
        nextHeartbeat = now
        socket = try connectDealer(context, endpoints[0], configure)
        try announce()
    }

    /// Opens a fresh socket, to the next endpoint when there are several, and sends READY.
    /// 7/MDP requires a new socket after a DISCONNECT, so the broker sees a new routing id.
    private func register(refused: Bool = false) throws(ZMQError) {
        socket.close()
        refusals = refused && ContinuousClock.now - registeredAt < heartbeatInterval ? refusals + 1 : 0
        current = (current + 1) % endpoints.count
        if refusals >= endpoints.count {
            // Every broker turned it away: wait before the next round.
            let rounds = refusals / endpoints.count
            let pause = min(heartbeatInterval, .milliseconds(100) * (1 << min(rounds, 5)))
            logger.debug("every broker refused; waiting", metadata: ["mdp.service": "\(service)", "pause": "\(pause)"])
            Thread.sleep(forTimeInterval: Double(pause.components.seconds) + Double(pause.components.attoseconds) / 1e18)
        }
        socket = try connectDealer(context, endpoints[current], configure)
        try announce()
    }

    /// Sends READY on the current socket.
    private func announce() throws(ZMQError) {
        try send(.ready(service: service, credit: credit))
        registrations += 1
        registeredAt = ContinuousClock.now
        brokerDeadline = ContinuousClock.now + heartbeatInterval * liveness
        logger.debug("registered", metadata: ["mdp.service": "\(service)", "mdp.endpoint": "\(endpoint)"])
    }

    private func send(_ command: WorkerCommand) throws(ZMQError) {
        try socket.send(command.frames)
        nextHeartbeat = ContinuousClock.now + heartbeatInterval
    }

    /// Sends a HEARTBEAT if one is due. Call it from long-running handlers.
    public func heartbeat() throws(ZMQError) {
        if ContinuousClock.now >= nextHeartbeat { try send(.heartbeat) }
    }

    /// Waits for the next request, up to `timeout` (`nil` waits forever), answering
    /// heartbeats and re-registering with the broker as needed.
    public func receive(timeout: Duration? = nil) throws(ZMQError) -> WorkerRequest? {
        let deadline = timeout.map { ContinuousClock.now + $0 }
        while true {
            let now = ContinuousClock.now
            if let deadline, now >= deadline { return nil }
            var wait = min(nextHeartbeat, brokerDeadline) - now
            if let deadline { wait = min(wait, deadline - now) }
            if let frames = try socket.receive(.timeout(max(wait, .zero))) {
                brokerDeadline = ContinuousClock.now + heartbeatInterval * liveness
                do {
                    switch try WorkerCommand(frames: frames) {
                    case .request(let client, let body):
                        return WorkerRequest(client: client, body: body)
                    case .heartbeat:
                        break
                    case .disconnect:
                        logger.info("broker sent DISCONNECT, registering again", metadata: ["mdp.service": "\(service)"])
                        try register(refused: true)
                    case let other:
                        logger.warning("ignored an unexpected command", metadata: ["mdp.command": "\(other.name)"])
                    }
                } catch {
                    logger.warning("dropped a malformed message", metadata: ["mdp.error": "\(error)"])
                }
            }
            if ContinuousClock.now >= brokerDeadline {
                logger.info("broker silent, registering again", metadata: ["mdp.service": "\(service)"])
                try register()
            }
            try heartbeat()
        }
    }

    /// Sends the reply to a request received from ``receive(timeout:)``.
    public func reply(to request: WorkerRequest, body: [Frame]) throws(ZMQError) {
        try send(.reply(client: request.client, body: body))
    }

    /// Tells the broker this worker is leaving, and closes the socket.
    public func disconnect() {
        try? send(.disconnect)
        socket.close()
    }
}
