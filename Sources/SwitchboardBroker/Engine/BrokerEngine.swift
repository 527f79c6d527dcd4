import DequeModule
import Dispatch
import Foundation
import Logging
import Majordomo
import Synchronization
import SwitchboardCore
import SwitchboardProtocol
import SwitchboardStore
import ZeroMQ

/// The broker's engine: one thread that owns every socket of the broker, feeds what
/// arrives into the two pure machines (``MajordomoBrokerMachine`` for 7/MDP,
/// ``InquiryMachine`` for inquiries) and carries out the actions they return. A second
/// thread, the ``JournalWriter``, makes each turn's batch durable with one journal
/// append while the engine goes on; a third, the ``Projector``, brings the tables that
/// reads use up to date from the journal, off the hot path.
///
/// Other threads reach the engine only through `inproc://` PAIR pipes; no socket is
/// ever touched outside its thread. ``start()`` and ``stop()`` are synchronous, like
/// czmq's `zactor`: when `start` returns the sockets are bound and the queues
/// restored, and when `stop` returns every thread has closed its sockets.
public final class BrokerEngine: Sendable {
    public struct Options: Sendable {
        /// Where the ROUTER socket binds; `tcp://127.0.0.1:*` picks a free port.
        public var endpoint: String = "tcp://127.0.0.1:5555"
        public var broker = BrokerConfiguration()
        /// The largest message accepted from a peer; a larger one disconnects that peer.
        public var maxMessageSize: Int64 = 256 << 10
        /// Messages with more frames than this are dropped unread (7/MDP needs at most
        /// a handful; an envelope is one frame).
        public var maxFrames = 64
        /// Messages queued for or from one peer (ZMQ_SNDHWM and ZMQ_RCVHWM on the ROUTER
        /// socket). A peer that does not read its replies stops getting more at this
        /// point (its replies are dropped, a worker is treated as gone), so the memory
        /// held for one slow reader is bounded by this many replies.
        public var highWaterMark: Int32 = 1_000
        /// Events queued for one subscriber of the event stream before more are dropped.
        public var eventsHighWaterMark: Int32 = 100_000
        /// The most inbound messages one loop turn reads before it seals its batch.
        public var batchSize = 4_096
        /// A batch is sealed once it holds this many bytes of rows.
        public var maxBatchBytes = 8 << 20
        /// Sealed batches waiting for the store writer before the engine stops reading
        /// new messages (so clients wait, and memory stays bounded).
        public var maxPendingBatches = 2
        /// While the writer commits, what arrives gathers into the next batch, sealed as
        /// soon as the writer is free; it is sealed early, to wait behind the commit,
        /// only once it holds this many rows. A small second batch would add a commit
        /// and wait all the same; a large one keeps a saturated writer from idling
        /// while the engine reads.
        public var secondBatchRows = 512
        /// Departments, routing rules and limits.
        public var configuration = SwitchboardConfiguration.demo()
        /// Where the PUB socket of the event stream binds; nil disables the stream.
        public var eventsEndpoint: String? = "tcp://127.0.0.1:5556"
        /// libzmq background I/O threads: TCP work for all peers runs on these.
        public var ioThreads: Int32 = 1
        /// How often claim leases and SLA clocks are checked.
        public var timerInterval: Duration = .seconds(1)
        /// CURVE with authorised keys and roles; nil is plain mode (development only).
        public var security: Security?
        /// Where the engine publishes its statistics every tick; nil publishes none.
        public var stats: StatsBoard?
        /// The key of the keyed hash that names citizens in the erasure audit and logs; the
        /// daemon keeps it in the data directory. A random key (the default) serves tests.
        public var citizenHashKey: [UInt8] = (0..<32).map { _ in UInt8.random(in: 0...255) }
        /// At most this many connections from one address.
        public var maxConnectionsPerSource = 256
        /// At most this many connections in all.
        public var maxConnections = 10_000
        /// A connection that sends no valid message this long after it was accepted is cut.
        public var idleTimeout: Duration = .seconds(30)
        public init() {}
    }

    /// CURVE on the ROUTER socket: the broker's secret key, and who may connect as whom.
    public struct Security: Sendable {
        public var serverSecretKey: String
        public var keys: KeyRing

        public init(serverSecretKey: String, keys: KeyRing) {
            self.serverSecretKey = serverSecretKey
            self.keys = keys
        }
    }

    /// How the engine thread ended.
    public enum Termination: Sendable, Equatable {
        /// ``stop()`` was called.
        case stopped
        /// It could not go on; the reason is logged too.
        case failed(String)
    }

    private enum Lifecycle {
        case idle
        case starting
        case running(endpoint: String, events: String?)
        case failed(ZMQError)
        case ended(Termination)
    }

    public let options: Options
    private let store: any InquiryStore
    private let journal: any InquiryJournal
    private let logger: Logger
    private let context: Context
    private let controlEndpoint: String
    private let lifecycle = Mutex(Lifecycle.idle)
    /// The caller's end of the control pipe; guarded because `stop` may come from any thread.
    private let control = Mutex<Socket?>(nil)
    private let started = DispatchSemaphore(value: 0)
    private let finished = DispatchSemaphore(value: 0)
    /// A configuration waiting to be applied by the engine thread (see ``reload(_:)``).
    private let pendingReload = PendingReload()

    /// What the control pipe carries to make the engine apply ``pendingReload``.
    static let reloadCommand = "RELOAD"

    /// - Parameters:
    ///   - journal: where every batch is made durable before anything in it is
    ///     acknowledged (the gateway hears "accepted" only then).
    ///   - store: the projection of the journal, which reads and data protection use.
    public init(options: Options, store: any InquiryStore, journal: any InquiryJournal, logger: Logger) throws(ZMQError) {
        self.options = options
        self.store = store
        self.journal = journal
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
            Thread.current.name = "sb-engine"
            run()
            finished.signal()
        }
        thread.start()
        started.wait()

        switch lifecycle.withLock({ $0 }) {
        case .running(let endpoint, _): return endpoint
        case .failed(let error): throw error
        default: throw .failed(function: "BrokerEngine.start", errno: .finiteStateMachine)
        }
    }

    /// Asks the engine thread to stop and waits until every thread has closed its sockets.
    /// An engine that failed to start (or ended) has no thread listening: nothing is sent
    /// (a send on a pipe nobody holds would wait for ever), and its context is ended.
    public func stop() {
        let ended = termination != nil
        let wasRunning = control.withLock { pipe -> Bool in
            guard let socket = pipe else { return false }
            if !ended { try? socket.send("STOP") }
            socket.close()
            pipe = nil
            return true
        }
        if wasRunning {
            waitUntilFinished()
            // Every socket is closed: ending the context now frees the ports at once,
            // so a broker started right after can bind them.
            context.terminate()
        }
    }

    /// Hands a reloaded configuration (already parsed and checked) to the engine thread,
    /// which checks it against what it holds (a department with open inquiries cannot go)
    /// and applies it between two turns, or keeps the running one; either is logged and
    /// counted. False when the engine is not running.
    @discardableResult
    public func reload(_ configuration: SwitchboardConfiguration) -> Bool {
        hand(.apply(configuration))
    }

    /// A reload whose file could not be read or had a mistake (`reason` names the line and
    /// field): the engine keeps the running configuration, and logs and counts the refusal
    /// beside the others.
    @discardableResult
    public func reloadRefused(_ reason: String) -> Bool {
        hand(.refused(reason))
    }

    private func hand(_ reload: PendingReload.Reload) -> Bool {
        control.withLock { pipe -> Bool in
            guard let socket = pipe else { return false }
            pendingReload.put(reload)
            return (try? socket.send(Frame(Self.reloadCommand))) != nil
        }
    }

    /// Waits until the engine thread has ended, for whatever reason.
    public func awaitTermination() async -> Termination {
        await withCheckedContinuation { continuation in
            DispatchQueue.global().async { [self] in
                waitUntilFinished()
                continuation.resume(returning: termination ?? .stopped)
            }
        }
    }

    /// How the engine ended, once it has.
    public var termination: Termination? {
        switch lifecycle.withLock({ $0 }) {
        case .ended(let termination): termination
        case .failed(let error): .failed("\(error)")
        default: nil
        }
    }

    /// Blocks until the thread ends; every waiter passes the signal on.
    private func waitUntilFinished() {
        finished.wait()
        finished.signal()
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
        var sockets: [Socket] = []
        defer { sockets.forEach { $0.close() } }
        let loop: EngineLoop
        let writer: JournalWriter
        var projector: Projector?
        defer { projector?.stop() }
        var reads: ReadLane?
        var loads: LoadLane?
        defer { loads?.stop() }
        let pipe: Socket
        var records: RecordsLane?
        defer { reads?.stop() }
        defer { records?.stop() }
        do {
            // The gatekeeper is bound first: with the domain enforced, no peer is let in
            // unless it answers.
            let zap = try Socket(context, .rep)
            sockets.append(zap)
            try zap.bind(ZAPGatekeeper.endpoint)
            let router = try Socket(context, .router)
            sockets.append(router)
            try router.setZAPDomain(ZAPGatekeeper.domain)
            try router.setZAPEnforceDomain(true)
            if let security = options.security { try router.setCurveServer(secretKey: security.serverSecretKey) }
            // Connections are watched from the start, so none escapes the limits.
            try router.setHandshakeInterval(min(options.idleTimeout, .seconds(10)))
            let monitorEndpoint = "inproc://switchboard-monitor-\(UUID().uuidString)"
            try router.monitor(monitorEndpoint, events: [.accepted, .disconnected])
            let monitor = try Socket(context, .pair)
            sockets.append(monitor)
            try monitor.connect(monitorEndpoint)
            try router.setRouterMandatory(true)
            try router.setMaxMessageSize(options.maxMessageSize)
            try router.setSendHighWaterMark(options.highWaterMark)
            try router.setReceiveHighWaterMark(options.highWaterMark)
            let endpoint = try router.bind(options.endpoint)
            pipe = try Socket(context, .pair)
            sockets.append(pipe)
            try pipe.connect(controlEndpoint)
            var publisher: Socket?
            var eventsBound: String?
            if let eventsEndpoint = options.eventsEndpoint {
                // XPUB: the engine learns what subscribers want, and builds only that.
                let socket = try Socket(context, .xpub)
                sockets.append(socket)
                try socket.setSendHighWaterMark(options.eventsHighWaterMark)
                eventsBound = try socket.bind(eventsEndpoint)
                publisher = socket
            }
            // The engine's end of a helper thread's wake-up pipe, bound before the thread
            // starts and connects.
            func notifyPipe(_ name: String) throws(ZMQError) -> (socket: Socket, endpoint: String) {
                let socket = try Socket(context, .pair)
                sockets.append(socket)
                let endpoint = "inproc://switchboard-\(name)-\(UUID().uuidString)"
                try socket.bind(endpoint)
                return (socket, endpoint)
            }
            // What the journal holds beyond the projection (a crash) is projected first.
            let replayStarted = ContinuousClock.now
            let replayed: Int, projected: UInt64, appended: UInt64
            do {
                replayed = try store.catchUp(from: journal, perTransaction: Projector.maxEntriesPerTransaction)
                projected = try store.projectedPosition()
                appended = try journal.lastPosition()
            } catch {
                logger.critical("cannot replay the journal into the projection", metadata: ["error": "\(error)"])
                lifecycle.withLock { $0 = .failed(.failed(function: "replay", errno: .invalidArgument)) }
                started.signal()
                return
            }
            if replayed > 0 {
                logger.notice("journal replayed into the projection", metadata: [
                    "entries": "\(replayed)", "elapsed": "\(ContinuousClock.now - replayStarted)",
                ])
            }
            let (projectorPipe, projectorNotify) = try notifyPipe("projector")
            let projectionLane = Projector(store: store, projected: projected, logger: logger, notifyEndpoint: projectorNotify)
            projectionLane.start(context: context)
            projector = projectionLane
            let (writerPipe, notify) = try notifyPipe("journal")
            writer = JournalWriter(journal: journal, store: store, projector: projectionLane, logger: logger, notifyEndpoint: notify)
            writer.start(context: context)
            let (readsPipe, readsNotify) = try notifyPipe("reads")
            let readLane = ReadLane(store: store, progress: projectionLane.progress, hash: CitizenHash(key: options.citizenHashKey), logger: logger,
                                    notifyEndpoint: readsNotify)
            readLane.start(context: context)
            reads = readLane
            let (loadsPipe, loadsNotify) = try notifyPipe("loads")
            let loadLane = LoadLane(store: store, progress: projectionLane.progress, logger: logger, notifyEndpoint: loadsNotify)
            loadLane.start(context: context)
            loads = loadLane
            let (recordsPipe, recordsNotify) = try notifyPipe("records")
            let recordsLane = RecordsLane(store: store, journal: journal, progress: projectionLane.progress,
                                          hash: CitizenHash(key: options.citizenHashKey), logger: logger, notifyEndpoint: recordsNotify)
            recordsLane.start(context: context)
            records = recordsLane

            var broker = options.broker
            broker.maxDeliveries = options.configuration.maxDeliveries
            var engineLoop = EngineLoop(
                router: router, zap: zap, monitor: monitor, publisher: publisher, writerPipe: writerPipe, writer: writer,
                projectorPipe: projectorPipe, projector: projectionLane, loadsPipe: loadsPipe, loads: loadLane, readsPipe: readsPipe,
                recordsPipe: recordsPipe, records: recordsLane, reads: readLane,
                store: store, options: options, pendingReload: pendingReload,
                mdp: MajordomoBrokerMachine(configuration: broker, internalServices: InquiryService.all),
                inquiries: InquiryMachine(configuration: options.configuration, after: max(projected, appended)),
                logger: logger
            )
            do {
                try engineLoop.restore()
            } catch {
                logger.critical("cannot restore the queues from the store", metadata: ["error": "\(error)"])
                writer.stop()
                lifecycle.withLock { $0 = .failed(.failed(function: "restore", errno: .invalidArgument)) }
                started.signal()
                return
            }
            loop = engineLoop
            lifecycle.withLock { $0 = .running(endpoint: endpoint, events: eventsBound) }
            logger.info("broker listening", metadata: ["mdp.endpoint": "\(endpoint)", "events.endpoint": "\(eventsBound ?? "disabled")"])
        } catch {
            lifecycle.withLock { $0 = .failed(error) }
            started.signal()
            return
        }
        started.signal()

        var running = loop
        let ending: Termination
        do {
            try running.run(pipe: pipe)
            ending = .stopped
        } catch {
            logger.critical("engine loop failed", metadata: ["error": "\(error)"])
            ending = .failed("engine loop failed: \(error)")
        }
        running.drain()
        writer.stop()
        // Projects what the writer appended, so a stopped broker leaves the tables whole.
        projector?.stop()
        projector = nil
        lifecycle.withLock { $0 = .ended(ending) }
        logger.info("broker stopped")
    }
}
