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

/// The interpreter: what the machines decide, carried out on the engine's sockets.
extension EngineLoop {
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
                } else if !inquiries.needsLoad(entry.id) && !inquiries.needsBody(entry.id) {
                    carryOut(inquiries.deliver(entry, department: department, to: worker, now: clock.now()), now: now)
                } else if submitLoad(.delivery(worker: worker, department: department, entry: entry)) {
                    // Read by the load lane; the worker holds the entry meanwhile.
                    deliveriesReading.insert(DeliveryRead(id: entry.id, worker: worker))
                } else if ensureLoaded(entry.id, body: true) {
                    // Too many reads wait in the lane: read here.
                    carryOut(inquiries.deliver(entry, department: department, to: worker, now: clock.now()), now: now)
                } else {
                    // The store cannot be read: treating the worker as gone puts what it
                    // holds back at the front of the queue, with no tight retry loop (it
                    // re-registers after DISCONNECT). Never delivered, it stays queued.
                    deliveriesReading.insert(DeliveryRead(id: entry.id, worker: worker))
                    pending.append(contentsOf: mdp.peerUnreachable(worker, now: now))
                }
            case .inquiryAcknowledged(let worker, let department, let entry, let reply):
                if InquiryService.isOutbound(department) {
                    // A reply's inquiry was answered, and let go of once projected: the load
                    // lane reads it for the timeline (too many reads waiting: read here).
                    if let inquiry = inquiries.inquiry(ofMessage: entry.id), inquiries.needsLoad(inquiry) {
                        if submitLoad(.outboundAnswer(worker: worker, entry: entry, reply: reply, inquiry: inquiry, at: clock.now())) { continue }
                        ensureLoaded(inquiry)
                    }
                    carryOut(inquiries.outboundSent(entry, worker: worker, reply: reply, now: clock.now()), now: now)
                } else {
                    ensureLoaded(entry.id)
                    inquiries.gatewaysOnline = gatewaysOnline
                    carryOut(inquiries.workerReplied(entry, department: department, worker: worker, reply: reply, now: clock.now()), now: now)
                }
            case .inquiryReleased(let worker, let department, let entry):
                guard !InquiryService.isOutbound(department) else { continue }
                // Never delivered (its read was on its way): the inquiry is still queued,
                // and the delivery queue has put the entry back.
                if deliveriesReading.remove(DeliveryRead(id: entry.id, worker: worker)) != nil { continue }
                ensureLoaded(entry.id)
                carryOut(inquiries.workerLeft(holding: entry, department: department, now: clock.now()), now: now)
            case .parkInquiry(let worker, let department, let entry, let reason):
                guard !InquiryService.isOutbound(department) else {
                    // A message to a citizen is never dropped: it waits for a gateway
                    // that stays up, with a fresh count.
                    logger.warning("outbound message requeued after repeated gateway failures", metadata: [
                        "message.id": "\(entry.id)", "mdp.service": "\(department)", "reason": "\(reason)",
                    ])
                    pending.append(contentsOf: mdp.enqueueInquiry(QueueEntry(id: entry.id, priority: entry.priority), department: department, now: now))
                    continue
                }
                if deliveriesReading.remove(DeliveryRead(id: entry.id, worker: worker)) != nil {
                    // Its last hand-out was never delivered: not a failed delivery. Back in
                    // its queue, without counting that one.
                    let uncounted = QueueEntry(id: entry.id, priority: entry.priority, deliveries: max(entry.deliveries, 1) - 1)
                    pending.append(contentsOf: mdp.enqueueInquiry(uncounted, department: department, now: now))
                    continue
                }
                ensureLoaded(entry.id)
                carryOut(inquiries.park(entry, department: department, reason: reason, now: clock.now()), now: now)
            }
        }
    }

    /// Logs an MDP event; warnings a peer causes are rate-limited.
    mutating func report(_ event: BrokerEvent, now: ContinuousClock.Instant) {
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
            case .reply(let client, let service, let answer):
                reply(client, service, answer, now: now)
            case .deliver(let worker, let id, let body):
                let request = WorkerCommand.request(client: MajordomoBrokerMachine.deliveryAddress(id), body: [Frame(body)])
                perform(send(worker, request.frames, now: now), now: now)
            case .answerIngest(let client, let service, let answer, let department):
                let frames = ClientMessage(service: service, body: [answer.frame]).frames
                send(flow.answered(IngestFlowControl.Answer(client: client, frames: frames), department: department,
                                   ready: mdp.readyInquiries(for: department), workers: mdp.workerCount(for: department)), now: now)
            case .enqueue(let department, let entry):
                perform(mdp.enqueueInquiry(entry, department: department, now: now), now: now)
            case .dequeue(let id, let department, let priority):
                mdp.removeQueuedInquiry(id, priority: priority, department: department)
            case .forgetHeld(let id, let worker):
                perform(mdp.forgetHeldInquiry(id, worker: worker, now: now), now: now)
            case .publish(let event):
                publish(event)
            case .log(let event):
                event.log(to: logger)
            case .findOriginal(let key, let known, let client, let body):
                // The load lane finds the post's inquiry; the edit is ingested again then.
                if !submitLoad(.original(key: key, known: known, client: client, body: body)) {
                    reply(client, InquiryService.ingest, .unavailable, now: now)
                }
            }
        }
    }

    mutating func send(_ peer: Frame, _ frames: [Frame], now: ContinuousClock.Instant) -> [MajordomoBrokerMachine.Action] {
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
    mutating func announce(_ changes: [AccountAuthorizations.Change], at wall: Date) {
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

    func channelID(of change: AccountAuthorizations.Change) -> String? {
        switch inquiries.registry.verify(ChannelHandle(platform: change.account.platform, change.account.handle)) {
        case .official(let entry), .inactive(let entry): return entry.id
        case .lookalike, .unknown: return nil
        }
    }

    mutating func publish(_ event: BrokerStreamEvent) {
        guard let publisher else { return }
        do {
            try publisher.send(event.frames, dontWait: true)
        } catch {
            eventsDropped += 1
            logger.warning("event dropped", metadata: ["event": "\(event.topic)", "error": "\(error)"])
        }
    }
}
