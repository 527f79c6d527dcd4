import Foundation
import Logging
import Synchronization
import SwitchboardCore
import SwitchboardStore
import ZeroMQ

/// One broker among several on one PostgreSQL database (9/SB-HA): the lease keeper's
/// thread carries out what the ``RoleMachine`` decides. As a standby it answers on the
/// MDP endpoint with a ``StandbyResponder`` and probes for the lease; once it holds the
/// lease it starts a ``BrokerEngine`` (which replays the journal after the projection and
/// restores the queues) and renews; when the lease is lost it stops the engine before
/// its deadline and stands by again. Appends are fenced by the database whatever this
/// thread does: the journal refuses an append under an old epoch, or after the deadline
/// the keeper last gave it.
public final class ActiveStandby: Sendable {
    public enum Termination: Sendable, Equatable {
        case stopped
        case failed(String)
    }

    /// What the process announces when the role changes (the ready file, the log).
    public struct Announcement: Sendable, Equatable {
        public var role: RoleMachine.Role
        public var endpoint: String
        public var eventsEndpoint: String?
    }

    private let options: BrokerEngine.Options
    /// The configuration a takeover starts the engine with: the one read at start-up, or
    /// the last one a SIGHUP read while standing by.
    private let configuration: Mutex<SwitchboardConfiguration>
    private let store: PostgresInquiryStore
    private let journal: PostgresInquiryJournal
    /// The keeper's own connection: the hint lock lives on it.
    private let keeper: PostgresSession
    private let timing: RoleMachine.Timing
    public let board: RoleBoard
    private let logger: Logger
    private let announce: @Sendable (Announcement) -> Void
    private let engine = Mutex<BrokerEngine?>(nil)
    private let stopping = Atomic<Bool>(false)
    private let wake = DispatchSemaphore(value: 0)
    private let finished = DispatchSemaphore(value: 0)
    private let ending = Mutex<Termination?>(nil)

    public init(options: BrokerEngine.Options, store: PostgresInquiryStore, journal: PostgresInquiryJournal, keeper: PostgresSession,
                board: RoleBoard, timing: RoleMachine.Timing, logger: Logger, announce: @escaping @Sendable (Announcement) -> Void) {
        self.options = options
        configuration = Mutex(options.configuration)
        self.store = store
        self.journal = journal
        self.keeper = keeper
        self.timing = timing
        self.board = board
        self.logger = logger
        self.announce = announce
    }

    /// The engine while this broker is the active one (a reload goes to it).
    public var activeEngine: BrokerEngine? { engine.withLock { $0 } }

    /// A configuration reloaded while standing by: the engine starts with it on takeover.
    public func reloadForTakeover(_ reloaded: SwitchboardConfiguration) {
        configuration.withLock { $0 = reloaded }
    }

    /// Starts the keeper thread: the broker stands by until it holds the lease.
    public func start() {
        let thread = Thread { [self] in
            let termination = keep()
            ending.withLock { $0 = termination }
            finished.signal()
        }
        thread.name = "sb-lease"
        thread.start()
    }

    /// Stops serving (the engine stops, the lease is released so a standby takes over at
    /// once) or standing by, and waits for it.
    public func stop() {
        stopping.store(true, ordering: .releasing)
        wake.signal()
        finished.wait()
        finished.signal()
    }

    public func awaitTermination() async -> Termination {
        await withCheckedContinuation { continuation in
            DispatchQueue.global().async { [self] in
                finished.wait()
                finished.signal()
                continuation.resume(returning: ending.withLock { $0 } ?? .stopped)
            }
        }
    }

    // MARK: The keeper thread

    /// An engine being started on its own thread: a long journal replay must not hold up
    /// the renewals.
    private final class Starting: Sendable {
        let engine: BrokerEngine
        let result = Mutex<Result<String, ZMQError>?>(nil)
        let began = ContinuousClock.now
        init(engine: BrokerEngine) { self.engine = engine }
    }

    private func keep() -> Termination {
        var machine = RoleMachine(timing: timing, now: .now)
        var responder: StandbyResponder?
        var starting: Starting?
        var failedStarts = 0
        let name = board.current.name

        func standBy() throws(ZMQError) {
            let standby = try StandbyResponder(endpoint: options.endpoint, curveSecretKey: options.security?.serverSecretKey,
                                               maxMessageSize: options.maxMessageSize, logger: logger)
            standby.activeHolderChanged(machine.activeHolder?.holder)
            responder = standby
            board.update { $0.role = .standby; $0.epoch = nil; $0.until = nil; $0.since = Date() }
            announce(Announcement(role: .standby, endpoint: standby.bound, eventsEndpoint: nil))
        }

        func stopEngine() {
            if let starting { _ = waitForStart(starting); }
            starting = nil
            engine.withLock { $0 }?.stop()
            engine.withLock { $0 = nil }
            options.stats?.withdraw()
        }

        do {
            try standBy()
        } catch {
            return .failed("cannot bind \(options.endpoint) to stand by: \(error)")
        }
        logger.notice("standing by", metadata: ["broker": "\(name)", "lease.time": "\(timing.leaseTime)"])

        while true {
            var events: [RoleMachine.Event] = [stopping.load(ordering: .acquiring) ? .stopRequested : .tick(.now)]
            // An engine that ended by itself while active: the broker cannot serve. Give
            // the lease back at once, and end (a supervisor restarts the process).
            if machine.role == .active, starting == nil, let running = engine.withLock({ $0 }), let ended = running.termination {
                giveUp(machine.lease)
                return .failed("the broker engine ended while active: \(ended)")
            }
            if let pending = starting, let result = pending.result.withLock({ $0 }) {
                starting = nil
                switch result {
                case .success(let endpoint):
                    let elapsed = (ContinuousClock.now - pending.began).seconds
                    engine.withLock { $0 = pending.engine }
                    failedStarts = 0
                    board.update { $0.takeovers += 1; $0.lastTakeoverSeconds = elapsed }
                    logger.notice("active: serving", metadata: ["broker": "\(name)", "epoch": "\(machine.lease?.epoch ?? 0)",
                                                                "takeover.seconds": "\(elapsed)"])
                    announce(Announcement(role: .active, endpoint: endpoint, eventsEndpoint: pending.engine.eventsEndpoint))
                case .failure(let error):
                    // Often passing: a broker cut off mid-transaction holds the
                    // projection's lock until the database ends its session. The lease
                    // goes back, and this broker stands by to try again; a failure that
                    // repeats is not passing, and a supervisor must see it.
                    pending.engine.stop()
                    giveUp(machine.lease)
                    failedStarts += 1
                    guard failedStarts < Self.startAttempts else {
                        return .failed("cannot start the broker engine after taking the lease, \(failedStarts) times in a row: \(error)")
                    }
                    // Before this turn's tick, which would renew the lease just given back.
                    events.insert(.couldNotServe("\(error)"), at: 0)
                }
            }
            while !events.isEmpty {
                let event = events.removeFirst()
                for action in machine.handle(event) {
                    switch action {
                    case .takeOver:
                        let sent = ContinuousClock.now
                        do {
                            if let (lease, early) = try BrokerLease.takeOver(name, for: timing.leaseTime, staleAfter: timing.staleAfter, keeper,
                                                                           timeout: timing.statementTimeout) {
                                events.append(.took(lease, early: early, sentAt: sent))
                            } else {
                                let held = try BrokerLease.current(keeper, timeout: timing.statementTimeout)?.lease
                                events.append(.held(by: held, sentAt: sent))
                                responder?.activeHolderChanged(held?.holder)
                                if board.current.databaseError != nil { logger.notice("standby reaches the database again") }
                                board.update { $0.activeHolder = held?.holder; $0.databaseError = nil }
                            }
                        } catch {
                            events.append(.unreachable("\(error)", at: .now))
                            if board.current.databaseError == nil {
                                logger.error("standby cannot reach the database; it cannot take over until it can", metadata: ["error": "\(error)"])
                            }
                            board.update { $0.databaseError = "\(error)" }
                        }
                    case .renew(let lease):
                        let sent = ContinuousClock.now
                        do {
                            if try lease.renew(for: timing.leaseTime, keeper, timeout: timing.statementTimeout) {
                                events.append(.renewed(sentAt: sent))
                                // Taken again if the keeper's connection was replaced.
                                _ = try? lease.holdHint(keeper, timeout: timing.statementTimeout)
                                board.update { $0.databaseError = nil }
                            } else {
                                events.append(.refused)
                            }
                        } catch {
                            events.append(.unreachable("\(error)", at: .now))
                            board.update { $0.databaseError = "\(error)" }
                            logger.warning("lease renewal failed; retrying before the deadline", metadata: ["error": "\(error)"])
                        }
                    case .serve(let lease, let until, let early):
                        journal.hold(lease, until: until)
                        responder?.stop()
                        responder = nil
                        board.update { status in
                            status.role = .active
                            status.epoch = lease.epoch
                            status.activeHolder = name
                            status.until = until
                            status.since = Date()
                        }
                        logger.notice("took the lease; replaying the journal and restoring the queues", metadata: [
                            "broker": "\(name)", "epoch": "\(lease.epoch)", "early": "\(early ? "yes: the active broker's connection was gone" : "no: the lease had run out")",
                        ])
                        do {
                            let ended = try BrokerLease.endOtherProjectors(keeper, timeout: timing.statementTimeout)
                            if ended > 0 {
                                logger.warning("ended the database sessions of a broker cut off in the middle of a projection",
                                               metadata: ["sessions": "\(ended)"])
                            }
                        } catch {
                            logger.warning("could not end other brokers' projection sessions; the replay waits for them", metadata: ["error": "\(error)"])
                        }
                        do {
                            var serving = options
                            serving.configuration = configuration.withLock { $0 }
                            let pending = Starting(engine: try BrokerEngine(options: serving, store: store, journal: journal, logger: logger))
                            starting = pending
                            let thread = Thread { [self] in
                                let result: Result<String, ZMQError>
                                do throws(ZMQError) { result = .success(try pending.engine.start()) } catch { result = .failure(error) }
                                pending.result.withLock { $0 = result }
                                wake.signal()
                            }
                            thread.name = "sb-takeover"
                            thread.start()
                        } catch {
                            giveUp(lease)
                            return .failed("cannot create the broker engine: \(error)")
                        }
                    case .extend(let lease, let until):
                        journal.hold(lease, until: until)
                        board.update { $0.until = until }
                    case .standBy(let reason):
                        journal.hold(nil, until: nil)
                        logger.critical("no longer the active broker: stopped acknowledging; standing by", metadata: ["broker": "\(name)", "reason": "\(reason)"])
                        stopEngine()
                        try? BrokerLease.releaseHint(keeper, timeout: timing.statementTimeout)
                        do {
                            try standBy()
                        } catch {
                            return .failed("cannot bind \(options.endpoint) to stand by: \(error)")
                        }
                    case .release(let lease):
                        journal.hold(nil, until: nil)
                        stopEngine()
                        do {
                            try lease.release(keeper, timeout: timing.statementTimeout)
                            try BrokerLease.releaseHint(keeper, timeout: timing.statementTimeout)
                            logger.notice("lease released: a standby takes over at once", metadata: ["broker": "\(name)", "epoch": "\(lease.epoch)"])
                        } catch {
                            logger.warning("could not release the lease; a standby takes over when it runs out", metadata: ["error": "\(error)"])
                        }
                    }
                }
            }
            if machine.role == .stopped {
                if let starting { _ = waitForStart(starting); starting.engine.stop() }
                responder?.stop()
                board.update { $0.role = .stopped }
                return .stopped
            }
            let wait = max(.milliseconds(5), min(machine.nextWake - .now, .milliseconds(250)))
            _ = self.wake.wait(timeout: .now() + .milliseconds(Int(wait.seconds * 1_000)))
        }
    }

    /// Starts that fail in a row before the process gives up (and its supervisor restarts
    /// it): a failure that passes (a lock held by a broker cut off mid-transaction, ended
    /// by the database after `idle_in_transaction_session_timeout`) is over by the next.
    static let startAttempts = 3

    /// The broker cannot serve (its engine failed): appends stop, and the lease and the
    /// hint lock go at once, so that a standby takes over without waiting for them to run out.
    private func giveUp(_ lease: BrokerLease?) {
        journal.hold(nil, until: nil)
        if let lease { try? lease.release(keeper, timeout: timing.statementTimeout) }
        try? BrokerLease.releaseHint(keeper, timeout: timing.statementTimeout)
    }

    /// Waits for an engine that is starting, so that it can be stopped.
    private func waitForStart(_ starting: Starting) -> Result<String, ZMQError>? {
        while starting.result.withLock({ $0 }) == nil { Thread.sleep(forTimeInterval: 0.01) }
        return starting.result.withLock { $0 }
    }
}
