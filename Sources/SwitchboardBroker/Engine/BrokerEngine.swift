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
    public func stop() {
        let wasRunning = control.withLock { pipe -> Bool in
            guard let socket = pipe else { return false }
            try? socket.send("STOP")
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
                let socket = try Socket(context, .pub)
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
            let readLane = ReadLane(store: store, progress: projectionLane.progress, logger: logger, notifyEndpoint: readsNotify)
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

/// The state the engine thread owns: its sockets, the two machines and the writer's
/// mailbox.
struct EngineLoop {
    let router: Socket
    let zap: Socket
    let monitor: Socket
    lazy var connections = ConnectionGuard(limits: ConnectionGuard.Limits(
        perSource: options.maxConnectionsPerSource, total: options.maxConnections, idleTimeout: options.idleTimeout))
    var gatekeeper: ZAPGatekeeper { ZAPGatekeeper(keys: options.security?.keys) }
    /// Who sent the message being handled (with CURVE), for the checks it leads to.
    var sender: KeyHolder?
    /// Requests refused by the access rules, by role.
    var denials: [String: Int] = [:]
    let publisher: Socket?
    let writerPipe: Socket
    let writer: JournalWriter
    let projectorPipe: Socket
    let projector: Projector
    let loadsPipe: Socket
    let loads: LoadLane
    let readsPipe: Socket
    let recordsPipe: Socket
    let records: RecordsLane
    /// What retention and erasures did, for statistics.
    var dataProtection = BrokerStats.DataProtection(purged: [:], erasures: 0, lastRetentionRun: nil)
    /// When the next retention run is due; none is queued while one runs.
    var nextRetention = ContinuousClock.now
    var retentionRunning = false
    let reads: ReadLane
    let store: any InquiryStore
    /// The configuration changes on a reload (SIGHUP); the rest never does.
    var options: BrokerEngine.Options
    let pendingReload: PendingReload
    /// This installation's id (``InquiryStore/installationID()``).
    var installation = ""
    /// Configuration reloads so far, for statistics.
    var reloads = BrokerStats.Reloads()
    /// The projector's progress, for statistics.
    var projection = BrokerStats.Projection()
    /// Accounts whose token a platform refused, as the gateways report them.
    var authorizations = AccountAuthorizations()
    var mdp: MajordomoBrokerMachine
    var inquiries: InquiryMachine
    let logger: Logger
    let clock = MonotonicWallClock()
    var nextTimers = ContinuousClock.now
    /// The load lane reads what the timers are due for: the next tick asks only once that
    /// read is back.
    var timersReading = false
    /// The journal position durable when each job still in the load lane was submitted,
    /// oldest first (the lane answers in order).
    var loadsOnTheirWay: Deque<UInt64> = []
    var warnings = WarningLimiter()
    let startedAt = Date()
    var eventsDropped = 0
    var storeStats = BrokerStats.Store(writable: true, lastError: nil, commits: 0, committedRows: 0, commitSeconds: 0, pendingBatches: 0,
                                       commitLatency: BucketHistogram(bounds: BucketHistogram.latencies),
                                       batchRows: BucketHistogram(bounds: BucketHistogram.batchRows))
    var engineTurns = BucketHistogram(bounds: BucketHistogram.latencies)
    /// When the engine stopped reading because the writer fell behind.
    var pausedSince: ContinuousClock.Instant?
    /// Ingest answers held while a department's workers are behind.
    lazy var flow = IngestFlowControl(maxReadyBacklog: options.configuration.maxReadyBacklog)

    /// Puts every inquiry that was waiting or being delivered back in its queue (those
    /// a worker held first: they are redelivered), warms the deduplication index and
    /// queues unsent messages for their gateways. Parked inquiries stay parked.
    mutating func restore() throws {
        let start = ContinuousClock.now
        let (queue, parked) = try store.restorable()
        var inFlight: [RestorableInquiry] = []
        for inquiry in queue {
            mdp.restoreInquiry(QueueEntry(id: inquiry.id, priority: inquiry.priority, deliveries: inquiry.deliveries),
                               department: inquiry.department)
            if inquiry.wasInFlight { inFlight.append(inquiry) }
        }
        // A worker's hold did not survive the restart: its record says so too.
        for inquiry in inFlight {
            if let stored = try store.inquiry(inquiry.id) { inquiries.load(stored) }
            carryOut(inquiries.workerLeft(holding: QueueEntry(id: inquiry.id, priority: inquiry.priority, deliveries: inquiry.deliveries),
                                          department: inquiry.department, now: clock.now()), now: start)
        }
        carryOut(inquiries.restoreRegistry(try store.channels(), now: clock.now()), now: start)
        inquiries.restoreFigures(try store.stateCounts())
        inquiries.rememberKeys(try store.recentKeys(limit: inquiries.keyCapacity))
        inquiries.restoreCaseNumbers(last: try store.lastCaseNumber())
        installation = try store.installationID()
        // After the first start the registry is the source of truth: accounts added to
        // the configuration since are named, with the command that registers them.
        for line in inquiries.unregisteredAccounts() { logger.warning("\(line)") }
        let awaiting = try store.awaitingCitizen()
        inquiries.restoreAwaiting(awaiting.inquiries, threads: awaiting.threads)
        for case .enqueue(let service, let entry) in inquiries.restoreOutbound(try store.pendingOutbound()) {
            mdp.restoreInquiry(entry, department: service)
        }
        sealTurn()
        logger.info("queues restored", metadata: [
            "inquiries.queued": "\(queue.count)", "inquiries.parked": "\(parked)", "elapsed": "\(ContinuousClock.now - start)",
        ])
    }

    /// Timers (expiry, heartbeats) run at least this often.
    var tickPeriod: Duration {
        min(.milliseconds(100), mdp.configuration.heartbeatInterval / 4)
    }

    /// Whether the writer is so far behind that no new message may be read.
    var backpressured: Bool {
        guard inquiries.pendingBatches >= options.maxPendingBatches else { return false }
        let open = inquiries.openBatchSize
        return open.rows >= options.batchSize || open.bytes >= options.maxBatchBytes
    }

    mutating func run(pipe: Socket) throws(ZMQError) {
        var all = Poller([router, pipe, writerPipe, readsPipe, zap, monitor, recordsPipe, projectorPipe, loadsPipe])
        var paused = Poller([pipe, writerPipe, readsPipe, zap, monitor, recordsPipe, projectorPipe, loadsPipe])
        var nextTick = ContinuousClock.now + tickPeriod
        while true {
            let wait = max(.zero, nextTick - ContinuousClock.now)
            let reading = !backpressured
            if reading, let since = pausedSince {
                // Workers could not be heard while the engine was not reading: their
                // silence was the broker's, not theirs.
                mdp.postponeExpiry(by: ContinuousClock.now - since)
                pausedSince = nil
            } else if !reading, pausedSince == nil {
                pausedSince = ContinuousClock.now
            }
            let readable = reading ? try all.poll(timeout: wait) : [false] + (try paused.poll(timeout: wait))
            if readable[1] {
                let command = try pipe.receive(.nonBlocking)
                guard command?.first?.string == BrokerEngine.reloadCommand else { return }
                reconfigure()
            }
            let turnStarted = ContinuousClock.now
            if readable[2] {
                takeWriterOutcomes()
                // The writer is free: hand it what gathered meanwhile before reading more.
                sealTurn()
            }
            if readable[3] { sendReadAnswers() }
            if readable[4] { answerZAP() }
            if readable[5] { watchConnections() }
            if readable[6] { takeRecordsResults() }
            if readable[7] { takeProjectorOutcomes() }
            if readable[8] { takeLoads() }
            if readable[0] { readTurn() }
            let now = ContinuousClock.now
            if now >= nextTick {
                publishStats()
                for descriptor in connections.idle(now: now) {
                    logger.notice("connection cut", metadata: ["reason": "no valid message within \(options.idleTimeout)"])
                    AcceptedConnection.cut(descriptor)
                }
                perform(mdp.tick(now: now), now: now)
                let wall = clock.now()
                announce(authorizations.expire(at: wall), at: wall)
                nextTick = now + tickPeriod
            }
            if now >= nextTimers {
                nextTimers = now + options.timerInterval
                runTimers()
            }
            if now >= nextRetention, !retentionRunning {
                nextRetention = now + .seconds(options.configuration.retention.runEvery)
                retentionRunning = records.submit(.retention(now: clock.now(), policy: options.configuration.retention))
            }
            sealTurn()
            if flow.heldCount > 0 { releaseHeldAnswers(now: now) }
            if readable.contains(true) {
                let turn = ContinuousClock.now - turnStarted
                engineTurns.observe(turn.seconds)
            }
        }
    }

    /// Reads for up to 5 ms, or until the open batch is full.
    private mutating func readTurn() {
        let turnEnds = ContinuousClock.now + .milliseconds(5)
        var read = 0
        while read < options.batchSize, ContinuousClock.now < turnEnds {
            // A writer left idle while the engine reads costs throughput and latency both.
            if read & 15 == 15, writer.hasOutcomes { break }
            let open = inquiries.openBatchSize
            guard open.rows < options.batchSize, open.bytes < options.maxBatchBytes else { break }
            let security = options.security
            guard let message = try? router.receiveMessage(.nonBlocking, properties: security == nil ? [] : ["User-Id"], wantsDescriptor: true),
                  !message.frames.isEmpty else { break }
            let frames = message.frames
            // The User-Id is the key itself: a key replaced under the same name loses its
            // rights with its next message.
            if let security { sender = message.properties["User-Id"].flatMap(security.keys.holder(publicKey:)) }
            if let descriptor = message.sourceDescriptor, connections.isSilent(descriptor),
               (try? BrokerInbound(frames: Array(frames.dropFirst()))) != nil {
                connections.spoke(descriptor)
            }
            let peer = frames[0]
            read += 1
            let now = ContinuousClock.now
            guard frames.count <= options.maxFrames + 1 else {
                report(.malformed(peer: peer, error: .wrongFrameCount(frames.count - 1, command: "a message", expected: "at most \(options.maxFrames)")), now: now)
                continue
            }
            if options.security != nil, !admitted(peer, Array(frames.dropFirst()), now: now) { continue }
            perform(mdp.receive(from: peer, frames: Array(frames.dropFirst()), now: now), now: now)
        }
    }

    /// With CURVE: a peer whose key was removed is cut off (a worker is forgotten and
    /// its work requeued), and a READY is checked against the key's role before the
    /// MDP machine sees it.
    private mutating func admitted(_ peer: Frame, _ frames: [Frame], now: ContinuousClock.Instant) -> Bool {
        guard let holder = sender else {
            // Its key was removed since it connected.
            deny(peer, "-", needed: "an authorised key", service: nil, now: now)
            if frames.count >= 3, frames[1] == MDP.clientProtocol, let service = frames[2].string {
                reply(peer, service, .agentError(.forbidden(service: service, needs: "an authorised key")), now: now)
            } else {
                if mdp.isWorker(peer) { perform(mdp.peerUnreachable(peer, now: now), now: now) }
                perform(send(peer, WorkerCommand.disconnect.frames, now: now), now: now)
            }
            return false
        }
        if frames.count >= 4, frames[1] == MDP.workerProtocol, frames[2] == Frame([0x01]), let service = frames[3].string,
           let needed = AccessRules.check(holder.role, .serve(service: service)) {
            deny(peer, holder.role.description, needed: needed, service: service, now: now)
            perform(send(peer, WorkerCommand.disconnect.frames, now: now), now: now)
            return false
        }
        return true
    }

    /// Logs and counts a refusal: the key's name and role, never what was sent.
    private mutating func deny(_ peer: Frame, _ role: String, needed: String, service: String?, now: ContinuousClock.Instant) {
        denials[role, default: 0] += 1
        let (allowed, _) = warnings.allow(peer, now: now)
        guard allowed else { return }
        logger.warning("request denied", metadata: [
            "key": "\(sender?.name ?? "-")", "role": "\(role)", "needs": "\(needed)",
            "mdp.service": "\(service.map(MDP.loggable) ?? "-")",
        ])
    }

    /// Hands the open batch to the writer, unless it already has enough waiting.
    private mutating func sealTurn() {
        let pending = inquiries.pendingBatches
        guard pending == 0 || (pending < options.maxPendingBatches && inquiries.openBatchSize.rows >= options.secondBatchRows),
              let (sequence, batch) = inquiries.sealBatch() else { return }
        writer.submit(sequence, batch)
    }

    private mutating func takeWriterOutcomes() {
        while (try? writerPipe.receive(.nonBlocking)) != nil {}
        let now = ContinuousClock.now
        for outcome in writer.takeOutcomes() {
            switch outcome {
            case .committed(let sequence, let result, let rows, let duration):
                storeStats.commits += 1
                storeStats.committedRows += rows
                storeStats.commitSeconds += duration.seconds
                storeStats.commitLatency.observe(duration.seconds)
                storeStats.batchRows.observe(Double(rows))
                storeStats.writable = true
                storeStats.lastError = nil
                carryOut(inquiries.committed(sequence, result: result), now: now)
            case .failed(let sequence, let error):
                storeStats.writable = false
                storeStats.lastError = error
                carryOut(inquiries.commitFailed(sequence), now: now)
            }
        }
    }

    private mutating func takeProjectorOutcomes() {
        while (try? projectorPipe.receive(.nonBlocking)) != nil {}
        for outcome in projector.takeOutcomes() {
            switch outcome {
            case .projected(let through, let entries, let rows, let duration):
                projection.transactions += 1
                projection.entries += entries
                projection.rows += rows
                projection.seconds += duration.seconds
                projection.position = through
                inquiries.projected(through: through)
            case .failed(let error):
                projection.lastError = error
            case .recovered:
                projection.lastError = nil
            }
        }
    }

    /// Publishes a snapshot for the operations endpoint (a few hundred bytes per
    /// department, every tick): readers never touch the engine.
    private mutating func publishStats() {
        guard let board = options.stats else { return }
        var ingestCounts = inquiries.ingestCounts
        ingestCounts.answersHeld = flow.heldTotal
        var store = storeStats
        store.pendingBatches = inquiries.pendingBatches
        let wall = Date()
        let figures = inquiries.figures
        let sla = options.configuration.sla
        let departments = options.configuration.departments.map { department -> BrokerStats.Department in
            let load = mdp.load(for: department.id)
            let counted = figures.departments[department.id] ?? InquiryFigures.Department()
            let oldest = mdp.longestWaiting(department: department.id).map { max(0, wall.timeIntervalSince($0.id.createdAt)) } ?? 0
            let target = sla.target(department: department.id, priority: .normal)
            // Each ready inquiry against its own priority's target: the head of each
            // priority's line has waited longest among its peers.
            let overdue = mdp.oldestPerPriority(department: department.id).map { entry in
                wall.timeIntervalSince(entry.id.createdAt) - sla.target(department: department.id, priority: entry.priority).firstResponse
            }.max() ?? 0
            var figure = BrokerStats.Department(
                id: department.id, name: department.name, frontOffice: department.id == options.configuration.frontOffice,
                ready: mdp.readyInquiries(for: department.id), answersHeld: flow.held(for: department.id),
                inFlight: load.inFlight, workers: mdp.workerCount(for: department.id), credit: load.credit,
                heldByAgents: counted.standing[.withAgent] ?? 0, accepted: counted.standing[.accepted] ?? 0,
                awaitingCitizen: counted.standing[.awaitingCitizen] ?? 0, parked: counted.standing[.parked] ?? 0,
                oldestReadyAgeSeconds: oldest, firstResponseTargetSeconds: target.firstResponse, resolutionTargetSeconds: target.resolution,
                delivered: counted.delivered, redelivered: counted.redelivered, parkedTotal: counted.parked,
                handoffsIn: counted.handoffsIn, handoffsOut: counted.handoffsOut,
                slaWarnings: counted.warnings, slaBreaches: counted.breaches, slaBreachesToday: figures.breachesToday(department.id, at: wall),
                firstResponse: counted.firstResponse, resolution: counted.resolution, leg: counted.leg
            )
            figure.expectsWorkers = department.expectsWorkers
            figure.readyOverdueSeconds = max(0, overdue)
            if overdue > 0 {
                let counts = mdp.overdueInquiries(department: department.id, at: wall) { sla.target(department: department.id, priority: $0).firstResponse }
                figure.overdueByPriority = Dictionary(uniqueKeysWithValues: counts.map { ($0.key.rawValue, $0.value) })
            }
            figure.slaBreachedInquiriesToday = figures.inquiriesBreachedToday(department.id, at: wall)
            return figure
        }
        let unsent = inquiries.unsentMessages()
        let refused = authorizations.accounts
        let outbound = Platform.allCases.map { platform in
            let waiting = unsent[platform]
            var figure = BrokerStats.Outbound(platform: platform.rawValue, unsent: waiting?.count ?? 0,
                                              oldestUnsentSeconds: waiting.map { max(0, wall.timeIntervalSince($0.oldest)) } ?? 0,
                                              gateways: mdp.workerCount(for: ServiceName.outbound(platform.rawValue)))
            figure.needingReauthorization = refused.filter { $0.platform == platform }
                .map { BrokerStats.Reauthorization(account: $0.handle, reason: $0.reason, since: $0.since) }
            return figure
        }
        var snapshot = BrokerStats(
            at: Date(), startedAt: startedAt, ready: true, engineTurnedAt: Date(), store: store, ingest: ingestCounts,
            departments: departments,
            connections: BrokerStats.Connections(open: connections.count, cut: connections.cuts, denials: denials,
                                                 warningsHeldBack: warnings.totalHeldBack),
            eventsDropped: eventsDropped, engineTurnSeconds: engineTurns, build: BrokerStats.Build(version: SwitchboardVersion.current),
            dataProtection: dataProtection
        )
        snapshot.outbound = outbound
        snapshot.reloads = reloads
        var projected = projection
        projected.journalPosition = projector.progress.committed
        snapshot.projection = projected
        board.publish(snapshot)
    }

    /// Applies the connection limits as libzmq accepts and closes connections.
    private mutating func watchConnections() {
        let now = ContinuousClock.now
        while let frames = try? monitor.receive(.nonBlocking) {
            guard let event = MonitorEvent(frames) else { continue }
            if event.kind == .accepted {
                let source = AcceptedConnection.peerAddress(event.value) ?? "unknown"
                if case .cut(let reason) = connections.accepted(event.value, from: source, now: now) {
                    if warnings.allow(Frame(source), now: now).allowed {
                        logger.warning("connection refused", metadata: ["peer.address": "\(source)", "reason": "\(reason)"])
                    }
                    AcceptedConnection.cut(event.value)
                }
            } else if event.kind == .disconnected {
                connections.closed(event.value)
            }
        }
    }

    /// Answers libzmq's questions about new peers (RFC 27/ZAP).
    private func answerZAP() {
        while let request = try? zap.receive(.nonBlocking) {
            let reply = gatekeeper.reply(to: request)
            if reply[2] != "200" {
                logger.notice("peer refused by the gatekeeper", metadata: [
                    "peer.address": "\(request.count > 3 ? request[3].string ?? "-" : "-")", "reason": "\(reply[3].string ?? "")",
                ])
            }
            do {
                try zap.send(reply)
            } catch {
                logger.error("cannot answer a ZAP request", metadata: ["error": "\(error)"])
            }
        }
    }

    /// Answers and figures from the records lane (retention, erasure, export).
    private mutating func takeRecordsResults() {
        while (try? recordsPipe.receive(.nonBlocking)) != nil {}
        let now = ContinuousClock.now
        for result in records.takeResults() {
            switch result {
            case .answer(let client, let service, let frame):
                perform(send(client, ClientMessage(service: service, body: [frame]).frames, now: now), now: now)
            case .purged(let counts, _):
                dataProtection.purged.merge(counts, uniquingKeysWith: +)
            case .retentionDone(let at):
                dataProtection.lastRetentionRun = at
                retentionRunning = false
            case .erased(let ids, let keys):
                dataProtection.erasures += 1
                carryOut(inquiries.forget(erased: ids, keys: keys), now: now)
            }
        }
    }

    private mutating func sendReadAnswers() {
        while (try? readsPipe.receive(.nonBlocking)) != nil {}
        let now = ContinuousClock.now
        for answer in reads.takeAnswers() {
            perform(send(answer.client, ClientMessage(service: answer.service, body: [answer.frame]).frames, now: now), now: now)
        }
    }

    /// Sends the ingest answers their departments' workers have made room for, or all
    /// of a department's once no worker serves it.
    private mutating func releaseHeldAnswers(now: ContinuousClock.Instant) {
        for department in flow.throttledDepartments {
            send(flow.release(department, ready: mdp.readyInquiries(for: department), workers: mdp.workerCount(for: department)), now: now)
        }
    }

    private mutating func send(_ answers: [IngestFlowControl.Answer], now: ContinuousClock.Instant) {
        for answer in answers { perform(send(answer.client, answer.frames, now: now), now: now) }
    }

    /// Before the thread ends: what is sealed or open still goes to the writer, which
    /// commits it before it stops. Replies waiting for a commit are not sent: the
    /// sockets are closing. Ingest answers held for flow control are: their inquiries
    /// are on disk, and the gateways need not send them again.
    mutating func drain() {
        if let (sequence, batch) = inquiries.sealBatch() { writer.submit(sequence, batch) }
        for answer in flow.releaseAll() { try? router.send([answer.client] + answer.frames, dontWait: true) }
    }

    // MARK: Reading the store for the machine

    /// Loads an inquiry the machine does not hold. A read failure leaves it unloaded,
    /// and the machine answers as for an unknown inquiry or skips the entry.
    /// - Returns: false when the store could not be read (as opposed to holding no such
    ///   inquiry): the caller must then leave queue entries where they are.
    @discardableResult
    private mutating func ensureLoaded(_ id: InquiryID, body: Bool = false) -> Bool {
        guard inquiries.needsLoad(id) || (body && inquiries.needsBody(id)) else { return true }
        do {
            if let stored = try store.inquiry(id) {
                inquiries.load(stored)
            } else if awaitProjection(), let stored = try store.inquiry(id) {
                // Accepted a moment ago: its envelope was past the memory budget, and its
                // row only now in the projection.
                inquiries.load(stored)
            }
            return true
        } catch {
            logger.error("cannot load an inquiry", metadata: ["inquiry.id": "\(id)", "error": "\(error.underlying)"])
            return false
        }
    }

    /// Before a read on the engine thread that may concern a batch the projection does not
    /// hold yet (a case number given a moment ago, a post just confirmed), waits for it,
    /// briefly: rare requests, and the projector is usually a few milliseconds behind.
    /// Returns whether it waited (and so whether reading again may find more).
    private func awaitProjection() -> Bool {
        let progress = projector.progress
        let committed = progress.committed
        guard progress.projected < committed else { return false }
        progress.wait(until: committed, timeout: .milliseconds(500))
        return true
    }

    /// Asks the load lane for the claims whose lease expired and the inquiries whose SLA
    /// alert is due, with the inquiries (at most 200 of each a tick: after a restart a
    /// backlog past its targets makes every queued inquiry due at once, and what is left is
    /// still due at the next tick). ``takeLoads()`` runs them.
    private mutating func runTimers() {
        guard !timersReading else { return }
        timersReading = submitLoad(.timers(before: clock.now(), limit: 200))
    }

    /// Sends a job to the load lane; false when too many wait.
    private mutating func submitLoad(_ work: LoadLane.Work) -> Bool {
        let after = projector.progress.committed
        guard loads.submit(LoadLane.Job(work: work, after: after)) else { return false }
        loadsOnTheirWay.append(after)
        inquiries.readsOnTheirWay = true
        return true
    }

    // MARK: Carrying out actions

    /// Carries out the MDP machine's actions. A send that fails because the peer is
    /// gone (`EHOSTUNREACH` under ROUTER_MANDATORY) or its queue is full (`EAGAIN`) is
    /// fed back to the machine as an unreachable peer.
    mutating func perform(_ actions: [MajordomoBrokerMachine.Action], now: ContinuousClock.Instant) {
        var pending = actions[...]
        while let action = pending.popFirst() {
            switch action {
            case .send(let peer, let frames):
                pending.append(contentsOf: send(peer, frames, now: now))
            case .report(let event):
                report(event, now: now)
            case .internalRequest(let client, let service, let body):
                serve(client: client, service: service, body: body, now: now)
            case .deliverInquiry(let worker, let department, let entry):
                if InquiryService.isOutbound(department) {
                    carryOut(inquiries.deliverOutbound(entry, service: department, to: worker), now: now)
                } else if ensureLoaded(entry.id, body: true) {
                    carryOut(inquiries.deliver(entry, department: department, to: worker, now: clock.now()), now: now)
                } else {
                    // The store cannot be read: treating the worker as gone puts what it
                    // holds back at the front of the queue, with no tight retry loop (it
                    // re-registers after DISCONNECT).
                    pending.append(contentsOf: mdp.peerUnreachable(worker, now: now))
                }
            case .inquiryAcknowledged(let worker, let department, let entry, let reply):
                if InquiryService.isOutbound(department) {
                    if let inquiry = inquiries.inquiry(ofMessage: entry.id) { ensureLoaded(inquiry) }
                    carryOut(inquiries.outboundSent(entry, worker: worker, reply: reply, now: clock.now()), now: now)
                } else {
                    ensureLoaded(entry.id)
                    inquiries.gatewaysOnline = gatewaysOnline
                    carryOut(inquiries.workerReplied(entry, department: department, worker: worker, reply: reply, now: clock.now()), now: now)
                }
            case .inquiryReleased(let department, let entry):
                guard !InquiryService.isOutbound(department) else { continue }
                ensureLoaded(entry.id)
                carryOut(inquiries.workerLeft(holding: entry, department: department, now: clock.now()), now: now)
            case .parkInquiry(let department, let entry, let reason):
                guard !InquiryService.isOutbound(department) else {
                    // A message to a citizen is never dropped: it waits for a gateway
                    // that stays up, with a fresh count.
                    logger.warning("outbound message requeued after repeated gateway failures", metadata: [
                        "message.id": "\(entry.id)", "mdp.service": "\(department)", "reason": "\(reason)",
                    ])
                    pending.append(contentsOf: mdp.enqueueInquiry(QueueEntry(id: entry.id, priority: entry.priority), department: department, now: now))
                    continue
                }
                ensureLoaded(entry.id)
                carryOut(inquiries.park(entry, department: department, reason: reason, now: clock.now()), now: now)
            }
        }
    }

    /// Logs an MDP event; warnings a peer causes are rate-limited.
    private mutating func report(_ event: BrokerEvent, now: ContinuousClock.Instant) {
        let peer: Frame? = switch event {
        case .malformed(let peer, _), .unexpectedCommand(let peer, _): peer
        default: nil
        }
        if let peer {
            let (allowed, closed) = warnings.allow(peer, now: now)
            if closed > 0 { logger.warning("peer warnings held back", metadata: ["count": "\(closed)"]) }
            guard allowed else { return }
        }
        event.log(to: logger)
    }

    /// Carries out the inquiry machine's actions, and the queue moves its last event made.
    mutating func carryOut(_ actions: [InquiryMachine.Action], now: ContinuousClock.Instant) {
        for action in inquiries.takeDequeues() + actions {
            switch action {
            case .send(let peer, let frames):
                perform(send(peer, frames, now: now), now: now)
            case .answerIngest(let client, let frames, let department):
                send(flow.answered(IngestFlowControl.Answer(client: client, frames: frames), department: department,
                                   ready: mdp.readyInquiries(for: department), workers: mdp.workerCount(for: department)), now: now)
            case .enqueue(let department, let entry):
                perform(mdp.enqueueInquiry(entry, department: department, now: now), now: now)
            case .dequeue(let id, let department):
                _ = mdp.removeQueuedInquiry(id, department: department)
            case .forgetHeld(let id, let worker):
                perform(mdp.forgetHeldInquiry(id, worker: worker, now: now), now: now)
            case .publish(let event):
                publish(event)
            case .log(let event):
                event.log(to: logger)
            case .findOriginal(let key, let known, let client, let body):
                // A read on the engine thread, as ensureLoaded: edits are rare.
                if known == nil { _ = awaitProjection() }
                if let id = known ?? (try? store.inquiry(for: key))?.id {
                    if known == nil, let original = try? store.inquiry(for: key) { inquiries.rememberOriginal(key, original) }
                    ensureLoaded(id)
                }
                carryOut(inquiries.ingest(client: client, body: body, now: clock.now(), lookedUp: true), now: now)
            }
        }
    }

    private mutating func send(_ peer: Frame, _ frames: [Frame], now: ContinuousClock.Instant) -> [MajordomoBrokerMachine.Action] {
        do {
            try router.send([peer] + frames, dontWait: true)
            return []
        } catch {
            logger.debug("send failed", metadata: ["mdp.peer": "\(peer)", "error": "\(error)"])
            return mdp.peerUnreachable(peer, now: now)
        }
    }

    /// How much later than the platform's time a message may be recorded as sent and
    /// still be covered by a watermark: the gateway's answer after the platform's.
    static let watermarkGrace: TimeInterval = 5

    /// Logs and publishes what changed in the accounts needing re-authorisation.
    private mutating func announce(_ changes: [AccountAuthorizations.Change], at wall: Date) {
        for change in changes {
            let event = BrokerStreamEvent.authorization(change, channel: channelID(of: change), at: wall)
            switch change {
            case .needed(let account):
                logger.error("an official account needs re-authorisation; its replies wait in the gateway", metadata: [
                    "platform": "\(account.platform.rawValue)", "account": "\(account.handle)", "reason": "\(account.reason)"])
            case .restored(let account):
                logger.notice("an official account posts again", metadata: ["platform": "\(account.platform.rawValue)", "account": "\(account.handle)"])
            case .unknown(let account):
                logger.warning("the gateway that reported an account needing re-authorisation stopped reporting",
                               metadata: ["platform": "\(account.platform.rawValue)", "account": "\(account.handle)"])
            }
            publish(event)
        }
    }

    private func channelID(of change: AccountAuthorizations.Change) -> String? {
        switch inquiries.registry.verify(ChannelHandle(platform: change.account.platform, change.account.handle)) {
        case .official(let entry), .inactive(let entry): return entry.id
        case .lookalike, .unknown: return nil
        }
    }

    private mutating func publish(_ event: BrokerStreamEvent) {
        guard let publisher else { return }
        do {
            try publisher.send(event.frames, dontWait: true)
        } catch {
            eventsDropped += 1
            logger.warning("event dropped", metadata: ["event": "\(event.topic)", "error": "\(error)"])
        }
    }

    /// With CURVE, whether the sender's role allows `request`; a refusal is answered
    /// `forbidden`, naming the role needed.
    private mutating func permitted(_ request: AccessRequest, client: Frame, service: String, now: ContinuousClock.Instant) -> Bool {
        guard options.security != nil else { return true }
        let role = sender?.role
        guard let needed = role.map({ AccessRules.check($0, request) }) ?? "an authorised key" else { return true }
        deny(client, role?.description ?? "-", needed: needed, service: service, now: now)
        reply(client, service, .agentError(.forbidden(service: service, needs: needed)), now: now)
        return false
    }

    /// A request to one of the broker's own services.
    private mutating func serve(client: Frame, service: String, body: [Frame], now: ContinuousClock.Instant) {
        let wall = clock.now()
        switch service {
        case InquiryService.ingest:
            guard permitted(.ingest, client: client, service: service, now: now) else { return }
            carryOut(inquiries.ingest(client: client, body: body, now: wall), now: now)
        case InquiryService.outboundStatus:
            guard permitted(.ingest, client: client, service: service, now: now) else { return }
            do {
                let request = try AgentRequest(body)
                let platformName = try request.string("platform")
                guard let platform = Platform(rawValue: platformName) else { throw AgentError.invalid(field: "platform", "not a known platform") }
                guard let status = OutboundStatusRequest.Status(rawValue: try request.string("status")) else {
                    throw AgentError.invalid(field: "status", "must be delivered, read or failed")
                }
                let messages: [OutboundMessage]
                // The post was confirmed a moment ago: its row may still be on its way in.
                _ = awaitProjection()
                if let recipient = request.optional("recipient") {
                    // A watermark: every message to this citizen posted up to then.
                    guard status != .failed else { throw AgentError.invalid(field: "status", "a watermark says delivered or read, never failed") }
                    guard let text = request.optional("watermark"), let watermark = CalendarDate.parse(text), text.contains("T") else {
                        throw AgentError.invalid(field: "watermark", "must be an ISO 8601 time, such as 2026-12-03T09:30:00.250Z")
                    }
                    // The platform stamps a message when it accepts it; the broker records it
                    // as sent when the gateway says so, a little later.
                    let recorded = watermark.addingTimeInterval(Self.watermarkGrace)
                    messages = (try? store.outbound(platform: platform, recipient: recipient, sentBy: Timestamp.format(recorded),
                                                    notYet: status.rawValue)) ?? []
                } else {
                    messages = [try? store.outbound(platform: platform, postedAs: try request.string("external_id"))].compactMap { $0 }
                }
                for message in messages { ensureLoaded(message.inquiry) }
                carryOut(inquiries.outboundStatus(client: client, status: status, code: request.optional("code"), reason: request.optional("reason"),
                                                  messages: messages, by: sender?.name ?? "gateway", now: wall), now: now)
            } catch let error as AgentError {
                reply(client, service, .agentError(error), now: now)
            } catch {
                reply(client, service, .unavailable, now: now)
            }
        case InquiryService.gatewayAccounts:
            guard permitted(.ingest, client: client, service: service, now: now) else { return }
            guard let report = body.first.flatMap({ try? GatewayAccountsReport.decoder.decode(GatewayAccountsReport.self, from: Data($0.bytes)) }) else {
                reply(client, service, .agentError(.invalid(field: "needing_reauthorization", "must be a list of {platform, account, reason, since}")), now: now)
                return
            }
            var accounts: [AccountAuthorizations.Account] = []
            for entry in report.needingReauthorization {
                guard let platform = Platform(rawValue: entry.platform) else {
                    reply(client, service, .agentError(.invalid(field: "platform", "\(entry.platform) is not a known platform")), now: now)
                    return
                }
                accounts.append(.init(platform: platform, handle: entry.account, reason: entry.reason, since: entry.since))
            }
            // A gateway is known by its key's name under CURVE, else by its connection.
            let gateway = sender?.name ?? client.description
            announce(authorizations.report(gateway: gateway, accounts: accounts, at: wall), at: wall)
            reply(client, service, .model(GatewayAccountsAnswer()), now: now)
        case InquiryService.departments:
            guard permitted(.request, client: client, service: service, now: now) else { return }
            let list = options.configuration.departments.map { DepartmentList.Department(id: $0.id, name: $0.name) }
            reply(client, service, .model(DepartmentList(departments: list, frontOffice: options.configuration.frontOffice,
                                                         installation: installation)), now: now)
        case InquiryService.explain:
            guard permitted(.request, client: client, service: service, now: now) else { return }
            carryOut(inquiries.explain(client: client, body: body), now: now)
        case InquiryService.erase, InquiryService.export:
            guard permitted(.admin, client: client, service: service, now: now) else { return }
            let job: RecordsLane.Job
            do throws(AgentError) {
                let request = try AgentRequest(body)
                job = service == InquiryService.erase
                    ? .erase(try RecordsLane.Erasure(client: client, request: request, actor: sender?.name, at: wall))
                    : .export(try RecordsLane.Export(client: client, request: request, departments: options.configuration.departmentIDs))
            } catch {
                reply(client, service, .agentError(error), now: now)
                return
            }
            if !records.submit(job) { reply(client, service, .unavailable, now: now) }
        case InquiryService.requeue:
            var request: AgentRequest
            do {
                request = try AgentRequest(body)
                try resolveCaseNumber(&request)
            } catch {
                guard permitted(.requeue(department: ""), client: client, service: service, now: now) else { return }
                reply(client, service, .agentError(error), now: now)
                return
            }
            let id = try? request.id()
            if let id { ensureLoaded(id) }
            let department = id.flatMap { inquiries.record($0)?.lifecycle.department } ?? ""
            guard permitted(.requeue(department: department), client: client, service: service, now: now) else { return }
            // The operator who asked, by key name with CURVE, else as the request names them.
            let actor = sender.map { Actor.agent($0.name) } ?? request.optional("actor").map(Actor.agent) ?? .system
            carryOut(inquiries.requeue(client: client, request: request, by: actor, now: wall), now: now)
        default:
            if let channelService = ChannelService(rawValue: service) {
                guard permitted(channelService.isWrite ? .registryWrite : .request, client: client, service: service, now: now) else { return }
                let request: AgentRequest
                do {
                    request = try AgentRequest(body)
                } catch {
                    reply(client, service, .agentError(error), now: now)
                    return
                }
                let actor = sender?.name ?? request.optional("actor") ?? "anonymous"
                carryOut(inquiries.channels(client: client, service: channelService, request: request, actor: actor, now: wall), now: now)
                return
            }
            guard let agentService = AgentService(rawValue: service) else { return }
            var request: AgentRequest
            do {
                request = try AgentRequest(body)
                if options.security != nil { try request.actAs(sender) }
            } catch {
                reply(client, service, .agentError(error), now: now)
                return
            }
            let department = request.department
            let access: AccessRequest = switch agentService {
            case .resolve: .request
            // The inquiry's own department is checked by the read lane, once it is read.
            case .show, .timeline: .request
            default: agentService.isRead ? .read(department: department) : .move(department: department ?? "")
            }
            guard permitted(access, client: client, service: service, now: now) else { return }
            if agentService.isRead {
                if !reads.submit(ReadLane.Job(client: client, service: agentService, request: request, role: sender?.role,
                                              configuration: options.configuration, after: projector.progress.committed)) {
                    reply(client, service, .unavailable, now: now)
                }
                return
            }
            // An invalid id is the machine's to refuse, with the field named.
            let named = (try? request.optionalID()) ?? nil
            let notInMemory = named.map { id in inquiries.needsLoad(id) || (agentService == .claim && inquiries.needsBody(id)) } ?? false
            if notInMemory || request.namesCase(options.configuration.caseNumbering) {
                // A case number to resolve, or an inquiry not in memory: read by the load
                // lane, and the move goes on from there.
                if !submitLoad(.move(client: client, service: agentService, request: request, numbering: options.configuration.caseNumbering)) {
                    reply(client, service, .unavailable, now: now)
                }
                return
            }
            var next: InquiryID?
            if request.optional("id") == nil, agentService == .claim, let department = request.department {
                next = nextClaimable(department)
            }
            move(client: client, service: agentService, request: request, next: next, now: now)
        }
    }

    private mutating func move(client: Frame, service: AgentService, request: AgentRequest, next: InquiryID?, now: ContinuousClock.Instant) {
        inquiries.gatewaysOnline = gatewaysOnline
        carryOut(inquiries.agent(client: client, service: service, request: request, next: next, now: clock.now()), now: now)
    }

    /// What the load lane read: the inquiries join memory (unless memory holds a newer
    /// copy, or the copy is older than a change let go of since: then the job is asked
    /// again), and the moves and timers go on.
    private mutating func takeLoads() {
        while (try? loadsPipe.receive(.nonBlocking)) != nil {}
        let now = ContinuousClock.now
        for result in loads.takeResults() {
            _ = loadsOnTheirWay.popFirst()
            let stale = result.stored.filter { !inquiries.load($0, readThrough: result.readThrough) }.map(\.id)
            switch result.job.work {
            case .move(let client, let service, let request, _):
                if let refusal = result.refusal {
                    reply(client, service.rawValue, .agentError(refusal), now: now)
                } else if let failure = result.failure {
                    logger.error("cannot load an inquiry", metadata: ["error": "\(failure)"])
                    reply(client, service.rawValue, .unavailable, now: now)
                } else if !stale.isEmpty {
                    if !submitLoad(result.job.work) { reply(client, service.rawValue, .unavailable, now: now) }
                } else {
                    move(client: client, service: service, request: request, next: nil, now: now)
                }
            case .timers:
                timersReading = false
                if let failure = result.failure {
                    logger.error("cannot read due timers", metadata: ["error": "\(failure)"])
                    continue
                }
                // A stale copy is left for the next tick, which reads it again.
                let ready = { (id: InquiryID) in !stale.contains(id) && !inquiries.needsLoad(id) }
                carryOut(inquiries.timers(now: clock.now(), expiredLeases: result.expiredLeases.filter(ready),
                                          dueAlerts: result.dueAlerts.filter(ready)), now: now)
            }
        }
        inquiries.pruneForgotten(readsSince: loadsOnTheirWay.first)
        inquiries.readsOnTheirWay = !loadsOnTheirWay.isEmpty
    }

    /// A case number where an id goes is read as the id it names (one primary-key read).
    private func resolveCaseNumber(_ request: inout AgentRequest) throws(AgentError) {
        try request.resolveCaseNumber(options.configuration.caseNumbering) { number in
            _ = awaitProjection()
            return try store.inquiry(case: number)
        }
    }

    /// Applies a reloaded configuration, unless it removes a department that still holds
    /// open inquiries (they would have nowhere to go): then the running one stays. Either
    /// way the log says what happened and what to do.
    mutating func reconfigure() {
        guard let reload = pendingReload.take() else { return }
        let fresh: SwitchboardConfiguration
        switch reload {
        case .apply(let configuration):
            fresh = configuration
        case .refused(let reason):
            reloads.refused += 1
            logger.error("configuration not reloaded; the running one stays", metadata: [
                "reason": "\(reason)", "fix": "correct the file and reload again (systemctl reload switchboardd, or kill -HUP)",
            ])
            return
        }
        let running = options.configuration
        let busy = running.departmentIDs.subtracting(fresh.departmentIDs).sorted().compactMap { id -> String? in
            let open = (inquiries.figures.departments[id]?.standing.values.reduce(0, +) ?? 0) + mdp.readyInquiries(for: id)
            return open > 0 ? "\(id) (\(open) open)" : nil
        }
        guard busy.isEmpty else {
            reloads.refused += 1
            logger.error("configuration not reloaded; the running one stays", metadata: [
                "reason": "departments removed while they hold open inquiries: \(busy.joined(separator: ", "))",
                "fix": "hand those inquiries off or close them first, or keep the departments in the file, then reload again",
            ])
            return
        }
        let changes = ConfigurationChanges(from: running, to: fresh)
        options.configuration = fresh
        inquiries.reconfigure(fresh)
        flow.maxReadyBacklog = fresh.maxReadyBacklog
        mdp.setMaxDeliveries(fresh.maxDeliveries)
        reloads.applied += 1
        reloads.lastAppliedAt = Date()
        logger.notice("configuration reloaded", metadata: ["changes": "\(changes.summary)"])
        for line in inquiries.unregisteredAccounts() { logger.warning("\(line)") }
    }

    /// The platforms whose publishing gateway has a worker connected now.
    private var gatewaysOnline: Set<Platform> {
        Set(Platform.allCases.filter { mdp.workerCount(for: ServiceName.outbound($0.rawValue)) > 0 })
    }

    /// The head of a department's queue, skipping entries that went stale.
    private mutating func nextClaimable(_ department: String) -> InquiryID? {
        while let entry = mdp.nextInquiry(department: department) {
            guard ensureLoaded(entry.id, body: true) else { return nil }
            if let record = inquiries.record(entry.id), record.lifecycle.state == .queued, record.lifecycle.department == department {
                return entry.id
            }
            _ = mdp.removeQueuedInquiry(entry.id, department: department)
        }
        return nil
    }

    private mutating func reply(_ client: Frame, _ service: String, _ answer: InquiryReply, now: ContinuousClock.Instant) {
        perform(send(client, ClientMessage(service: service, body: [answer.frame]).frames, now: now), now: now)
    }
}

extension InquiryLogEvent {
    /// A fixed message with ids, departments and codes as metadata.
    func log(to logger: Logger) {
        switch self {
        case .rejected(let code):
            logger.debug("ingest rejected", metadata: ["code": "\(code)"])
        case .missing(let id):
            logger.error("queued inquiry missing from the store", metadata: ["inquiry.id": "\(id)"])
        case .staleEntry(let id, let department):
            logger.debug("stale queue entry dropped", metadata: ["inquiry.id": "\(id)", "department": "\(department)"])
        case .staleReply(let id, let department):
            logger.notice("reply from a worker that no longer owns the inquiry", metadata: ["inquiry.id": "\(id)", "department": "\(department)"])
        case .outcomeRefused(let id, let department, let code):
            logger.warning("worker outcome refused; the department keeps the inquiry", metadata: [
                "inquiry.id": "\(id)", "department": "\(department)", "code": "\(code)",
            ])
        case .redelivery(let id, let department, let deliveries):
            logger.notice("inquiry requeued for redelivery", metadata: [
                "inquiry.id": "\(id)", "department": "\(department)", "deliveries": "\(deliveries)",
            ])
        case .parked(let id, let department, let deliveries):
            logger.warning("inquiry parked", metadata: ["inquiry.id": "\(id)", "department": "\(department)", "deliveries": "\(deliveries)"])
        case .sla(let id, let alert):
            logger.notice("SLA \(alert.level.rawValue)", metadata: [
                "inquiry.id": "\(id)", "department": "\(alert.department)", "sla.goal": "\(alert.goal.rawValue)", "sla.scope": "\(alert.scope.rawValue)",
            ])
        case .seedRefused(let platform, let code):
            logger.error("a configured account was not registered", metadata: ["platform": "\(platform)", "code": "\(code)"])
        case .commitFailed(let batch, let rows):
            logger.critical("commit failed; its requests were answered unavailable", metadata: ["batch": "\(batch)", "rows": "\(rows)"])
        }
    }
}

/// A configuration handed from the thread that read it (on SIGHUP) to the engine thread.
final class PendingReload: Sendable {
    enum Reload: Sendable {
        case apply(SwitchboardConfiguration)
        /// The file could not be read or parsed; the reason names the line and field.
        case refused(String)
    }

    private let slot = Mutex<Reload?>(nil)

    func put(_ reload: Reload) { slot.withLock { $0 = reload } }
    func take() -> Reload? { slot.withLock { value in defer { value = nil }; return value } }
}
