import Foundation
import DequeModule
import Majordomo
import SwitchboardProtocol
import SwitchboardCore
import ZeroMQ

/// The Majordomo broker as a pure state machine (7/MDP plus 8/MMI).
///
/// It owns no socket and reads no clock: the engine feeds it what arrived on the ROUTER
/// socket, the current time and unroutable peers, and carries out the ``Action``s it
/// returns. That keeps every rule of the protocol testable without ZeroMQ.
///
/// Beyond zguide's reference broker it
/// - records the request each worker holds and puts it back at the *front* of its queue
///   when the worker expires, disconnects or becomes unroutable;
/// - expires requests for services that have no worker at all;
/// - checks for `mmi.` on the service name, and refuses workers for reserved names.
///
/// Besides requests from MDP clients, a service can be fed durable inquiries from
/// ``DepartmentQueues``: client requests go first (they are interactive), then the
/// department's queued inquiries, by priority. A worker acknowledges an inquiry by
/// replying to it; one that dies holding an inquiry has it redelivered, and after
/// `maxDeliveries` attempts the inquiry is parked.
public struct MajordomoBrokerMachine {
    public typealias Instant = ContinuousClock.Instant

    public enum Action: Equatable, Sendable {
        /// Send `frames` to the peer whose routing id is `peer`.
        case send(peer: Frame, frames: [Frame])
        /// Something worth logging or counting happened.
        case report(BrokerEvent)
        /// A request for a service the broker implements itself (`sb.ingest`, …).
        case internalRequest(client: Frame, service: String, body: [Frame])
        /// Hand a stored inquiry to `worker`: load it, send it, record the delivery.
        case deliverInquiry(worker: Frame, department: String, entry: QueueEntry)
        /// A worker replied to a delivered inquiry.
        case inquiryAcknowledged(worker: Frame, department: String, entry: QueueEntry, reply: [Frame])
        /// `worker` left holding an inquiry; it is back in its queue for redelivery.
        case inquiryReleased(worker: Frame, department: String, entry: QueueEntry)
        /// An inquiry failed `maxDeliveries` deliveries (the last to `worker`) and goes to
        /// the dead-letter state.
        case parkInquiry(worker: Frame, department: String, entry: QueueEntry, reason: String)
    }

    /// What a worker holds: a client's request, or a stored inquiry.
    enum Held: Equatable {
        case request(PendingRequest)
        case inquiry(QueueEntry)
    }

    struct PendingRequest: Equatable {
        var client: Frame
        /// What the worker sees as the client's address (see ``token(_:)``).
        var token: Frame
        var body: [Frame]
        var enqueuedAt: Instant
    }

    struct Worker {
        var service: String
        var expiresAt: Instant
        var nextHeartbeatAt: Instant
        /// How many requests it may hold at once: 1 for plain 7/MDP workers.
        var credit: Int
        /// What it holds, oldest first.
        var holding: [Held] = []

        var hasCredit: Bool { holding.count < credit }

        /// Takes what answers `client` (a request's token or an inquiry's delivery
        /// address) out of what it holds, oldest first, with whether it had been full.
        /// A mutating method, so the broker changes the worker where it is stored: reading
        /// it out of the dictionary copied it (with its array) on every message.
        mutating func takeAnswered(by client: Frame) -> (held: Held, wasFull: Bool)? {
            guard let index = holding.firstIndex(where: { held in
                switch held {
                case .request(let request): request.token == client
                case .inquiry(let entry): MajordomoBrokerMachine.deliveryAddress(entry.id) == client
                }
            }) else { return nil }
            let wasFull = !hasCredit
            return (holding.remove(at: index), wasFull)
        }

        /// Hands it `held`; whether it still has credit afterwards.
        mutating func hold(_ held: Held, nextHeartbeatAt: Instant) -> Bool {
            holding.append(held)
            self.nextHeartbeatAt = nextHeartbeatAt
            return hasCredit
        }
    }

    struct Service {
        var requests: Deque<PendingRequest> = []
        /// Workers with credit left, least recently used first.
        var idle: Deque<Frame> = []
        var workerCount = 0
    }

    public private(set) var configuration: BrokerConfiguration
    /// Services answered through ``Action/internalRequest(client:service:body:)``.
    public let internalServices: Set<String>
    private var workers: [Frame: Worker] = [:]
    private var services: [String: Service] = [:]
    private var inquiries = DepartmentQueues()

    public init(configuration: BrokerConfiguration = BrokerConfiguration(), internalServices: Set<String> = []) {
        self.configuration = configuration
        self.internalServices = internalServices
    }

    /// Salts ``token(_:)``, so tokens say nothing about routing ids across brokers or runs.
    private let tokenSalt = UInt64.random(in: .min ... .max)

    /// The client address a worker sees in REQUEST, and echoes in REPLY: an opaque token
    /// for the client, never its routing id. libzmq numbers anonymous peers' ids from a
    /// counter; a worker that saw them could predict the next, connect with it, and make
    /// libzmq abort the broker when the next client arrives.
    public func token(_ client: Frame) -> Frame {
        var hasher = Hasher()
        hasher.combine(tokenSalt)
        hasher.combine(client.bytes)
        let value = UInt64(bitPattern: Int64(hasher.finalize()))
        return Frame(withUnsafeBytes(of: value.bigEndian) { Array($0) })
    }

    /// The client address a delivered inquiry carries in REQUEST, and its REPLY echoes.
    public static func deliveryAddress(_ id: InquiryID) -> Frame { Frame("sb.delivery:\(id)") }

    // MARK: Queries, for tests and statistics

    public var workerCount: Int { workers.count }
    /// A reloaded configuration's limit of deliveries before an inquiry is parked.
    public mutating func setMaxDeliveries(_ count: Int) { configuration.maxDeliveries = count }

    public func workerCount(for service: String) -> Int { services[service]?.workerCount ?? 0 }
    public func queuedRequests(for service: String) -> Int { services[service]?.requests.count ?? 0 }
    public var serviceNames: [String] { services.keys.sorted() }
    public func isWorker(_ peer: Frame) -> Bool { workers[peer] != nil }
    public func readyInquiries(for department: String) -> Int { inquiries.count(department: department) }
    /// Inquiries a service's workers hold, and the credit they announced, together.
    public func load(for service: String) -> (inFlight: Int, credit: Int) {
        workers.values.reduce(into: (0, 0)) { total, worker in
            guard worker.service == service else { return }
            total.0 += worker.holding.count { if case .inquiry = $0 { true } else { false } }
            total.1 += worker.credit
        }
    }
    /// Inquiries handed to a worker and not yet acknowledged.
    public var inquiriesInFlight: Int {
        workers.values.reduce(0) { total, worker in
            total + worker.holding.count { if case .inquiry = $0 { true } else { false } }
        }
    }

    // MARK: Durable inquiries

    /// Takes a queued inquiry out of its department's queue (a claim, a handoff, an
    /// escalation); with the priority it was queued at, without searching the queue.
    public mutating func removeQueuedInquiry(_ id: InquiryID, priority: Priority? = nil, department: String) {
        inquiries.remove(id, priority: priority, department: department)
    }

    /// The ready inquiry of `department` that has waited longest, for its age.
    /// Ready inquiries past their own priority's target, per priority (see DepartmentQueues).
    public func overdueInquiries(department: String, cutoff: (Priority) -> Date) -> [Priority: Int] {
        inquiries.overdue(department: department, cutoff: cutoff)
    }

    /// The longest-waiting ready inquiry of each priority.
    public func oldestPerPriority(department: String) -> [QueueEntry] { inquiries.heads(department: department) }

    public func longestWaiting(department: String) -> QueueEntry? {
        inquiries.longestWaiting(department: department)
    }

    /// The inquiry an agent claiming "the next one" from `department` would get.
    public func nextInquiry(department: String) -> QueueEntry? {
        inquiries.peek(department: department)
    }

    /// Drops an inquiry a worker was given but that cannot be sent (it is gone from the
    /// store), and hands the worker its next request.
    public mutating func forgetHeldInquiry(_ id: InquiryID, worker: Frame, now: Instant) -> [Action] {
        guard let held = workers[worker],
              let index = held.holding.firstIndex(where: { if case .inquiry(let entry) = $0 { entry.id == id } else { false } })
        else { return [] }
        let wasFull = !held.hasCredit
        workers[worker]!.holding.remove(at: index)
        if wasFull { services[held.service]?.idle.append(worker) }
        return dispatch(held.service, now: now)
    }

    /// Puts a stored inquiry back in its queue at start-up, before any worker is known.
    public mutating func restoreInquiry(_ entry: QueueEntry, department: String) {
        inquiries.enqueue(entry, department: department)
    }

    /// Queues a committed inquiry for its department and hands it out if a worker is idle.
    public mutating func enqueueInquiry(_ entry: QueueEntry, department: String, now: Instant) -> [Action] {
        inquiries.enqueue(entry, department: department)
        return dispatch(department, now: now)
    }

    // MARK: Events

    /// A message arrived from `peer` (its routing id stripped off).
    public mutating func receive(from peer: Frame, frames: [Frame], now: Instant) -> [Action] {
        let inbound: BrokerInbound
        do {
            inbound = try BrokerInbound(frames: frames)
        } catch {
            var actions: [Action] = [.report(.malformed(peer: peer, error: error))]
            if workers[peer] != nil {
                // 7/MDP: treat a peer that sends invalid messages as invalid.
                actions += disconnect(peer, reason: .malformed, now: now)
            }
            return actions
        }
        switch inbound {
        case .client(let message): return clientRequest(from: peer, message, now: now)
        case .worker(let command): return workerCommand(from: peer, command, now: now)
        }
    }

    /// Sending to `peer` failed: it is gone (`EHOSTUNREACH`) or hopelessly backed up.
    public mutating func peerUnreachable(_ peer: Frame, now: Instant) -> [Action] {
        if workers[peer] != nil { return removeWorker(peer, reason: .unreachable, now: now) }
        return [.report(.clientUnreachable(client: peer))]
    }

    /// Moves every worker's expiry on by `duration`: the broker was not reading, so their
    /// silence tells nothing.
    public mutating func postponeExpiry(by duration: Duration) {
        for id in Array(workers.keys) { workers[id]!.expiresAt = workers[id]!.expiresAt + duration }
    }

    /// Time passed: expire silent workers and unserved requests, and send heartbeats.
    public mutating func tick(now: Instant) -> [Action] {
        var actions: [Action] = []
        for (id, worker) in workers where worker.expiresAt <= now {
            actions += removeWorker(id, reason: .expired, now: now)
        }
        for id in workers.keys where workers[id]!.nextHeartbeatAt <= now {
            workers[id]!.nextHeartbeatAt = now + configuration.heartbeatInterval
            actions.append(.send(peer: id, frames: WorkerCommand.heartbeat.frames))
        }
        for name in Array(services.keys) {
            // Taken out, not copied: a copy would share its queues, and changing one
            // would copy it whole.
            guard var service = services.removeValue(forKey: name) else { continue }
            if service.workerCount == 0 {
                while let first = service.requests.first,
                      now - first.enqueuedAt >= configuration.unservedRequestTimeout {
                    service.requests.removeFirst()
                    actions.append(.report(.requestExpired(service: name, client: first.client)))
                }
            }
            services[name] = service.workerCount == 0 && service.requests.isEmpty ? nil : service
        }
        return actions
    }

    // MARK: Clients

    private mutating func clientRequest(from client: Frame, _ message: ClientMessage, now: Instant) -> [Action] {
        let name = message.service
        if internalServices.contains(name) {
            return [.internalRequest(client: client, service: name, body: message.body)]
        }
        if name.hasPrefix(MDP.mmiPrefix) {
            return [.send(peer: client, frames: ClientMessage(service: name, body: [mmiReply(name, message.body)]).frames)]
        }
        if name.hasPrefix(ServiceName.switchboardPrefix) || name.hasPrefix(ServiceName.outboundPrefix) {
            return [
                .send(peer: client, frames: ClientMessage(service: name, body: [MMI.notImplemented]).frames),
                .report(.unknownReservedService(client: client, service: name)),
            ]
        }
        guard services[name, default: Service()].requests.count < configuration.maxQueuedRequestsPerService else {
            return [.report(.queueFull(service: name, client: client))]
        }
        services[name, default: Service()].requests.append(PendingRequest(client: client, token: token(client), body: message.body, enqueuedAt: now))
        return dispatch(name, now: now)
    }

    private func mmiReply(_ service: String, _ body: [Frame]) -> Frame {
        guard service == MMI.service else { return MMI.notImplemented }
        guard let asked = body.first?.string, workerCount(for: asked) > 0 else { return MMI.notFound }
        return MMI.found
    }

    // MARK: Workers

    private mutating func workerCommand(from peer: Frame, _ command: WorkerCommand, now: Instant) -> [Action] {
        // Workers are mutated in place through the dictionary: copying one out and back
        // would copy its array of held requests on every message.
        guard workers[peer] != nil else {
            switch command {
            case .ready(let service, let credit):
                return register(peer, service: service, credit: credit, now: now)
            case .disconnect:
                return []
            default:
                // A command before READY: valid, but unexpected.
                return [
                    .report(.unexpectedCommand(peer: peer, command: command.name)),
                    .send(peer: peer, frames: WorkerCommand.disconnect.frames),
                ]
            }
        }
        workers[peer]!.expiresAt = now + configuration.workerExpiry
        switch command {
        case .heartbeat:
            return []
        case .disconnect:
            return removeWorker(peer, reason: .disconnected, now: now)
        case .reply(let client, let body):
            // The oldest held request from this client (or the inquiry with this
            // delivery address) is the one answered.
            guard let (held, wasFull) = workers[peer]!.takeAnswered(by: client) else {
                return [.report(.unexpectedCommand(peer: peer, command: command.name))]
                    + disconnect(peer, reason: .protocolViolation, now: now)
            }
            let service = workers[peer]!.service
            let answered: Action = switch held {
            case .request(let request): .send(peer: request.client, frames: ClientMessage(service: service, body: body).frames)
            case .inquiry(let entry): .inquiryAcknowledged(worker: peer, department: service, entry: entry, reply: body)
            }
            if wasFull { services[service]?.idle.append(peer) }
            var actions = dispatch(service, now: now)
            actions.insert(answered, at: 0)
            return actions
        case .ready, .request:
            return [.report(.unexpectedCommand(peer: peer, command: command.name))]
                + disconnect(peer, reason: .protocolViolation, now: now)
        }
    }

    private mutating func register(_ peer: Frame, service name: String, credit: Int, now: Instant) -> [Action] {
        guard !ServiceName.isBrokers(name) else {
            return [
                .report(.reservedServiceRefused(worker: peer, service: name)),
                .send(peer: peer, frames: WorkerCommand.disconnect.frames),
            ]
        }
        workers[peer] = Worker(
            service: name,
            expiresAt: now + configuration.workerExpiry,
            nextHeartbeatAt: now + configuration.heartbeatInterval,
            credit: credit
        )
        var service = services.removeValue(forKey: name) ?? Service()
        service.workerCount += 1
        service.idle.append(peer)
        services[name] = service
        return [.report(.workerReady(worker: peer, service: name))] + dispatch(name, now: now)
    }

    /// Sends DISCONNECT to a known worker and forgets it.
    private mutating func disconnect(_ peer: Frame, reason: WorkerGoneReason, now: Instant) -> [Action] {
        [.send(peer: peer, frames: WorkerCommand.disconnect.frames)] + removeWorker(peer, reason: reason, now: now)
    }

    /// Forgets a worker; a request it held goes back to the front of its queue.
    private mutating func removeWorker(_ peer: Frame, reason: WorkerGoneReason, now: Instant) -> [Action] {
        guard let worker = workers.removeValue(forKey: peer) else { return [] }
        var actions: [Action] = [.report(.workerGone(worker: peer, service: worker.service, reason: reason))]
        var service = services.removeValue(forKey: worker.service) ?? Service()
        service.workerCount -= 1
        if let index = service.idle.firstIndex(of: peer) { service.idle.remove(at: index) }
        // Newest first, so that after prepending the oldest is at the front again.
        for held in worker.holding.reversed() {
            switch held {
            case .request(let request):
                service.requests.prepend(request)
                actions.append(.report(.requestRequeued(service: worker.service, client: request.client)))
            case .inquiry(let entry) where Int(entry.deliveries) >= configuration.maxDeliveries:
                let reason = "not acknowledged after \(entry.deliveries) deliveries; last worker \(reason.rawValue)"
                actions.append(.parkInquiry(worker: peer, department: worker.service, entry: entry, reason: reason))
            case .inquiry(let entry):
                inquiries.requeueAtFront(entry, department: worker.service)
                actions.append(.inquiryReleased(worker: peer, department: worker.service, entry: entry))
            }
        }
        services[worker.service] = service
        return actions + dispatch(worker.service, now: now)
    }

    /// Hands queued client requests, then queued inquiries, to workers with credit,
    /// least recently used first. A worker with credit left after a hand-out goes to
    /// the back of the line, so credited workers share the load round robin.
    private mutating func dispatch(_ name: String, now: Instant) -> [Action] {
        guard services[name] != nil else { return [] }
        var actions: [Action] = []
        // The service is mutated in place (see workerCommand) rather than copied out.
        let heartbeat = now + configuration.heartbeatInterval
        while let id = services[name]!.idle.first {
            let stillHasCredit: Bool
            if let request = services[name]!.requests.popFirst() {
                stillHasCredit = workers[id]!.hold(.request(request), nextHeartbeatAt: heartbeat)
                actions.append(.send(peer: id, frames: WorkerCommand.request(client: request.token, body: request.body).frames))
            } else if var entry = inquiries.next(department: name) {
                entry.deliveries &+= 1
                stillHasCredit = workers[id]!.hold(.inquiry(entry), nextHeartbeatAt: heartbeat)
                actions.append(.deliverInquiry(worker: id, department: name, entry: entry))
            } else {
                break
            }
            services[name]!.idle.removeFirst()
            if stillHasCredit { services[name]!.idle.append(id) }
        }
        return actions
    }
}

/// Why the broker forgot a worker.
public enum WorkerGoneReason: String, Equatable, Sendable {
    case expired, disconnected, unreachable, malformed
    case protocolViolation = "protocol-violation"
}

/// What the broker reports for logging and statistics. Never carries a message body.
public enum BrokerEvent: Equatable, Sendable {
    case workerReady(worker: Frame, service: String)
    case workerGone(worker: Frame, service: String, reason: WorkerGoneReason)
    case requestRequeued(service: String, client: Frame)
    case requestExpired(service: String, client: Frame)
    case queueFull(service: String, client: Frame)
    case clientUnreachable(client: Frame)
    case malformed(peer: Frame, error: MDPError)
    case unexpectedCommand(peer: Frame, command: String)
    case reservedServiceRefused(worker: Frame, service: String)
    case unknownReservedService(client: Frame, service: String)
}
