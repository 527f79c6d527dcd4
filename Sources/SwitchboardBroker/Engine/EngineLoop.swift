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

/// The state the engine thread owns: its sockets, the machines and the lanes' mailboxes;
/// here the loop and its turns. The rest of it is in three files: the dispatcher of the
/// broker's own services with the access policy (`EngineLoop+Services`), the interpreter
/// of the machines' actions (`EngineLoop+Actions`) and the operations snapshot
/// (`EngineLoop+Stats`).
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
    /// Agents' moves and operators' requeues waiting in the load lane. While any does, a
    /// later move goes there too, even for an inquiry in memory: the lane answers in
    /// order, and a move made at once could overtake one sent before it (a claim read for
    /// its envelope, then a handoff of the same inquiry made while it was read).
    var movesReading = 0
    /// The journal position durable when each job still in the load lane was submitted,
    /// oldest first (the lane answers in order).
    var loadsOnTheirWay: Deque<UInt64> = []
    /// Deliveries handed to a worker and not yet made: their inquiry is on its way from
    /// the load lane, or the store could not be read. The inquiry is still queued; an
    /// entry the worker gave back meanwhile (it left) is no longer here, and its read is
    /// let go. Keyed by worker too: the same entry may be handed to a second worker (after
    /// a handoff and back) before the first read is back.
    var deliveriesReading: Set<DeliveryRead> = []

    struct DeliveryRead: Hashable {
        var id: InquiryID
        var worker: Frame
    }
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
        let helpers = [writerPipe, readsPipe, zap, monitor, recordsPipe, projectorPipe, loadsPipe] + (publisher.map { [$0] } ?? [])
        var all = Poller([router, pipe] + helpers)
        var paused = Poller([pipe] + helpers)
        inquiries.subscriptions = .none
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
            if readable.count > 9, readable[9] { takeSubscriptions() }
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

    /// Subscriptions and unsubscriptions on the event stream: the inquiry machine writes
    /// timeline events only while someone would receive them.
    mutating func takeSubscriptions() {
        guard let publisher else { return }
        var subscriptions = inquiries.subscriptions
        while let message = try? publisher.receive(.nonBlocking) {
            if let frame = message.first { subscriptions.apply(frame.bytes) }
        }
        inquiries.subscriptions = subscriptions
    }

    /// Reads for up to 5 ms, or until the open batch is full.
    mutating func readTurn() {
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
    mutating func admitted(_ peer: Frame, _ frames: [Frame], now: ContinuousClock.Instant) -> Bool {
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
    mutating func deny(_ peer: Frame, _ role: String, needed: String, service: String?, now: ContinuousClock.Instant) {
        denials[role, default: 0] += 1
        let (allowed, _) = warnings.allow(peer, now: now)
        guard allowed else { return }
        logger.warning("request denied", metadata: [
            "key": "\(sender?.name ?? "-")", "role": "\(role)", "needs": "\(needed)",
            "mdp.service": "\(service.map(MDP.loggable) ?? "-")",
        ])
    }

    /// Hands the open batch to the writer, unless it already has enough waiting.
    mutating func sealTurn() {
        let pending = inquiries.pendingBatches
        guard pending == 0 || (pending < options.maxPendingBatches && inquiries.openBatchSize.rows >= options.secondBatchRows),
              let (sequence, batch) = inquiries.sealBatch() else { return }
        writer.submit(sequence, batch)
    }

    mutating func takeWriterOutcomes() {
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

    mutating func takeProjectorOutcomes() {
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

    /// Applies the connection limits as libzmq accepts and closes connections.
    mutating func watchConnections() {
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
    func answerZAP() {
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
    mutating func takeRecordsResults() {
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

    mutating func sendReadAnswers() {
        while (try? readsPipe.receive(.nonBlocking)) != nil {}
        let now = ContinuousClock.now
        for answer in reads.takeAnswers() {
            perform(send(answer.client, ClientMessage(service: answer.service, body: [answer.frame]).frames, now: now), now: now)
        }
    }

    /// Sends the ingest answers their departments' workers have made room for, or all
    /// of a department's once no worker serves it.
    mutating func releaseHeldAnswers(now: ContinuousClock.Instant) {
        for department in flow.throttledDepartments {
            send(flow.release(department, ready: mdp.readyInquiries(for: department), workers: mdp.workerCount(for: department)), now: now)
        }
    }

    mutating func send(_ answers: [IngestFlowControl.Answer], now: ContinuousClock.Instant) {
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

    /// Asks the load lane for the claims whose lease expired and the inquiries whose SLA
    /// alert is due, with the inquiries; ``takeLoads()`` runs them. At most
    /// ``timersPerTick`` of each a tick: after a restart a backlog past its targets makes
    /// every queued inquiry due at once (an SLA storm), and what is left is still due at
    /// the next tick.
    mutating func runTimers() {
        guard !timersReading else { return }
        timersReading = submitLoad(.timers(before: clock.now(), limit: Self.timersPerTick))
    }

    /// In an SLA storm each due inquiry is an alert, often an escalation, and a row the
    /// projector rewrites: on a store of 10 million with 1 million due, 200 a tick cut
    /// durable ingest to a third (3,062/s), 50 kept 5,967/s (`--stored`).
    static let timersPerTick = 50


    /// Loads an inquiry the machine does not hold. A read failure leaves it unloaded,
    /// and the machine answers as for an unknown inquiry or skips the entry.
    /// - Returns: false when the store could not be read (as opposed to holding no such
    ///   inquiry): the caller must then leave queue entries where they are.
    @discardableResult
    mutating func ensureLoaded(_ id: InquiryID, body: Bool = false) -> Bool {
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

    /// Before reading again an inquiry the projection did not hold (accepted a moment ago,
    /// its envelope past the memory budget), waits for the projection, briefly: rare, and
    /// the projector is usually a few milliseconds behind.
    /// Returns whether it waited (and so whether reading again may find more).
    func awaitProjection() -> Bool {
        let progress = projector.progress
        let committed = progress.committed
        guard progress.projected < committed else { return false }
        progress.wait(until: committed, timeout: .milliseconds(500))
        return true
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
    var gatewaysOnline: Set<Platform> {
        Set(Platform.allCases.filter { mdp.workerCount(for: ServiceName.outbound($0.rawValue)) > 0 })
    }
}
