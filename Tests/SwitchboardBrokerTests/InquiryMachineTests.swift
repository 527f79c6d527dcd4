import Foundation
import Majordomo
import SwitchboardCore
import SwitchboardProtocol
import Testing
import TestSupport
import ZeroMQ
@testable import SwitchboardBroker

/// The inquiry side's decisions, tested by feeding events and reading actions: no
/// sockets and no database. The batch pipeline is driven by hand (seal, then commit or
/// fail); what the batches wrote is folded into plain values (``WrittenBatches``), which
/// is also where inquiries at rest are read back from, as the engine reads the projection.
@Suite struct InquiryMachineTests {
    typealias Action = InquiryMachine.Action
    var machine: InquiryMachine
    let now = Date(timeIntervalSince1970: 1_800_000_000)
    let gateway: Frame = "gateway"
    let agentClient: Frame = "agent-client"

    var written = WrittenBatches()

    init() throws {
        machine = InquiryMachine(configuration: try SwitchboardConfiguration.parse(yaml: Cities.handoff))
        // The registry is seeded from the configuration's accounts, as at a first start.
        #expect(machine.restoreRegistry([], now: now).isEmpty)
        if let (_, batch) = machine.sealBatch() { _ = written.commit(batch) }
    }

    // MARK: Helpers

    static func replies(_ actions: [Action]) -> [[String: Any]] {
        actions.compactMap { action -> [String: Any]? in
            let sent: InquiryReply
            switch action {
            case .reply(_, _, let reply), .answerIngest(_, _, let reply, _): sent = reply
            default: return nil
            }
            guard let object = try? JSONSerialization.jsonObject(with: Data(sent.frame.bytes)) as? [String: Any] else { return nil }
            return object
        }
    }

    static func enqueued(_ actions: [Action]) -> [(String, InquiryID)] {
        actions.compactMap { if case .enqueue(let department, let entry) = $0 { (department, entry.id) } else { nil } }
    }

    static func dequeued(_ actions: [Action]) -> [(InquiryID, String)] {
        actions.compactMap { if case .dequeue(let id, let department, _) = $0 { (id, department) } else { nil } }
    }

    /// Seals the open batch and reports it committed; returns what was released.
    mutating func commit() -> [Action] {
        guard let (sequence, batch) = machine.sealBatch() else { return [] }
        return machine.committed(sequence, result: written.commit(batch))
    }

    /// What the engine does before an event about an inquiry the machine let go of.
    mutating func load(_ id: InquiryID) {
        if machine.needsLoad(id), let stored = written.inquiry(id) { machine.load(stored) }
    }

    mutating func ingest(_ externalID: String, text: String = "My bin was not collected") -> InquiryID? {
        let body = Frame(#"{"source":{"platform":"x","account":"@RivertonCity","external_id":"\#(externalID)"},"author":{"handle":"@resident"},"text":"\#(text)","captured_at":"2026-11-22T09:30:00Z"}"#)
        #expect(machine.ingest(client: gateway, body: [body], now: now).isEmpty)
        let released = commit()
        return Self.replies(released).first.flatMap { ($0["id"] as? String).flatMap { InquiryID($0) } }
    }

    mutating func agent(_ service: AgentService, _ fields: [String: Any], next: InquiryID? = nil) -> (answer: [String: Any], actions: [Action]) {
        let body = Frame(bytes: try! JSONSerialization.data(withJSONObject: fields))
        let request = try! AgentRequest([body])
        if let id = try? request.optionalID() { load(id) }
        var actions = machine.agent(client: agentClient, service: service, request: request, next: next, now: now)
        actions = machine.takeDequeues() + actions
        let refused = Self.replies(actions).first
        let released = commit()
        return (refused ?? Self.replies(released).first ?? [:], actions + released)
    }

    // MARK: Ingest

    @Test mutating func nothingIsAnsweredOrQueuedBeforeItsBatchIsDurable() throws {
        let body = Frame(#"{"source":{"platform":"x","account":"@RivertonCity","external_id":"1"},"author":{"handle":"@a"},"text":"hello","captured_at":"2026-11-22T09:30:00Z"}"#)
        #expect(machine.ingest(client: gateway, body: [body], now: now).isEmpty)
        let sealed = machine.sealBatch()
        let (sequence, batch) = try #require(sealed)
        #expect(batch.inserts.count == 1)
        #expect(batch.timeline.map(\.event) == ["inquiry.routed"])
        let released = machine.committed(sequence, result: CommitResult())
        #expect(Self.replies(released).first?["status"] as? String == "accepted")
        #expect(Self.enqueued(released).map(\.0) == ["front-office"])
    }

    /// Timeline events are written only for topics someone subscribed to; the timeline
    /// itself is stored whatever the stream's subscribers want.
    @Test mutating func timelineEventsFollowTheStreamsSubscriptions() throws {
        func topics(_ actions: [Action]) -> [String] {
            actions.compactMap { if case .publish(let event) = $0 { event.topic } else { nil } }
        }
        machine.subscriptions = .none
        #expect(machine.ingest(client: gateway, body: [envelope("quiet")], now: now).isEmpty)
        let quietBatch = machine.sealBatch()
        let (quiet, batch) = try #require(quietBatch)
        #expect(batch.timeline.map(\.event) == ["inquiry.routed"], "stored without a subscriber")
        #expect(topics(machine.committed(quiet, result: CommitResult())).isEmpty)

        var subscriptions = StreamSubscriptions.none
        let subscribed = subscriptions.apply([1] + Array("inquiry.".utf8)), other = subscriptions.apply(Array("not a subscription".utf8))
        #expect(subscribed && !other)
        machine.subscriptions = subscriptions
        #expect(machine.ingest(client: gateway, body: [envelope("heard")], now: now).isEmpty)
        #expect(topics(commit()) == ["inquiry.routed"])
        #expect(subscriptions.wants("inquiry.claimed") && !subscriptions.wants("reply.sent") && !subscriptions.wants("inquiry"))
        let unsubscribed = subscriptions.apply([0] + Array("inquiry.".utf8))
        #expect(unsubscribed && subscriptions == .none)
        let all = subscriptions.apply([1])
        #expect(all && subscriptions == .everything && subscriptions.wants("reply.sent"))
    }

    /// Ingest answers are written by hand for speed; each shape must decode into the
    /// wire model that gateways and the CLI decode, field for field.
    @Test func everyIngestAnswerDecodesIntoTheWireModel() throws {
        let id = InquiryID(high: 1, low: 2), earlier = InquiryID(high: 3, low: 4)
        let key = DeduplicationKey(platform: .mastodon, externalID: "post \"7\"")
        func decoded(_ reply: InquiryReply) throws -> IngestAnswer {
            try JSONDecoder().decode(IngestAnswer.self, from: Data(reply.frame.bytes))
        }
        #expect(try decoded(.accepted(id: id, key: key, department: "roads", priority: .urgent))
            == IngestAnswer(status: .accepted, id: id.description, department: "roads", priority: "urgent", platform: "mastodon", externalID: key.externalID))
        let original = DuplicateOf(id: earlier, department: "waste", priority: .normal)
        #expect(try decoded(.duplicate(of: original, key: key))
            == IngestAnswer(status: .duplicate, id: earlier.description, duplicateOf: earlier.description, department: "waste", priority: "normal",
                            platform: "mastodon", externalID: key.externalID))
        #expect(try decoded(.threaded(into: original, key: key)).threadOf == earlier.description)
        let rejected = try decoded(.rejected(IngestError(.textTooLong, field: "text", "text is longer than 5000 characters")))
        #expect(rejected.status == .rejected && rejected.error == ErrorDetail(code: .textTooLong, message: "text is longer than 5000 characters", field: "text"))
        #expect(try decoded(.unavailable).error?.code == .storeUnavailable)
        let refusal = try JSONDecoder().decode(ErrorAnswer.self, from: Data(InquiryReply.lifecycleError(
            .invalidTransition(state: .queued, command: "close", allowed: ["claim"]), allowed: ["claim"]).frame.bytes))
        #expect(refusal.error.code == .invalidTransition && refusal.error.state == "queued" && refusal.error.allowed == ["claim"])
    }

    /// The hand-written timestamps equal Foundation's ISO 8601 with milliseconds, over
    /// leap days, century years, the epoch and times before it.
    @Test func timestampsAreFoundationsISO8601() {
        let style = Date.ISO8601FormatStyle(includingFractionalSeconds: true)
        var generator = SeededGenerator(seed: 9)
        var seconds: [Double] = [0, -0.001, -86_400, 951_782_400, 951_868_799.999, 4_107_542_400, 1_795_496_750.8370662, 253_402_300_799.999]
        seconds += (0..<2_000).map { _ in Double.random(in: -2_000_000_000...4_000_000_000, using: &generator) }
        for value in seconds {
            let date = Date(timeIntervalSince1970: value)
            #expect(Timestamp.format(date) == style.format(date), "at \(value)")
        }
    }

    @Test func theEnvelopeIsStoredAsReceivedWithTheBrokersFieldsInFront() throws {
        let id = InquiryID(high: 1, low: 2)
        let spliced = Intake.splice(Array(#"  {"text": "a\u00e9",  "b":1}"#.utf8), id: id, receivedAt: "T")
        #expect(spliced == #"{"id":"\#(id)","received_at":"T","text": "a\u00e9",  "b":1}"#)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(spliced.utf8)) as? [String: Any])
        #expect(object["text"] as? String == "aé")
    }

    @Test mutating func aDuplicateTheStoreFindsIsAnsweredAsOneAndNotQueued() throws {
        let body = Frame(#"{"source":{"platform":"x","account":"@RivertonCity","external_id":"old"},"author":{"handle":"@a"},"text":"hello","captured_at":"2026-11-22T09:30:00Z"}"#)
        _ = machine.ingest(client: gateway, body: [body], now: now)
        let sealed = machine.sealBatch()
        let (sequence, batch) = try #require(sealed)
        let original = DuplicateOf(id: InquiryID(high: 9, low: 9), department: "roads", priority: .high)
        let released = machine.committed(sequence, result: CommitResult(duplicates: [batch.inserts[0].id: original]))
        let reply = try #require(Self.replies(released).first)
        #expect(reply["status"] as? String == "duplicate")
        #expect(reply["duplicate_of"] as? String == original.id.description)
        #expect(Self.enqueued(released).isEmpty)
        #expect(!released.contains { if case .publish = $0 { true } else { false } })
        // The next copy is caught in memory, with the original's id.
        _ = machine.ingest(client: gateway, body: [body], now: now)
        #expect(Self.replies(commit()).first?["duplicate_of"] as? String == original.id.description)
    }

    // MARK: Delivery

    @Test mutating func aDeliveryUsesWhatIsInMemoryAndTheAcknowledgementSettlesIt() throws {
        let ingested = ingest("1")
        let id = try #require(ingested)
        let actions = machine.deliver(QueueEntry(id: id, priority: .normal, deliveries: 1), department: "front-office", to: "w1", now: now)
        guard case .deliver(let worker, let entry, let document)? = actions.first else { Issue.record("no delivery: \(actions)"); return }
        #expect(worker == "w1" && entry == id)
        let body = try JSONDecoder().decode(InquiryDelivery.self, from: Data(document))
        #expect(body.inquiry.text == "My bin was not collected")
        #expect(body.delivery.count == 1 && body.delivery.inquiryID == id.description && body.delivery.department == "front-office")
        #expect(body.delivery.priority == "normal" && body.routing.unofficialChannel == nil)
        // The case number, and the accounts the worker may answer through: no hard-coding.
        #expect(body.delivery.caseNumber == "R-1")
        #expect(body.delivery.replyAccounts == ["@RivertonCity"])
        // Named by an opaque name for its connection, never by its routing id.
        let owner = try #require(machine.record(id)?.lifecycle.owner)
        #expect(owner == .worker(InquiryMachine.workerName("w1")))
        #expect(!owner.id.contains("w1"))

        _ = machine.workerReplied(QueueEntry(id: id, priority: .normal, deliveries: 1), department: "front-office", worker: "w1", reply: ["ok"], now: now)
        let sealed = machine.sealBatch()
        let (_, batch) = try #require(sealed)
        #expect(batch.records[id]?.lifecycle.owner == .department("front-office"))
        #expect(batch.records.count == 1)   // delivered and accepted: one row written
    }

    /// The operations figures follow each move: deliveries, a handoff (out of one
    /// department, into another, and the leg it ended), SLA breaches; and the counts of
    /// where inquiries stand agree with what a restart reads back from what was written.
    @Test mutating func theFiguresFollowEachMoveAndAgreeWithTheStore() throws {
        let firstIngested = ingest("1"), secondIngested = ingest("2")
        let first = try #require(firstIngested)
        let second = try #require(secondIngested)
        #expect(machine.figures.departments["front-office"]?.standing[.queued] == 2)
        _ = machine.deliver(QueueEntry(id: first, priority: .normal, deliveries: 1), department: "front-office", to: "w1", now: now)
        _ = machine.workerReplied(QueueEntry(id: first, priority: .normal, deliveries: 1), department: "front-office", worker: "w1",
                                  reply: [#"{"outcome":"handoff","department":"parks","note":"the park"}"#], now: now.addingTimeInterval(90))
        _ = commit()
        let front = try #require(machine.figures.departments["front-office"])
        let parks = try #require(machine.figures.departments["parks"])
        #expect(front.delivered == 1 && front.redelivered == 0)
        #expect(front.handoffsOut == ["parks": 1])
        #expect(parks.handoffsIn == ["front-office": 1])
        #expect(front.leg.count == 1 && front.leg.sum == 90, "the leg with the front office lasted from arrival to the handoff")
        #expect(front.standing[.queued] == 1 && parks.standing[.queued] == 1)

        // A day later the second inquiry's clocks have all run out.
        load(second)
        _ = machine.timers(now: now.addingTimeInterval(10 * 86_400), expiredLeases: [], dueAlerts: [second])
        #expect((machine.figures.departments["front-office"]?.breaches.values.reduce(0, +) ?? 0) >= 1)
        #expect(machine.figures.breachesToday("front-office", at: now.addingTimeInterval(10 * 86_400)) >= 1)
        #expect(machine.figures.breachesToday("front-office", at: now.addingTimeInterval(12 * 86_400)) == 0, "today's count starts again at midnight")
        _ = commit()

        var restarted = InquiryFigures()
        restarted.restore(written.stateCounts)
        for department in ["front-office", "parks"] {
            let live = (machine.figures.departments[department]?.standing ?? [:]).filter { $0.value != 0 }
            #expect(restarted.departments[department]?.standing == live, "\(department): the store and the live counts agree")
        }
    }

    /// Defect: a handoff of a queued inquiry delivered it to both departments.
    @Test mutating func aHandoffOfAQueuedInquiryTakesItOutOfTheOldQueue() throws {
        let ingested = ingest("1")
        let id = try #require(ingested)
        let (answer, actions) = agent(.handoff, ["id": "\(id)", "agent": "ana", "department": "front-office", "to": "parks", "note": "the park"])
        #expect(answer["state"] as? String == "queued")
        #expect(Self.dequeued(actions).map(\.1) == ["front-office"])
        #expect(Self.enqueued(actions).map(\.0) == ["parks"])
        // If the old entry still comes up, it is not delivered.
        let stale = machine.deliver(QueueEntry(id: id, priority: .normal, deliveries: 1), department: "front-office", to: "w1", now: now)
        #expect(stale.contains { if case .forgetHeld(id, "w1") = $0 { true } else { false } })
        #expect(!stale.contains { if case .deliver = $0 { true } else { false } })
    }

    /// Defect: a handoff while a worker held the inquiry left it stuck.
    @Test mutating func aHandoffWhileAWorkerHoldsItIsNotUndoneByTheWorkersReply() throws {
        let ingested = ingest("1")
        let id = try #require(ingested)
        _ = machine.deliver(QueueEntry(id: id, priority: .normal, deliveries: 1), department: "front-office", to: "w1", now: now)
        _ = commit()
        let (answer, actions) = agent(.handoff, ["id": "\(id)", "agent": "ana", "department": "front-office", "to": "parks", "note": "n"])
        #expect(answer["department"] as? String == "parks")
        #expect(Self.enqueued(actions).map(\.0) == ["parks"])
        _ = machine.workerReplied(QueueEntry(id: id, priority: .normal, deliveries: 1), department: "front-office", worker: "w1", reply: ["ok"], now: now)
        #expect(machine.record(id)?.lifecycle.state == .queued)
        #expect(machine.record(id)?.lifecycle.department == "parks")
        // The worker can learn why its reply changed nothing: the event says.
        let refused = commit().compactMap { action -> StreamEvent? in
            guard case .publish(let event) = action, event.topic == "inquiry.outcome_refused" else { return nil }
            return try? JSONDecoder().decode(StreamEvent.self, from: Data(event.body.utf8))
        }
        #expect(refused.first?.reason == "the worker no longer owns this inquiry")
        #expect(refused.first?.caseNumber == "R-1")
        // Its death after that does not put it back in the old queue either.
        let left = machine.workerLeft(holding: QueueEntry(id: id, priority: .normal, deliveries: 1), department: "front-office", now: now)
        #expect(Self.dequeued(left).map(\.1) == ["front-office"])
    }

    /// Defect: a parked inquiry was invisible (its lifecycle said in progress).
    @Test mutating func aParkedInquiryIsParkedInItsRecordAndRequeueable() throws {
        let ingested = ingest("1")
        let id = try #require(ingested)
        _ = machine.deliver(QueueEntry(id: id, priority: .normal, deliveries: 5), department: "front-office", to: "w1", now: now)
        _ = machine.park(QueueEntry(id: id, priority: .normal, deliveries: 5), department: "front-office", reason: "5 deliveries", now: now)
        let sealed = machine.sealBatch()
        let (_, batch) = try #require(sealed)
        #expect(batch.records[id]?.lifecycle.state == .parked)
        #expect(batch.records[id]?.lifecycle.owner == nil)
        #expect(batch.timeline.last?.event == "inquiry.parked")

        _ = machine.requeue(client: "ops", request: try AgentRequest([Frame(#"{"id":"\#(id)"}"#)]), by: .agent("olga"), now: now)
        let released = commit()
        #expect(Self.replies(released).last?["status"] as? String == "requeued")
        #expect(Self.enqueued(released).map(\.0) == ["front-office"])
        #expect(machine.record(id)?.deliveries == 0)
    }

    @Test mutating func requeueNamesTheRightProblem() throws {
        let ingested = ingest("1")
        let id = try #require(ingested)
        let notParked = Self.replies(machine.requeue(client: "ops", request: try AgentRequest([Frame(#"{"id":"\#(id)"}"#)]), by: .agent("olga"), now: now))
        #expect((notParked.first?["error"] as? [String: Any])?["code"] as? String == "not_parked")
        let unknown = Self.replies(machine.requeue(client: "ops", request: try AgentRequest([Frame(#"{"id":"\#(InquiryID(high: 7, low: 7))"}"#)]), by: .agent("olga"), now: now))
        #expect((unknown.first?["error"] as? [String: Any])?["code"] as? String == "not_found")
    }

    // MARK: Agents

    @Test mutating func refusalsListOnlyTheMovesTheAgentMayMake() throws {
        let ingested = ingest("1")
        let id = try #require(ingested)
        let (answer, _) = agent(.close, ["id": "\(id)", "agent": "ana", "department": "front-office", "resolution": "answered"])
        let error = try #require(answer["error"] as? [String: Any])
        #expect(error["code"] as? String == "invalid_transition")
        #expect(error["allowed"] as? [String] == ["claim", "handoff"])
    }

    @Test mutating func anUnknownDepartmentHasItsOwnCode() throws {
        let (answer, _) = agent(.claim, ["agent": "ana", "department": "nowhere"])
        #expect((answer["error"] as? [String: Any])?["code"] as? String == "unknown_department")
        // The refusal lists the departments there are.
        #expect(((answer["error"] as? [String: Any])?["message"] as? String)?.hasSuffix("the departments are front-office, parks, roads") == true,
                "\(answer)")
        let (empty, _) = agent(.claim, ["agent": "ana", "department": "parks"])
        #expect((empty["error"] as? [String: Any])?["code"] as? String == "queue_empty")
    }

    @Test mutating func aRetriedClaimByTheHolderRenewsIt() throws {
        let ingested = ingest("1")
        let id = try #require(ingested)
        let (first, actions) = agent(.claim, ["agent": "ana", "department": "front-office"], next: id)
        #expect(first["owner"] as? String == "agent ana")
        #expect(Self.dequeued(actions).map(\.1) == ["front-office"])
        let (again, _) = agent(.claim, ["id": "\(id)", "agent": "ana", "department": "front-office"])
        #expect(again["status"] as? String == "ok")
        let (other, _) = agent(.claim, ["id": "\(id)", "agent": "ben", "department": "front-office"])
        // Defect: a second agent heard "invalid_transition ... allowed now: nothing";
        // the refusal names who holds it and until when.
        let refusal = try #require(other["error"] as? [String: Any])
        #expect(refusal["code"] as? String == "not_owner")
        let lease = try #require(first["lease_expires_at"] as? String)
        #expect(refusal["message"] as? String == "agent ana holds this inquiry until \(lease) (their claim's lease); ask them to release it, or claim it once the lease has run out")
    }

    /// A move sent again with its request id (its answer was lost, or the broker that made
    /// it died before answering) is made once: the resend is answered as the inquiry
    /// stands, and queues, dequeues and writes nothing. This holds on a broker that knows
    /// the move only from the store, as after a takeover.
    @Test mutating func aMoveSentAgainWithItsRequestIDIsMadeOnce() throws {
        let first = try #require(ingest("1")), second = try #require(ingest("2"))
        let claimNext: [String: Any] = ["agent": "ana", "department": "front-office", "request_id": "c-1"]
        let (claimed, _) = agent(.claim, claimNext, next: first)
        #expect(claimed["id"] as? String == "\(first)")
        // Sent again while another inquiry heads the queue: the same one, not the next.
        let (again, againActions) = agent(.claim, claimNext, next: second)
        #expect(again["id"] as? String == "\(first)")
        #expect(Self.dequeued(againActions).isEmpty)

        let handoff: [String: Any] = ["id": "\(first)", "agent": "ana", "department": "front-office", "to": "roads", "note": "pothole",
                                      "request_id": "h-1"]
        #expect(agent(.handoff, handoff).answer["department"] as? String == "roads")
        // The inquiry is no longer the front office's, yet the resend is answered ok.
        let (resent, resentActions) = agent(.handoff, handoff)
        #expect(resent["status"] as? String == "ok", "\(resent)")
        #expect(resent["department"] as? String == "roads")
        #expect(Self.enqueued(resentActions).isEmpty)
        #expect(written.timeline(first).filter { $0.event == "inquiry.handoff" }.count == 1)
        // The same id from another agent is not the same move: it is judged as new.
        var borrowed = handoff
        borrowed["agent"] = "ben"
        #expect((agent(.handoff, borrowed).answer["error"] as? [String: Any])?["code"] as? String == "wrong_department")
        // Another move with a new id is a new move, judged as such.
        var fresh = handoff
        fresh["request_id"] = "h-2"
        #expect((agent(.handoff, fresh).answer["error"] as? [String: Any])?["code"] as? String == "wrong_department")

        // A broker that took over knows the claim from the store only.
        let (secondClaim, _) = agent(.claim, ["agent": "ben", "department": "front-office", "request_id": "c-2"], next: second)
        #expect(secondClaim["id"] as? String == "\(second)")
        var successor = InquiryMachine(configuration: try SwitchboardConfiguration.parse(yaml: Cities.handoff))
        #expect(successor.claim(madeBy: "c-2", actor: .agent("ben"), department: "front-office") == nil)
        successor.load(try #require(written.inquiry(second)))
        #expect(successor.claim(madeBy: "c-2", actor: .agent("ben"), department: "front-office")?.id == second)
        #expect(successor.claim(madeBy: "c-2", actor: .agent("ana"), department: "front-office") == nil, "another agent's id")

        // An id longer than a move may keep is refused by name.
        let long = String(repeating: "x", count: 65)
        #expect((agent(.claim, ["agent": "ana", "department": "front-office", "request_id": long]).answer["error"] as? [String: Any])?["code"] as? String
            == ErrorCode.invalidValue.rawValue)
    }

    /// Defect: after a reopen every further reply was refused.
    @Test mutating func aReopenedConversationCanBeAnsweredAgainButNotTwiceAtOnce() throws {
        let ingested = ingest("1")
        let id = try #require(ingested)
        _ = agent(.claim, ["id": "\(id)", "agent": "ana", "department": "front-office"])
        let reply: [String: Any] = ["id": "\(id)", "agent": "ana", "department": "front-office", "text": "Fixed", "account": "@RivertonCity", "reply_id": "r1"]
        #expect(agent(.reply, reply).answer["state"] as? String == "answered")
        // A retry with the same reply id is the same reply: nothing new is queued.
        let (retried, retryActions) = agent(.reply, reply)
        #expect(retried["status"] as? String == "ok")
        #expect(Self.enqueued(retryActions).isEmpty)
        var second = reply
        second["reply_id"] = "r2"
        #expect((agent(.reply, second).answer["error"] as? [String: Any])?["code"] as? String == "already_answered")

        _ = agent(.close, ["id": "\(id)", "agent": "ana", "department": "front-office", "resolution": "answered"])
        _ = agent(.reopen, ["id": "\(id)", "agent": "ana", "department": "front-office", "note": "citizen wrote back"])
        _ = agent(.claim, ["id": "\(id)", "agent": "ana", "department": "front-office"])
        #expect(agent(.reply, second).answer["state"] as? String == "answered")
    }

    @Test mutating func anUnofficialAccountIsRefusedWithoutEchoingIt() throws {
        let ingested = ingest("1")
        let id = try #require(ingested)
        _ = agent(.claim, ["id": "\(id)", "agent": "ana", "department": "front-office"])
        let (answer, _) = agent(.reply, ["id": "\(id)", "agent": "ana", "department": "front-office", "text": "hi", "account": "@Impostor"])
        let error = try #require(answer["error"] as? [String: Any])
        #expect(error["code"] as? String == "unofficial_account")
        #expect(!(error["message"] as? String ?? "").contains("Impostor"))
    }

    /// Defect: "ask the citizen" sent nothing, and the citizen's answer came back as a
    /// new inquiry at the front office.
    @Test mutating func aQuestionGoesOutAndTheCitizensAnswerThreadsBack() throws {
        let ingested = ingest("1")
        let id = try #require(ingested)
        _ = agent(.claim, ["id": "\(id)", "agent": "ana", "department": "front-office"])
        let (asked, actions) = agent(.requestInformation, ["id": "\(id)", "agent": "ana", "department": "front-office",
                                                          "text": "Which street?", "account": "@RivertonCity", "note": "need the street"])
        #expect(asked["state"] as? String == "awaiting_citizen")
        let queued = try #require(actions.compactMap { action -> QueueEntry? in
            if case .enqueue("outbound.x", let entry) = action { entry } else { nil }
        }.first)
        let delivery = machine.deliverOutbound(queued, service: "outbound.x", to: "gateway-w")
        guard case .deliver(_, _, let document)? = delivery.first else { Issue.record("nothing delivered"); return }
        let body = try JSONDecoder().decode(OutboundPost.self, from: Data(document))
        #expect(body.kind == "question" && body.text == "Which street?" && body.inReplyTo == "1")
        #expect(body.inquiryID == id.description && body.platform == "x" && body.account == "@RivertonCity")
        // The gateway posts it as "q-77"; the citizen answers that post.
        _ = machine.outboundSent(queued, worker: "gateway-w", reply: [Frame(#"{"external_id":"q-77"}"#)], now: now)
        _ = commit()
        let followUp = Frame(#"{"source":{"platform":"x","account":"@RivertonCity","external_id":"2","in_reply_to":"q-77"},"author":{"handle":"@resident"},"text":"Elm Street","captured_at":"2026-11-22T10:30:00Z"}"#)
        #expect(machine.ingest(client: gateway, body: [followUp], now: now).isEmpty)
        let released = commit()
        let reply = try #require(Self.replies(released).first)
        #expect(reply["status"] as? String == "accepted")
        #expect(reply["thread_of"] as? String == id.description)
        #expect(written.record(id)?.lifecycle.state == .inProgress)
        #expect(written.record(id)?.lifecycle.owner == .agent("ana"))
        #expect(written.inquiries.count == 1)
        #expect(written.timeline(id).map(\.event).suffix(2) == ["question.sent", "inquiry.citizen_replied"])
        // The owner may answer the new message.
        let answer = agent(.reply, ["id": "\(id)", "agent": "ana", "department": "front-office", "text": "Crew sent", "account": "@RivertonCity"])
        #expect(answer.answer["state"] as? String == "answered")
    }

    /// An inquiry Ana claimed and answered, and its reply's entry in the gateway's queue.
    mutating func replyWaitingForTheGateway() throws -> (InquiryID, QueueEntry) {
        let id = try #require(ingest("1"))
        _ = agent(.claim, ["id": "\(id)", "agent": "ana", "department": "front-office"])
        let (_, actions) = agent(.reply, ["id": "\(id)", "agent": "ana", "department": "front-office", "text": "On it", "account": "@RivertonCity"])
        return (id, try #require(Self.outboundEntries(actions).first))
    }

    static func outboundEntries(_ actions: [Action]) -> [QueueEntry] {
        actions.compactMap { if case .enqueue(let service, let entry) = $0, service.hasPrefix("outbound.") { entry } else { nil } }
    }

    /// Defect: with no publishing gateway, a reply answered `answered` and nothing said
    /// it waited. The move's answer says so at once, and the timeline records it; with a
    /// gateway connected it is just queued.
    @Test mutating func aReplyWithNoGatewayIsHeldAndSaysSo() throws {
        let ingested = ingest("1")
        let id = try #require(ingested)
        _ = agent(.claim, ["id": "\(id)", "agent": "ana", "department": "front-office"])
        let (answer, _) = agent(.reply, ["id": "\(id)", "agent": "ana", "department": "front-office", "text": "On it", "account": "@RivertonCity"])
        let move = try JSONDecoder().decode(InquiryMove.self, from: try JSONSerialization.data(withJSONObject: answer))
        #expect(move.message?.status == "held")
        #expect(move.message?.note == "held: no gateway serves x; it will be posted when one connects")
        #expect(move.caseNumber == "R-1")
        #expect(written.timeline(id).map(\.event).suffix(2) == ["inquiry.answered", "reply.held"])
        #expect(machine.unsentMessages()[.x]?.count == 1)

        let secondIngested = ingest("2")
        let second = try #require(secondIngested)
        machine.gatewaysOnline = [.x]
        _ = agent(.claim, ["id": "\(second)", "agent": "ana", "department": "front-office"])
        let (queued, _) = agent(.reply, ["id": "\(second)", "agent": "ana", "department": "front-office", "text": "On it (case {case})",
                                          "account": "@RivertonCity"])
        #expect(written.conversation(second).first?.text == "On it (case R-2)", "{case} is the case number")
        #expect((queued["message"] as? [String: Any])?["status"] as? String == "queued")
        #expect((queued["case"] as? String) == "R-2")
        #expect(!(written.timeline(second).map(\.event).contains("reply.held")))
    }

    /// A gateway's failure document is recorded on the message, shown in the timeline with
    /// its reason, and the message is not handed out again.
    @Test mutating func aFailedPostIsRecordedWithItsReason() throws {
        let (id, entry) = try replyWaitingForTheGateway()
        let failure = #"{"status":"failed","code":"messaging_window_closed","reason":"the 24-hour window closed"}"#
        load(id)  // as the engine does before a gateway's answer
        _ = machine.outboundSent(entry, worker: "gateway-w", reply: [Frame(failure)], now: now)
        _ = commit()
        let message = try #require(written.conversation(id).first)
        #expect(message.status == .failed && message.failureCode == "messaging_window_closed" && message.reason == "the 24-hour window closed")
        let last = try #require(written.timeline(id).last { $0.event == "reply.failed" })
        #expect(last.note == "not delivered (messaging_window_closed): the 24-hour window closed")
        #expect(machine.unsentMessages().isEmpty)
        // Not answered after all: back in its queue for a person, saying why.
        #expect(written.record(id)?.lifecycle.state == .queued)
        #expect(written.record(id)?.lifecycle.answered == false)
        #expect(written.timeline(id).map(\.event).suffix(2) == ["reply.failed", "inquiry.reopened"])
        #expect(machine.deliverOutbound(entry, service: "outbound.x", to: "gateway-w").allSatisfy {
            if case .forgetHeld = $0 { true } else { false }
        }, "a failed message is never handed out again")
    }

    /// Defect: a platform's status for a reply that came right after the gateway's answer
    /// (before the projection held the post, so the store could not find it) was answered
    /// "no such message", and the delivery was lost. Posts the projection may not hold yet
    /// are found in memory, by post id and by watermark, until it holds them.
    @Test mutating func aStatusRightAfterThePostFindsItBeforeTheProjectionDoes() throws {
        let (id, entry) = try replyWaitingForTheGateway()
        load(id)
        // The projection holds the reply (answered, the inquiry is at rest), not yet the post.
        let answeredIn = machine.pipeline.nextSequence - 1
        _ = machine.outboundSent(entry, worker: "gateway-w", reply: [Frame(#"{"external_id":"r-9"}"#)], now: now)
        machine.projected(through: answeredIn)
        #expect(!machine.needsLoad(id), "held until the projection holds the post")
        // The status arrives before that batch is even durable; the store found nothing.
        let byPost = OutboundMessageQuery.posted(platform: .x, externalID: "r-9")
        #expect(machine.outboundStatus(client: gateway, status: .delivered, code: nil, reason: nil, stored: [], query: byPost,
                                       by: "gateway-w", now: now).isEmpty)
        let released = commit()
        #expect(Self.replies(released).first?["message_id"] as? String == entry.id.description)
        #expect(written.timeline(id).map(\.event).suffix(2) == ["reply.sent", "reply.delivered"])
        // A watermark to the citizen up to the post covers it too; one before it does not.
        let watermark = { (at: Date) in OutboundMessageQuery.watermark(platform: .x, recipient: "@resident", sentBy: Timestamp.format(at), notYet: "read") }
        #expect(status(.read, watermark(now.addingTimeInterval(-1)))?["message_id"] == nil)
        #expect(status(.read, watermark(now))?["message_id"] as? String == entry.id.description)
        // Once the projection holds the post, only the store answers for it.
        machine.projected(through: .max)
        #expect(status(.read, byPost)?["message_id"] == nil)
    }

    /// A status the store found nothing for, as the engine hands it over: the answer.
    mutating func status(_ status: OutboundStatusRequest.Status, _ query: OutboundMessageQuery) -> [String: Any]? {
        let refused = machine.outboundStatus(client: gateway, status: status, code: nil, reason: nil, stored: [], query: query, by: "gateway-w", now: now)
        return Self.replies(refused + commit()).first
    }

    /// Defect: a gateway that connected late posted a question for an inquiry closed (and
    /// answered by the citizen) meanwhile. An unsent question is cancelled when the
    /// conversation moves on.
    @Test mutating func anUnsentQuestionIsCancelledWhenTheInquiryCloses() throws {
        let ingested = ingest("1")
        let id = try #require(ingested)
        _ = agent(.claim, ["id": "\(id)", "agent": "ana", "department": "front-office"])
        let (_, asked) = agent(.requestInformation, ["id": "\(id)", "agent": "ana", "department": "front-office",
                                                     "text": "Which street?", "account": "@RivertonCity"])
        let entry = try #require(Self.outboundEntries(asked).first)
        let (closed, actions) = agent(.close, ["id": "\(id)", "agent": "ana", "department": "front-office", "resolution": "answered"])
        #expect(closed["state"] as? String == "closed")
        #expect(Self.dequeued(actions).contains { $0 == (entry.id, "outbound.x") }, "taken out of the gateway's queue")
        let timeline = written.timeline(id)
        #expect(timeline.map(\.event).contains("question.cancelled"))
        #expect(timeline.last { $0.event == "question.cancelled" }?.note == "not posted: the inquiry was closed first")
        #expect(written.conversation(id).first?.status == .cancelled)
        #expect(written.pendingOutbound.isEmpty, "a restart does not bring it back")
    }

    /// A citizen who edits or deletes a post changes the inquiry it became: never a new one,
    /// recorded once per revision, and only by the post's author.
    @Test mutating func anEditAndADeletionChangeTheInquiryNotMakeANewOne() throws {
        let ingested = ingest("post-1", text: "The bin on Elm St was not collected")
        let id = try #require(ingested)
        func change(_ kind: String, revision: String, author: String = "@resident", text: String = "The bins on Elm and Oak were not collected") throws -> [[String: Any]] {
            let body = Frame(#"{"source":{"platform":"x","account":"@RivertonCity","external_id":"post-1"},"author":{"handle":"\#(author)"},"text":"\#(text)","captured_at":"2026-11-22T09:40:00Z","change":{"kind":"\#(kind)","revision":"\#(revision)"}}"#)
            var actions = machine.ingest(client: gateway, body: [body], now: now)
            // What the engine does when the inquiry is at rest: find it, load it, ingest again.
            if case .findOriginal(let key, _, let client, let frames)? = actions.first {
                if let original = written.inquiry(for: key) { machine.rememberOriginal(key, original) }
                if let found = written.inquiry(for: key) { load(found.id) }
                actions = machine.ingest(client: client, body: frames, now: now, lookedUp: true)
            }
            return Self.replies(actions) + Self.replies(commit())
        }
        let edited = try #require(try change("edited", revision: "1").first)
        #expect(edited["status"] as? String == "accepted" && edited["change_of"] as? String == id.description)
        #expect(edited["external_id"] as? String == "post-1", "the answer names the post, as the gateway sent it")
        #expect(try change("edited", revision: "1").first?["status"] as? String == "duplicate", "the same revision once")
        let stranger = try change("edited", revision: "2", author: "@someone_else").first
        #expect((stranger?["error"] as? [String: Any])?["field"] as? String == "author.handle")
        #expect(try change("deleted", revision: "removed", text: "(deleted)").first?["change_of"] as? String == id.description)
        let conversation = written.conversation(id)
        #expect(conversation.map(\.kind) == ["edit", "deleted"])
        #expect(conversation.first?.text == "The bins on Elm and Oak were not collected")
        #expect(written.timeline(id).map(\.event).filter { $0.hasPrefix("inquiry.e") || $0.hasPrefix("inquiry.w") } == ["inquiry.edited", "inquiry.withdrawn"])
        #expect(written.inquiries.count == 1, "no new inquiry")
    }

    /// Case numbers follow one another and resume after a restart at the highest ever given.
    @Test mutating func caseNumbersFollowOnAndResume() throws {
        let firstIngested = ingest("1"), secondIngested = ingest("2")
        let first = try #require(firstIngested)
        let second = try #require(secondIngested)
        #expect(written.record(first)?.caseNumber == 1)
        #expect(written.record(second)?.caseNumber == 2)
        var restarted = InquiryMachine(configuration: machine.configuration)
        restarted.restoreCaseNumbers(last: written.lastCaseNumber)
        let body = Frame(#"{"source":{"platform":"x","account":"@RivertonCity","external_id":"3"},"author":{"handle":"@r"},"text":"t","captured_at":"2026-11-22T09:30:00Z"}"#)
        _ = restarted.ingest(client: gateway, body: [body], now: now)
        let sealed = restarted.sealBatch()
        let (_, batch) = try #require(sealed)
        #expect(batch.inserts.first?.record.caseNumber == 3)
    }

    // MARK: The channel registry

    mutating func channels(_ service: ChannelService, _ fields: [String: Any]) -> [String: Any] {
        let request = try! AgentRequest([Frame(bytes: try! JSONSerialization.data(withJSONObject: fields))])
        let refused = Self.replies(machine.channels(client: "admin", service: service, request: request, actor: "ada", now: now)).first
        return refused ?? Self.replies(commit()).first ?? [:]
    }

    @Test mutating func anInquiryToAnImpostorAccountIsFlaggedAndGoesToChannelReview() throws {
        let body = Frame(#"{"source":{"platform":"x","account":"@Rivert0nCity","external_id":"i-1"},"author":{"handle":"@a"},"text":"bins","captured_at":"2026-11-22T09:30:00Z"}"#)
        _ = machine.ingest(client: gateway, body: [body], now: now)
        let sealed = machine.sealBatch()
        let (sequence, batch) = try #require(sealed)
        let routing = try #require(try JSONSerialization.jsonObject(with: Data(batch.inserts[0].routingJSON.utf8)) as? [String: Any])
        #expect(routing["department"] as? String == "front-office")
        #expect((routing["tags"] as? [String])?.contains("unofficial_channel") == true)
        let flag = try #require(routing["unofficial_channel"] as? [String: Any])
        #expect(flag["reason"] as? String == "lookalike")
        #expect(flag["imitates_handle"] as? String == "@RivertonCity")
        let released = machine.committed(sequence, result: written.commit(batch))
        #expect(released.contains { if case .publish(let event) = $0 { event.topic == "channel.unofficial_activity" } else { false } })
        #expect(Self.replies(released).first?["status"] as? String == "accepted", "a citizen's question is never dropped")
    }

    @Test mutating func aReplyThroughASuspendedAccountIsRefusedAndNamesTheAllowedOnes() throws {
        let ingested = ingest("1")
        let id = try #require(ingested)
        _ = agent(.claim, ["id": "\(id)", "agent": "ana", "department": "front-office"])
        let city = try #require(machine.registry.entries.first { $0.handle == "@RivertonCity" })
        #expect(channels(.suspend, ["id": city.id, "reason": "password leaked"])["status"] as? String == "ok")
        let (refused, actions) = agent(.reply, ["id": "\(id)", "agent": "ana", "department": "front-office", "text": "hi", "account": "@RivertonCity"])
        let error = try #require(refused["error"] as? [String: Any])
        #expect(error["code"] as? String == "unofficial_account")
        #expect(!actions.contains { if case .enqueue(let service, _) = $0 { service.hasPrefix("outbound.") } else { false } })
        #expect(written.channels.first { $0.id == city.id }?.status == .suspended, "the suspension is stored")
    }

    @Test mutating func registryWritesAreRuledAndRecorded() throws {
        let lookalike = channels(.register, ["platform": "x", "handle": "@RivertonCityOfficial", "department": "roads"])
        #expect((lookalike["error"] as? [String: Any])?["code"] as? String == "lookalike_of")
        #expect(((lookalike["error"] as? [String: Any])?["channel"] as? [String: Any])?["handle"] as? String == "@RivertonCity")
        let registered = channels(.register, ["platform": "x", "handle": "@RivertonRoads", "department": "roads"])
        let entry = try #require(registered["channel"] as? [String: Any])
        #expect(entry["status"] as? String == "under_review")
        let id = try #require(entry["id"] as? String)
        #expect((channels(.approve, ["id": id])["channel"] as? [String: Any])?["status"] as? String == "active")
        let history = try #require(channels(.history, ["id": id])["history"] as? [[String: Any]])
        #expect(history.map { $0["action"] as? String } == ["register", "approve"])
        #expect(history.allSatisfy { $0["actor"] as? String == "ada" })
        let verdict = channels(.verify, ["handle": "https://x.com/RivertonRoads"])
        #expect(verdict["verdict"] as? String == "official")
        #expect(channels(.verify, ["handle": "@R1vertonRoads", "platform": "x"])["verdict"] as? String == "lookalike_of")
        #expect(channels(.verify, ["handle": "@SomebodyElse", "platform": "x"])["verdict"] as? String == "unknown")
    }

    // MARK: Found in review

    /// A worker asked the citizen: their answer puts the inquiry back in its queue (the
    /// worker's hold ended with its reply), instead of leaving it with nobody working on it.
    @Test mutating func aCitizensAnswerToAWorkersQuestionQueuesTheInquiry() throws {
        let ingested = ingest("1")
        let id = try #require(ingested)
        _ = machine.deliver(QueueEntry(id: id, priority: .normal, deliveries: 1), department: "front-office", to: "w1", now: now)
        _ = machine.workerReplied(QueueEntry(id: id, priority: .normal, deliveries: 1), department: "front-office", worker: "w1",
                                  reply: [Frame(#"{"outcome":"awaiting_citizen","note":"which street?","text":"Which street?","account":"@RivertonCity"}"#)], now: now)
        _ = commit()
        let followUp = Frame(#"{"source":{"platform":"x","account":"@RivertonCity","external_id":"2","in_reply_to":"1"},"author":{"handle":"@resident"},"text":"Elm","captured_at":"2026-11-22T10:30:00Z"}"#)
        _ = machine.ingest(client: gateway, body: [followUp], now: now)
        let released = commit()
        #expect(Self.replies(released).first?["thread_of"] as? String == id.description)
        #expect(Self.enqueued(released).map(\.0) == ["front-office"])
        #expect(written.record(id)?.lifecycle.state == .queued)
    }

    /// A stranger replying to the same public post starts an inquiry of their own.
    @Test mutating func onlyTheCitizenWhoAskedContinuesTheConversation() throws {
        let ingested = ingest("1")
        let id = try #require(ingested)
        _ = agent(.claim, ["id": "\(id)", "agent": "ana", "department": "front-office"])
        _ = agent(.requestInformation, ["id": "\(id)", "agent": "ana", "department": "front-office", "text": "Which street?", "account": "@RivertonCity"])
        let stranger = Frame(#"{"source":{"platform":"x","account":"@RivertonCity","external_id":"9","in_reply_to":"1"},"author":{"handle":"@someone_else"},"text":"lol","captured_at":"2026-11-22T10:30:00Z"}"#)
        _ = machine.ingest(client: gateway, body: [stranger], now: now)
        let reply = try #require(Self.replies(commit()).first)
        #expect(reply["thread_of"] == nil)
        #expect(reply["id"] as? String != id.description)
        #expect(written.record(id)?.lifecycle.state == .awaitingCitizen)
    }

    /// When a worker leaves, the MDP machine already put the entry back: the inquiry
    /// machine must not queue it a second time.
    @Test mutating func aWorkerLeavingQueuesTheInquiryOnce() throws {
        let ingested = ingest("1")
        let id = try #require(ingested)
        _ = machine.deliver(QueueEntry(id: id, priority: .normal, deliveries: 1), department: "front-office", to: "w1", now: now)
        _ = machine.workerLeft(holding: QueueEntry(id: id, priority: .normal, deliveries: 1), department: "front-office", now: now)
        let released = commit()
        #expect(Self.enqueued(released).isEmpty)
        #expect(machine.record(id)?.lifecycle.state == .queued)
    }

    /// Settled inquiries leave memory once the projection holds them, even while the
    /// writer always has a batch sealed.
    @Test mutating func settledInquiriesAreForgottenUnderSteadyLoad() throws {
        let ingested = ingest("1")
        let id = try #require(ingested)
        _ = machine.deliver(QueueEntry(id: id, priority: .normal, deliveries: 1), department: "front-office", to: "w1", now: now)
        _ = machine.workerReplied(QueueEntry(id: id, priority: .normal, deliveries: 1), department: "front-office", worker: "w1", reply: ["ok"], now: now)
        let first = machine.sealBatch()
        let (sequence, batch) = try #require(first)
        // The next batch is sealed before the first is durable.
        _ = machine.ingest(client: gateway, body: [Frame(#"{"source":{"platform":"x","account":"@RivertonCity","external_id":"2"},"author":{"handle":"@a"},"text":"b","captured_at":"2026-11-22T09:30:00Z"}"#)], now: now)
        #expect(machine.sealBatch() != nil)
        _ = machine.committed(sequence, result: written.commit(batch))
        // Durable but not yet in the projection: a read of the store would find it older
        // than what was acknowledged, so memory keeps it.
        #expect(!machine.needsLoad(id), "forgotten before the projection held it")
        machine.projected(through: sequence)
        #expect(machine.needsLoad(id), "an accepted inquiry stayed in memory")
    }

    /// An answered inquiry is let go of once projected; read back only so that its
    /// timeline can say its reply was posted, it is let go of again once that is projected
    /// (it stayed in memory for good before).
    @Test mutating func anInquiryReadBackForItsPostedReplyIsLetGoOfAgain() throws {
        let ingested = ingest("1")
        let id = try #require(ingested)
        machine.gatewaysOnline = [.x]
        _ = agent(.claim, ["id": "\(id)", "agent": "ana", "department": "front-office"])
        let (_, actions) = agent(.reply, ["id": "\(id)", "agent": "ana", "department": "front-office", "text": "On it", "account": "@RivertonCity"])
        let queued = try #require(actions.compactMap { action -> QueueEntry? in
            if case .enqueue("outbound.x", let entry) = action { entry } else { nil }
        }.first)
        machine.projected(through: .max)
        #expect(machine.needsLoad(id), "answered and projected: let go of")
        #expect(!machine.deliverOutbound(queued, service: "outbound.x", to: "gateway-w").isEmpty)
        load(id)
        _ = machine.outboundSent(queued, worker: "gateway-w", reply: [Frame(#"{"external_id":"p-1"}"#)], now: now)
        _ = commit()
        #expect(written.timeline(id).map(\.event).last == "reply.sent")
        machine.projected(through: .max)
        #expect(machine.needsLoad(id), "kept in memory after the note")
    }

    /// A read of the projection that was on its way while an inquiry changed and was let
    /// go of brings back the copy from before the change: memory refuses it (the engine
    /// reads again), and takes a read that saw the change.
    @Test mutating func aCopyReadBeforeTheLastChangeIsRefused() throws {
        let ingested = ingest("1")
        let id = try #require(ingested)
        machine.projected(through: 1)
        let before = try #require(written.inquiry(id))   // read while still queued
        machine.readsOnTheirWay(since: 0)
        _ = machine.deliver(QueueEntry(id: id, priority: .normal, deliveries: 1), department: "front-office", to: "w1", now: now)
        _ = machine.workerReplied(QueueEntry(id: id, priority: .normal, deliveries: 1), department: "front-office", worker: "w1", reply: ["ok"], now: now)
        let sealed = machine.sealBatch()
        let (sequence, batch) = try #require(sealed)
        _ = machine.committed(sequence, result: written.commit(batch))
        machine.projected(through: sequence)
        #expect(machine.needsLoad(id))
        let staleTaken = machine.load(before, readThrough: sequence - 1)
        #expect(!staleTaken, "a copy from before the answer")
        #expect(machine.needsLoad(id))
        let after = try #require(written.inquiry(id))
        let freshTaken = machine.load(after, readThrough: sequence)
        #expect(freshTaken)
        #expect(machine.record(id)?.lifecycle.state == after.record.lifecycle.state && after.record.lifecycle.state != .queued)
        machine.readsOnTheirWay(since: nil)
    }

    @Test mutating func anAgentCannotReopenAnotherDepartmentsInquiry() throws {
        let ingested = ingest("1")
        let id = try #require(ingested)
        _ = agent(.claim, ["id": "\(id)", "agent": "ana", "department": "front-office"])
        _ = agent(.close, ["id": "\(id)", "agent": "ana", "department": "front-office", "resolution": "spam"])
        let (answer, _) = agent(.reopen, ["id": "\(id)", "agent": "rob", "department": "roads", "note": "mine now"])
        #expect((answer["error"] as? [String: Any])?["code"] as? String == "wrong_department")
    }

    // MARK: A failing store

    /// Defect: a claim refused because the disk was full took the inquiry out of its queue.
    @Test mutating func aFailedCommitAnswersUnavailableAndRefusesNewWritesUntilARetrySucceeds() throws {
        let body = Frame(#"{"source":{"platform":"x","account":"@RivertonCity","external_id":"1"},"author":{"handle":"@a"},"text":"hello","captured_at":"2026-11-22T09:30:00Z"}"#)
        _ = machine.ingest(client: gateway, body: [body], now: now)
        let sealed = machine.sealBatch()
        let (sequence, _) = try #require(sealed)
        let failed = machine.commitFailed(sequence)
        #expect(Self.replies(failed).first?["status"] as? String == "error")
        #expect((Self.replies(failed).first?["error"] as? [String: Any])?["code"] as? String == "store_unavailable")
        #expect(Self.enqueued(failed).isEmpty)

        // While the store is failing, a claim changes nothing: no queue entry is taken.
        let claim = machine.agent(client: agentClient, service: .claim, request: try AgentRequest([Frame(#"{"agent":"ana","department":"front-office"}"#)]),
                                  next: nil, now: now)
        #expect((Self.replies(claim).first?["error"] as? [String: Any])?["code"] as? String == "store_unavailable")
        #expect(machine.takeDequeues().isEmpty)
        #expect(machine.sealBatch() == nil)

        // The writer's retry succeeds: the inquiry is queued (the gateway, told
        // "unavailable", will resend and hear "duplicate"), and writes are taken again.
        let released = machine.committed(sequence, result: CommitResult())
        #expect(Self.replies(released).isEmpty)
        #expect(Self.enqueued(released).map(\.0) == ["front-office"])
        #expect(!machine.storeUnavailable)
    }
}

/// Every code the broker sends is in the one registry, `Protocols/errors.json`, and the
/// registry lists nothing the broker cannot send.
@Suite struct ErrorRegistryTests {
    @Test func theCodeAndTheRegistryAgree() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let data = try Data(contentsOf: root.appendingPathComponent("Protocols/errors.json"))
        let entries = try #require(try JSONSerialization.jsonObject(with: data) as? [[String: Any]])
        let registry = Set(entries.compactMap { $0["code"] as? String })
        #expect(registry.count == entries.count, "a code is listed twice")

        let id = InquiryID(high: 1, low: 1)
        let ingest = ErrorCode.ingest
        let agent: [AgentError] = [.invalidJSON, .missing("x"), .invalid(field: "x", "y"), .notFound(id), .unknownDepartment("x"),
                                   .emptyQueue("x"), .notParked(id, .queued), .unofficialAccount(.x, allowed: []), .unavailable,
                                   .forbidden(service: "x", needs: "y"), .notYours(field: "agent"), .openInquiries(["R-1"]), .noCitizenRecords(.x), .noSuchPrefix("0000")]
        let entry = ChannelEntry(id: "e", platform: .x, handle: "@a", normalized: "a", displayName: nil, url: nil, department: nil,
                                 status: .active, contacts: [], verifiedAt: nil, reviewDue: nil, history: [])
        let channel: [ChannelError] = [.duplicate(of: entry), .lookalike(of: entry, why: "w"), .secondAccount(existing: entry),
                                       .invalidTransition(.active, action: "approve"), .notFound("e"), .reasonRequired("suspend")]
        let lifecycle: [LifecycleError] = [.invalidTransition(state: .queued, command: "x", allowed: []), .notOwner(actor: .system, owner: nil),
                                           .alreadyAnswered, .unknownDepartment("x"), .sameDepartment("x"),
                                           .wrongDepartment(actingFor: nil, department: "x"), .unknownInquiry(id)]
        // The publishing gateways send theirs (SwitchboardGateway's tests check each is sent).
        var codes: [ErrorCode] = ingest + ErrorCode.publishing
        codes += agent.map(\.code)
        codes += lifecycle.map(\.code)
        codes += channel.map(\.code)
        // A standby broker's answer to every request (9/SB-HA).
        codes.append(StandbyResponder.notActiveAnswer(activeHolder: nil).error.code)
        let used = Set(codes.map(\.rawValue))
        #expect(used.subtracting(registry).isEmpty, "sent but not in Protocols/errors.json: \(used.subtracting(registry).sorted())")
        #expect(registry.subtracting(used).isEmpty, "in Protocols/errors.json but never sent: \(registry.subtracting(used).sorted())")
    }
}
