import Dispatch
import Foundation
import Logging
import Majordomo
import Synchronization
import SwitchboardCore
import SwitchboardStore
import ZeroMQ

/// The broker's engine: one thread that owns every socket of the broker, feeds what
/// arrives into ``MajordomoBrokerMachine`` and carries out the actions it returns.
///
/// Other threads reach the engine only through an `inproc://` PAIR pipe (to stop it);
/// no socket is ever touched outside the engine thread. ``start()`` and ``stop()`` are
/// synchronous, like czmq's `zactor`: when `start` returns the socket is bound, and
/// when `stop` returns the thread has closed its sockets.
public final class BrokerEngine: Sendable {
    public struct Options: Sendable {
        /// Where the ROUTER socket binds; `tcp://127.0.0.1:*` picks a free port.
        public var endpoint: String = "tcp://127.0.0.1:5555"
        public var broker = BrokerConfiguration()
        /// The largest message accepted from a peer; a larger one disconnects that peer.
        public var maxMessageSize: Int64 = 1 << 20
        /// Messages queued per peer before sends to it fail (and it is treated as gone).
        public var highWaterMark: Int32 = 100_000
        /// How many inbound messages one loop turn handles before timers run again and
        /// the turn's changes are committed.
        public var batchSize = 1_000
        /// Departments, routing rules and limits.
        public var configuration = SwitchboardConfiguration.demo()
        /// Where the PUB socket of the event stream binds; nil disables the stream.
        public var eventsEndpoint: String? = "tcp://127.0.0.1:5556"
        /// libzmq background I/O threads: TCP work for all peers runs on these.
        public var ioThreads: Int32 = 1
        /// How often claim leases and SLA clocks are checked.
        public var timerInterval: Duration = .seconds(1)
        public init() {}
    }

    private enum Lifecycle {
        case idle
        case starting
        case running(endpoint: String, events: String?)
        case failed(ZMQError)
        case stopped
    }

    public let options: Options
    private let store: any InquiryStore
    private let logger: Logger
    private let context: Context
    private let controlEndpoint: String
    private let lifecycle = Mutex(Lifecycle.idle)
    /// The caller's end of the control pipe; guarded because `stop` may come from any thread.
    private let control = Mutex<Socket?>(nil)
    private let started = DispatchSemaphore(value: 0)
    private let finished = DispatchSemaphore(value: 0)

    /// - Parameter store: where inquiries are persisted; every accepted inquiry is
    ///   committed there before the gateway hears "accepted".
    public init(options: Options, store: any InquiryStore, logger: Logger) throws(ZMQError) {
        self.options = options
        self.store = store
        self.logger = logger
        context = try Context(ioThreads: options.ioThreads)
        controlEndpoint = "inproc://switchboard-engine-control"
    }

    /// Starts the engine thread and returns the endpoint the broker actually bound.
    public func start() throws(ZMQError) -> String {
        let (context, controlEndpoint) = (context, controlEndpoint)
        try control.withLock { (pipe) throws(ZMQError) in
            let socket = try Socket(context, .pair)
            try socket.bind(controlEndpoint)
            pipe = socket
        }
        lifecycle.withLock { $0 = .starting }

        let thread = Thread { [self] in
            run()
            finished.signal()
        }
        thread.name = "switchboard-engine"
        thread.start()
        started.wait()

        switch lifecycle.withLock({ $0 }) {
        case .running(let endpoint, _): return endpoint
        case .failed(let error): throw error
        default: throw .failed(function: "BrokerEngine.start", errno: .finiteStateMachine)
        }
    }

    /// Asks the engine thread to stop and waits until it has closed its sockets.
    public func stop() {
        let wasRunning = control.withLock { pipe -> Bool in
            guard let socket = pipe else { return false }
            try? socket.send("STOP")
            socket.close()
            pipe = nil
            return true
        }
        if wasRunning { finished.wait() }
    }

    /// The endpoint bound, once started.
    public var endpoint: String? {
        if case .running(let endpoint, _) = lifecycle.withLock({ $0 }) { return endpoint }
        return nil
    }

    /// The event stream's endpoint as bound, once started.
    public var eventsEndpoint: String? {
        if case .running(_, let events) = lifecycle.withLock({ $0 }) { return events }
        return nil
    }

    // MARK: The engine thread

    private func run() {
        let router: Socket
        let pipe: Socket
        var publisher: Socket?
        do {
            router = try Socket(context, .router)
            try router.setRouterMandatory(true)
            try router.setMaxMessageSize(options.maxMessageSize)
            try router.setSendHighWaterMark(options.highWaterMark)
            try router.setReceiveHighWaterMark(options.highWaterMark)
            let endpoint = try router.bind(options.endpoint)
            pipe = try Socket(context, .pair)
            try pipe.connect(controlEndpoint)
            var eventsBound: String?
            if let eventsEndpoint = options.eventsEndpoint {
                let socket = try Socket(context, .pub)
                try socket.setSendHighWaterMark(options.highWaterMark)
                eventsBound = try socket.bind(eventsEndpoint)
                publisher = socket
            }
            lifecycle.withLock { $0 = .running(endpoint: endpoint, events: eventsBound) }
            logger.info("broker listening", metadata: ["mdp.endpoint": "\(endpoint)", "events.endpoint": "\(eventsBound ?? "disabled")"])
        } catch {
            lifecycle.withLock { $0 = .failed(error) }
            started.signal()
            return
        }
        started.signal()

        var broker = options.broker
        broker.maxDeliveries = options.configuration.maxDeliveries
        var loop = EngineLoop(
            router: router,
            publisher: publisher,
            timerInterval: options.timerInterval,
            machine: MajordomoBrokerMachine(configuration: broker, internalServices: InquiryDesk.services),
            desk: InquiryDesk(store: store, configuration: options.configuration, logger: logger),
            logger: logger
        )
        do {
            try loop.restore(from: store)
        } catch {
            logger.critical("cannot restore the queues from the store", metadata: ["error": "\(error)"])
            lifecycle.withLock { $0 = .failed(.failed(function: "restore", errno: .invalidArgument)) }
            router.close()
            pipe.close()
            publisher?.close()
            return
        }
        do {
            try loop.run(pipe: pipe, batchSize: options.batchSize)
        } catch {
            logger.critical("engine loop failed", metadata: ["error": "\(error)"])
            lifecycle.withLock { $0 = .failed(error) }
        }
        router.close()
        pipe.close()
        publisher?.close()
        lifecycle.withLock { state in
            if case .running = state { state = .stopped }
        }
        logger.info("broker stopped")
    }
}

/// The state the engine thread owns: its sockets, the broker machine and the desk.
struct EngineLoop {
    let router: Socket
    let publisher: Socket?
    let timerInterval: Duration
    var machine: MajordomoBrokerMachine
    var desk: InquiryDesk
    let logger: Logger
    let clock = MonotonicWallClock()
    var nextTimers = ContinuousClock.now

    /// Puts every unacknowledged inquiry back in its queue: those that were in flight
    /// first (they are redelivered), then the ready ones; parked ones stay parked.
    mutating func restore(from store: any InquiryStore) throws {
        let start = ContinuousClock.now
        var restored = 0, parked = 0
        for inquiry in try store.openInquiries() {
            guard inquiry.state != .parked else { parked += 1; continue }
            machine.restoreInquiry(QueueEntry(id: inquiry.id, priority: inquiry.priority, deliveries: inquiry.deliveries),
                                   department: inquiry.department)
            restored += 1
        }
        for reply in try store.pendingOutbound() {
            machine.restoreInquiry(QueueEntry(id: reply.inquiry, priority: .normal), department: reply.service)
        }
        logger.info("queues restored", metadata: [
            "inquiries.ready": "\(restored)", "inquiries.parked": "\(parked)", "elapsed": "\(ContinuousClock.now - start)",
        ])
    }

    /// Timers (expiry, heartbeats) run at least this often.
    var tickPeriod: Duration {
        min(.milliseconds(100), machine.configuration.heartbeatInterval / 4)
    }

    mutating func run(pipe: Socket, batchSize: Int) throws(ZMQError) {
        var poller = Poller([router, pipe])
        var nextTick = ContinuousClock.now + tickPeriod
        while true {
            let wait = max(.zero, nextTick - ContinuousClock.now)
            let readable = try poller.poll(timeout: wait)
            if readable[1] {
                _ = try pipe.receive(.nonBlocking)
                return
            }
            if readable[0] {
                // A turn ends after `batchSize` messages or 5 ms, whichever comes first,
                // so that group commit never holds replies back for long.
                let turnEnds = ContinuousClock.now + .milliseconds(5)
                for _ in 0..<batchSize where ContinuousClock.now < turnEnds {
                    guard let frames = try router.receive(.nonBlocking) else { break }
                    guard let peer = frames.first else { continue }
                    let now = ContinuousClock.now
                    perform(machine.receive(from: peer, frames: Array(frames.dropFirst()), now: now), now: now)
                }
            }
            let now = ContinuousClock.now
            if now >= nextTick {
                perform(machine.tick(now: now), now: now)
                nextTick = now + tickPeriod
            }
            finishTurn(now: now)
        }
    }

    /// Group commit: everything this turn changed goes to disk in one transaction, and
    /// only then are gateways answered and new inquiries queued for delivery.
    mutating func finishTurn(now: ContinuousClock.Instant) {
        if now >= nextTimers {
            nextTimers = now + timerInterval
            perform(desk.runTimers(now: clock.now(), machine: &machine, monotonicNow: now), now: now)
        }
        guard desk.hasPendingWork else { return }
        let (replies, queue, events) = desk.commitTurn()
        for (client, frames) in replies {
            perform([.send(peer: client, frames: frames)], now: now)
        }
        for (department, entry) in queue {
            perform(machine.enqueueInquiry(entry, department: department, now: now), now: now)
        }
        if let publisher {
            for event in events {
                do {
                    try publisher.send(event.frames, dontWait: true)
                } catch {
                    logger.warning("event dropped", metadata: ["event": "\(event.topic)", "error": "\(error)"])
                }
            }
        }
    }

    /// Carries out actions. A send that fails because the peer is gone (`EHOSTUNREACH`
    /// under ROUTER_MANDATORY) or its queue is full (`EAGAIN`) is fed back to the
    /// machine as an unreachable peer, whose own actions are carried out in turn.
    /// Outbound services (`outbound.<platform>`) carry replies to publishing gateways.
    static func isOutbound(_ service: String) -> Bool { service.hasPrefix("outbound.") }

    /// Sends a stored inquiry (or an outbound reply) to a worker and records the
    /// delivery in this turn's batch.
    private mutating func deliver(_ entry: QueueEntry, department: String, to worker: Frame, now: ContinuousClock.Instant) -> [MajordomoBrokerMachine.Action] {
        let body: Frame
        do {
            let outbound = Self.isOutbound(department)
            guard let loaded = try outbound ? desk.outboundBody(entry.id) : desk.deliveryBody(entry, department: department) else {
                // Nothing to deliver: forget the entry and give the worker its credit back.
                logger.error("queued inquiry missing from the store", metadata: ["inquiry.id": "\(entry.id)"])
                return machine.forgetHeldInquiry(entry.id, worker: worker, now: now)
            }
            body = loaded
        } catch {
            // The store cannot be read. Treating the worker as gone requeues the inquiry
            // without retrying in a tight loop; the worker re-registers on its next
            // heartbeat (it gets DISCONNECT).
            logger.error("cannot load inquiry for delivery", metadata: ["inquiry.id": "\(entry.id)", "error": "\(error)"])
            return machine.peerUnreachable(worker, now: now)
        }
        if !Self.isOutbound(department) {
            desk.recordDelivery(entry)
            do {
                try desk.transition(entry.id, .deliver, by: .worker(worker.description), at: clock.now())
            } catch {
                logger.warning("delivery outside the lifecycle", metadata: ["inquiry.id": "\(entry.id)", "error": "\(error)"])
            }
        }
        let command = WorkerCommand.request(client: MajordomoBrokerMachine.deliveryAddress(entry.id), body: [body])
        return [.send(peer: worker, frames: command.frames)]
    }

    mutating func perform(_ actions: [MajordomoBrokerMachine.Action], now: ContinuousClock.Instant) {
        var pending = actions[...]
        while let action = pending.popFirst() {
            switch action {
            case .send(let peer, let frames):
                do {
                    try router.send([peer] + frames, dontWait: true)
                } catch {
                    logger.debug("send failed", metadata: ["mdp.peer": "\(peer)", "error": "\(error)"])
                    pending.append(contentsOf: machine.peerUnreachable(peer, now: now))
                }
            case .report(let event):
                event.log(to: logger)
            case .inquiryReleased(let department, let entry):
                logger.notice("inquiry requeued for redelivery", metadata: [
                    "department": "\(department)", "inquiry.id": "\(entry.id)", "deliveries": "\(entry.deliveries)",
                ])
                if !Self.isOutbound(department) {
                    _ = try? desk.transition(entry.id, .release(reason: "worker gone before replying"), by: .system, at: clock.now())
                }
            case .internalRequest(let client, let service, let body):
                if let agentService = AgentService(rawValue: service) {
                    pending.append(contentsOf: desk.handleAgent(client: client, service: agentService, body: body, now: clock.now(),
                                                                machine: &machine, monotonicNow: now))
                } else {
                    desk.handle(client: client, service: service, body: body, now: clock.now())
                }
            case .deliverInquiry(let worker, let department, let entry):
                pending.append(contentsOf: deliver(entry, department: department, to: worker, now: now))
            case .inquiryAcknowledged(let worker, let department, let entry, let reply):
                if Self.isOutbound(department) {
                    desk.outboundSent(entry, service: department, worker: worker, now: clock.now())
                } else {
                    desk.workerReplied(entry, department: department, worker: worker, reply: reply, now: clock.now())
                }
                logger.debug("inquiry acknowledged", metadata: ["inquiry.id": "\(entry.id)", "department": "\(department)"])
            case .parkInquiry(let department, let entry, let reason):
                if !Self.isOutbound(department) { desk.recordParked(entry, reason: reason, now: clock.now()) }
                logger.warning("inquiry parked", metadata: [
                    "inquiry.id": "\(entry.id)", "department": "\(department)", "reason": "\(reason)",
                ])
            }
        }
    }
}
