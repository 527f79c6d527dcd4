import Majordomo
import SwitchboardCore
import Testing
import ZeroMQ
@testable import SwitchboardBroker

/// The broker's rules, tested by feeding events and reading actions: no sockets.
@Suite struct MajordomoBrokerMachineTests {
    typealias Action = MajordomoBrokerMachine.Action
    let t0 = ContinuousClock.now
    var machine: MajordomoBrokerMachine

    init() {
        var configuration = BrokerConfiguration()
        configuration.heartbeatInterval = .seconds(1)
        configuration.heartbeatLiveness = 3
        configuration.unservedRequestTimeout = .seconds(10)
        machine = MajordomoBrokerMachine(configuration: configuration)
    }

    func at(_ seconds: Double) -> ContinuousClock.Instant { t0 + .milliseconds(Int64((seconds * 1_000).rounded())) }

    static func sends(_ actions: [Action]) -> [Frame: [[Frame]]] {
        var result: [Frame: [[Frame]]] = [:]
        for case .send(let peer, let frames) in actions { result[peer, default: []].append(frames) }
        return result
    }

    static func events(_ actions: [Action]) -> [BrokerEvent] {
        actions.compactMap { if case .report(let event) = $0 { event } else { nil } }
    }

    mutating func ready(_ worker: Frame, _ service: String, at time: Double = 0) -> [Action] {
        machine.receive(from: worker, frames: WorkerCommand.ready(service: service).frames, now: at(time))
    }

    mutating func request(_ client: Frame, _ service: String, _ body: Frame, at time: Double = 0) -> [Action] {
        machine.receive(from: client, frames: ClientMessage(service: service, body: [body]).frames, now: at(time))
    }

    @Test mutating func requestGoesToAWorkerAndTheReplyBackToTheClient() {
        _ = ready("w1", "echo")
        let dispatched = request("c1", "echo", "hi")
        #expect(Self.sends(dispatched) == ["w1": [WorkerCommand.request(client: machine.token("c1"), body: ["hi"]).frames]])

        let replied = machine.receive(from: "w1", frames: WorkerCommand.reply(client: machine.token("c1"), body: ["HI"]).frames, now: at(0.1))
        #expect(Self.sends(replied) == ["c1": [ClientMessage(service: "echo", body: ["HI"]).frames]])
    }

    @Test mutating func requestWaitsForAWorker() {
        #expect(Self.sends(request("c1", "echo", "early")).isEmpty)
        #expect(machine.queuedRequests(for: "echo") == 1)
        let actions = ready("w1", "echo", at: 1)
        #expect(Self.sends(actions)["w1"] == [WorkerCommand.request(client: machine.token("c1"), body: ["early"]).frames])
    }

    @Test mutating func leastRecentlyUsedIdleWorkerGoesFirstAndHoldsOneRequest() {
        _ = ready("w1", "echo")
        _ = ready("w2", "echo")
        #expect(Self.sends(request("c1", "echo", "1")).keys.sorted { $0.description < $1.description } == ["w1"])
        #expect(Self.sends(request("c2", "echo", "2")).keys.first == "w2")
        // Both busy: the third waits until one replies.
        #expect(Self.sends(request("c3", "echo", "3")).isEmpty)
        let actions = machine.receive(from: "w2", frames: WorkerCommand.reply(client: machine.token("c2"), body: ["ok"]).frames, now: at(0.5))
        #expect(Self.sends(actions)["w2"] == [WorkerCommand.request(client: machine.token("c3"), body: ["3"]).frames])
    }

    @Test mutating func deadWorkersRequestGoesToTheFrontOfTheQueue() {
        _ = ready("w1", "echo")
        _ = request("c1", "echo", "first")
        _ = request("c2", "echo", "second")
        // w1 falls silent; a new worker arrives after the expiry.
        _ = machine.tick(now: at(3.5))
        #expect(machine.workerCount == 0)
        #expect(machine.queuedRequests(for: "echo") == 2)
        let actions = ready("w2", "echo", at: 4)
        #expect(Self.sends(actions)["w2"] == [WorkerCommand.request(client: machine.token("c1"), body: ["first"]).frames])
    }

    @Test mutating func expiryRequeuesToAnotherIdleWorker() {
        _ = ready("w1", "echo")
        _ = request("c1", "echo", "x")
        _ = ready("w2", "echo", at: 2)
        _ = machine.receive(from: "w2", frames: WorkerCommand.heartbeat.frames, now: at(3))
        let actions = machine.tick(now: at(3.2))
        #expect(Self.events(actions).contains(.workerGone(worker: "w1", service: "echo", reason: .expired)))
        #expect(Self.events(actions).contains(.requestRequeued(service: "echo", client: "c1")))
        #expect(Self.sends(actions)["w2"]?.first == WorkerCommand.request(client: machine.token("c1"), body: ["x"]).frames)
    }

    @Test mutating func disconnectAndUnreachableBothRequeue() {
        _ = ready("w1", "echo")
        _ = ready("w2", "echo")
        _ = request("c1", "echo", "a")
        var actions = machine.receive(from: "w1", frames: WorkerCommand.disconnect.frames, now: at(0.1))
        #expect(Self.sends(actions)["w2"] == [WorkerCommand.request(client: machine.token("c1"), body: ["a"]).frames])
        actions = machine.peerUnreachable("w2", now: at(0.2))
        #expect(Self.events(actions).contains(.workerGone(worker: "w2", service: "echo", reason: .unreachable)))
        #expect(machine.queuedRequests(for: "echo") == 1)
    }

    @Test mutating func heartbeatsKeepWorkersAliveAndAreSentEachInterval() {
        _ = ready("w1", "echo")
        for second in 1...10 {
            _ = machine.receive(from: "w1", frames: WorkerCommand.heartbeat.frames, now: at(Double(second)))
            let actions = machine.tick(now: at(Double(second) + 0.01))
            #expect(Self.sends(actions)["w1"] == [WorkerCommand.heartbeat.frames])
        }
        #expect(machine.workerCount == 1)
    }

    @Test mutating func unservedRequestsExpire() {
        _ = request("c1", "nobody-home", "x")
        #expect(Self.events(machine.tick(now: at(5))).isEmpty)
        let actions = machine.tick(now: at(10))
        #expect(Self.events(actions) == [.requestExpired(service: "nobody-home", client: "c1")])
        #expect(machine.serviceNames.isEmpty)
    }

    @Test mutating func queuedRequestsForABusyServiceDoNotExpire() {
        _ = ready("w1", "slow")
        _ = request("c1", "slow", "1")
        _ = request("c2", "slow", "2")
        for second in stride(from: 1.0, through: 30, by: 1) {
            _ = machine.receive(from: "w1", frames: WorkerCommand.heartbeat.frames, now: at(second))
            _ = machine.tick(now: at(second))
        }
        #expect(machine.queuedRequests(for: "slow") == 1)
    }

    @Test mutating func mmiServiceAnswers200Or404And501ForOtherMMI() {
        _ = ready("w1", "echo")
        let found = machine.receive(from: "c", frames: ClientMessage(service: "mmi.service", body: ["echo"]).frames, now: t0)
        #expect(Self.sends(found)["c"] == [ClientMessage(service: "mmi.service", body: ["200"]).frames])
        let missing = machine.receive(from: "c", frames: ClientMessage(service: "mmi.service", body: ["nope"]).frames, now: t0)
        #expect(Self.sends(missing)["c"] == [ClientMessage(service: "mmi.service", body: ["404"]).frames])
        let other = machine.receive(from: "c", frames: ClientMessage(service: "mmi.echo", body: []).frames, now: t0)
        #expect(Self.sends(other)["c"] == [ClientMessage(service: "mmi.echo", body: ["501"]).frames])
        // The check is on the service name, not the body: a body of "mmi.x" is an ordinary request.
        let ordinary = machine.receive(from: "c", frames: ClientMessage(service: "echo", body: ["mmi.service"]).frames, now: t0)
        #expect(Self.sends(ordinary)["w1"] == [WorkerCommand.request(client: machine.token("c"), body: ["mmi.service"]).frames])
    }

    @Test(arguments: ["mmi.service", "mmi.anything", "sb.ingest", "sb.agent.claim"])
    mutating func reservedServiceNamesAreRefused(_ name: String) {
        let actions = ready("w1", name)
        #expect(Self.sends(actions)["w1"] == [WorkerCommand.disconnect.frames])
        #expect(machine.workerCount == 0)
    }

    @Test mutating func unexpectedCommandsGetDisconnect() {
        // HEARTBEAT before READY.
        #expect(Self.sends(machine.receive(from: "w1", frames: WorkerCommand.heartbeat.frames, now: t0))["w1"] == [WorkerCommand.disconnect.frames])
        // A second READY.
        _ = ready("w2", "echo")
        #expect(Self.sends(ready("w2", "echo"))["w2"] == [WorkerCommand.disconnect.frames])
        #expect(!machine.isWorker("w2"))
        // A REPLY for a request the worker does not hold.
        _ = ready("w3", "echo")
        let stray = machine.receive(from: "w3", frames: WorkerCommand.reply(client: machine.token("ghost"), body: []).frames, now: t0)
        #expect(Self.sends(stray)["w3"] == [WorkerCommand.disconnect.frames])
        #expect(Self.sends(stray)["ghost"] == nil)
        // A worker sending REQUEST.
        _ = ready("w4", "echo")
        let backwards = machine.receive(from: "w4", frames: WorkerCommand.request(client: machine.token("x"), body: []).frames, now: t0)
        #expect(Self.sends(backwards)["w4"] == [WorkerCommand.disconnect.frames])
    }

    @Test mutating func malformedInputFromAWorkerDisconnectsItAndRequeues() {
        _ = ready("w1", "echo")
        _ = request("c1", "echo", "x")
        let actions = machine.receive(from: "w1", frames: [.empty, "MDPW01", Frame([0x42])], now: at(0.1))
        #expect(Self.events(actions).contains(.malformed(peer: "w1", error: .unknownCommand(Frame([0x42])))))
        #expect(Self.sends(actions)["w1"] == [WorkerCommand.disconnect.frames])
        #expect(machine.queuedRequests(for: "echo") == 1)
    }

    @Test mutating func malformedInputFromAStrangerIsDropped() {
        let actions = machine.receive(from: "x", frames: ["garbage"], now: t0)
        #expect(Self.sends(actions).isEmpty)
        #expect(Self.events(actions) == [.malformed(peer: "x", error: .tooFewFrames(1, needed: 3))])
    }

    @Test mutating func unknownSwitchboardServiceAnswers501() {
        let actions = request("c1", "sb.nothing", "x")
        #expect(Self.sends(actions)["c1"] == [ClientMessage(service: "sb.nothing", body: ["501"]).frames])
    }

    @Test mutating func creditedWorkersHoldSeveralRequestsAndShareRoundRobin() {
        _ = machine.receive(from: "w1", frames: WorkerCommand.ready(service: "echo", credit: 3).frames, now: t0)
        _ = machine.receive(from: "w2", frames: WorkerCommand.ready(service: "echo", credit: 3).frames, now: t0)
        var receivers: [Frame] = []
        for index in 0..<7 {
            receivers += Self.sends(request(Frame("c\(index)"), "echo", "x")).keys
        }
        // Six go out, alternating; the seventh waits for credit.
        #expect(receivers == ["w1", "w2", "w1", "w2", "w1", "w2"])
        #expect(machine.queuedRequests(for: "echo") == 1)
        // A reply frees one credit and the waiting request goes to that worker.
        let actions = machine.receive(from: "w2", frames: WorkerCommand.reply(client: machine.token("c3"), body: ["done"]).frames, now: at(0.1))
        #expect(Self.sends(actions)["c3"] == [ClientMessage(service: "echo", body: ["done"]).frames])
        #expect(Self.sends(actions)["w2"] == [WorkerCommand.request(client: machine.token("c6"), body: ["x"]).frames])
    }

    @Test mutating func aCreditedWorkersDeathRequeuesEverythingItHeldInOrder() {
        _ = machine.receive(from: "w1", frames: WorkerCommand.ready(service: "echo", credit: 3).frames, now: t0)
        for index in 0..<3 { _ = request(Frame("c\(index)"), "echo", Frame("\(index)")) }
        _ = machine.receive(from: "w1", frames: WorkerCommand.disconnect.frames, now: at(0.1))
        let actions = ready("w2", "echo", at: 0.2)
        #expect(Self.sends(actions)["w2"] == [WorkerCommand.request(client: machine.token("c0"), body: ["0"]).frames])
        #expect(machine.queuedRequests(for: "echo") == 2)
    }

    @Test mutating func aForgottenInquiryFreesTheWorkerForTheNextOne() {
        var rng = SystemRandomNumberGenerator()
        let first = QueueEntry(id: InquiryID.generate(milliseconds: 1, using: &rng), priority: .normal)
        let second = QueueEntry(id: InquiryID.generate(milliseconds: 2, using: &rng), priority: .normal)
        _ = machine.enqueueInquiry(first, department: "roads", now: t0)
        _ = machine.enqueueInquiry(second, department: "roads", now: t0)
        let delivered = ready("w1", "roads")
        #expect(delivered.contains(.deliverInquiry(worker: "w1", department: "roads", entry: QueueEntry(id: first.id, priority: .normal, deliveries: 1))))
        let next = machine.forgetHeldInquiry(first.id, worker: "w1", now: at(0.1))
        #expect(next == [.deliverInquiry(worker: "w1", department: "roads", entry: QueueEntry(id: second.id, priority: .normal, deliveries: 1))])
        #expect(machine.inquiriesInFlight == 1)
    }

    @Test mutating func queueIsBounded() {
        var configuration = BrokerConfiguration()
        configuration.maxQueuedRequestsPerService = 2
        machine = MajordomoBrokerMachine(configuration: configuration)
        _ = request("c1", "svc", "1")
        _ = request("c2", "svc", "2")
        #expect(Self.events(request("c3", "svc", "3")) == [.queueFull(service: "svc", client: "c3")])
        #expect(machine.queuedRequests(for: "svc") == 2)
    }
}
