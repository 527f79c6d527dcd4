import Foundation
import SwitchboardCore
import SwitchboardProtocol
import ZeroMQ

/// Replies and questions for the publishing gateways: queued by a move, handed to a
/// gateway, posted or not, and a platform's later word on them.
extension InquiryMachine {
    // MARK: Outbound messages

    mutating func deliverOutbound(_ entry: QueueEntry, service: String, to worker: Frame) -> [Action] {
        guard let post = outbound.post(entry.id) else { return [.forgetHeld(id: entry.id, worker: worker)] }
        return [.deliver(worker: worker, id: entry.id, body: post)]
    }

    /// The inquiry an outbound message belongs to, if the message is pending.
    func inquiry(ofMessage id: InquiryID) -> InquiryID? { outbound.inquiry(ofMessage: id) }

    /// The publishing gateway answered for the message: it posted it, or it could not
    /// (`{"status": "failed", "code": …, "reason": …}`), and the agent must see why. If a
    /// posted message's REPLY names the post (`{"external_id": …}`), a citizen's answer to
    /// that post threads back.
    mutating func outboundSent(_ entry: QueueEntry, worker: Frame, reply: [Frame], now: Date) -> [Action] {
        guard let message = outbound.answered(entry.id) else { return [] }
        let answer = OutboundDesk.GatewayAnswer(reply.map(\.bytes))
        guard case .posted(let posted) = answer else {
            if case .failed(let code, let reason) = answer {
                pipeline.open.store.markEnded(message.id, .failed, at: Timestamp.format(now), code: code, reason: reason)
                notDelivered(message, code: code, reason: reason, by: .worker(Self.workerName(worker)), at: now)
            }
            return []
        }
        let sentAt = Timestamp.format(now)
        pipeline.open.store.markSent(message.id, at: sentAt, postedAs: posted)
        outbound.posted(message, as: posted, at: sentAt, inBatch: pipeline.nextSequence)
        if let posted, memory[message.inquiry]?.record.lifecycle.state == .awaitingCitizen {
            posts.await(message.inquiry, at: DeduplicationKey(platform: message.platform, externalID: posted))
        }
        note(message.inquiry, event: message.kind == .answer ? "reply.sent" : "question.sent", actor: .worker(Self.workerName(worker)), note: nil, at: now)
        return []
    }

    /// The citizen was not answered: the timeline says why, and the inquiry does not count
    /// as answered (nor as waiting for the citizen): it goes back to its queue for a person.
    private mutating func notDelivered(_ message: OutboundMessage, code: String, reason: String, by actor: Actor, at now: Date) {
        note(message.inquiry, event: message.kind == .answer ? "reply.failed" : "question.failed",
             actor: actor, note: "not delivered (\(code)): \(reason)", at: now)
        if var record = memory[message.inquiry]?.record, [.answered, .closed, .awaitingCitizen].contains(record.lifecycle.state) {
            _ = try? move(&record, .reopen(note: "the \(message.kind == .answer ? "reply" : "question") was not delivered (\(code))"),
                          by: .system, at: now)
        }
    }

    /// `sb.outbound.status`: a platform's later word on posted messages: those the store
    /// found for `query` (the engine loaded their inquiries), and those posted since the
    /// projection last caught up. Delivered and read show in the timeline once each; a
    /// failure after all is handled as a failure document is.
    mutating func outboundStatus(client: Frame, status: OutboundStatusRequest.Status, code: String?, reason: String?,
                                 stored: [OutboundMessage], query: OutboundMessageQuery, by gateway: String, now: Date) -> [Action] {
        let service = InquiryService.outboundStatus
        guard !storeUnavailable else { return [refuse(client, service, .unavailable)] }
        let found = Set(stored.map(\.id))
        let messages = stored + outbound.postedLately(query).filter { !found.contains($0.id) }
        guard let first = messages.first else { return [refuse(client, service, .model(OutboundStatusAnswer(messageID: nil)))] }
        for message in messages { mark(message, status, code: code, reason: reason, by: gateway, now: now) }
        pipeline.open.held.append(.reply(client: client, service: service, .model(OutboundStatusAnswer(messageID: first.id.description)),
                                       inquiry: nil))
        return []
    }

    /// One message's later status, once.
    private mutating func mark(_ message: OutboundMessage, _ status: OutboundStatusRequest.Status, code: String?, reason: String?,
                               by gateway: String, now: Date) {
        if outbound.isFirst(status, of: message.id) {
            let at = Timestamp.format(now)
            switch status {
            case .delivered, .read:
                pipeline.open.store.markStatus(message.id, status.rawValue, at: at)
                note(message.inquiry, event: "\(message.kind == .answer ? "reply" : "question").\(status.rawValue)", actor: .system, note: nil, at: now)
            case .failed:
                let code = code ?? ErrorCode.rejectedByPlatform.rawValue, reason = reason ?? "the platform did not say why"
                pipeline.open.store.markStatus(message.id, "failed", at: at, code: code, reason: reason)
                notDelivered(message, code: code, reason: reason, by: .worker(gateway), at: now)
            }
        }
    }

    /// Queues a message for the platform's publishing gateway. With no gateway connected it
    /// is held, and says so at once: in the move's answer, the timeline and the stream.
    mutating func send(_ kind: OutboundMessage.Kind, text: String, account: String, for record: LifecycleRecord, key: DeduplicationKey,
                               by actor: Actor, at now: Date) {
        // `{case}` in a reply or question is the case number, for the citizen to quote.
        let text = text.replacingOccurrences(of: "{case}", with: configuration.caseNumbering.format(record.caseNumber))
        var message = OutboundMessage(id: InquiryID.generate(at: now), inquiry: record.id, kind: kind, platform: key.platform,
                                      account: account, inReplyTo: key.externalID, text: text, author: "\(actor)")
        // Whom a direct message goes to, and in which conversation.
        message.recipient = memory[record.id]?.author
        message.thread = memory[record.id]?.thread
        pipeline.open.store.queue(message)
        pipeline.open.held.append(.enqueue(department: message.service, entry: QueueEntry(id: message.id, priority: record.priority)))
        let queued = outbound.queue(message)
        queuedByMove = queued
        if let held = queued.note {
            note(record.id, event: kind == .answer ? "reply.held" : "question.held", actor: .system, note: held, at: now)
        }
    }

    /// Questions not yet posted when the conversation moved on (the citizen wrote, or the
    /// inquiry was closed) are cancelled: a gateway that connects later must not ask a
    /// question nobody waits for.
    mutating func cancelUnsentQuestions(of id: InquiryID, because reason: String, at now: Date) {
        for message in outbound.cancelQuestions(of: id) {
            pendingDequeues.append((message.id, message.service, nil))
            pipeline.open.store.markEnded(message.id, .cancelled, at: Timestamp.format(now), reason: reason)
            note(id, event: "question.cancelled", actor: .system, note: "not posted: \(reason)", at: now)
        }
    }
}
