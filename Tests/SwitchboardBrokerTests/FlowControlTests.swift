import Foundation
import Majordomo
import Synchronization
import SwitchboardCore
import Testing
import TestSupport
import ZeroMQ
@testable import SwitchboardBroker
@testable import SwitchboardOps

/// The flow-control decisions alone: which ingest answers wait, and when they go.
@Suite struct IngestFlowControlTests {
    static func answer(_ n: Int) -> IngestFlowControl.Answer {
        IngestFlowControl.Answer(client: Frame("gateway-\(n)"), frames: [Frame("answer-\(n)")])
    }

    @Test func answersGoAtOnceWhileTheBacklogIsWithinItsBound() {
        var flow = IngestFlowControl(maxReadyBacklog: 3)
        for ready in 0...3 {
            let sent = flow.answered(Self.answer(ready), department: "roads", ready: ready, workers: 1)
            #expect(sent == [Self.answer(ready)])
        }
        #expect(flow.heldCount == 0)
    }

    @Test func answersOverTheBoundWaitAndGoInOrderAsWorkersTakeTheBacklog() {
        var flow = IngestFlowControl(maxReadyBacklog: 3)
        #expect(flow.answered(Self.answer(1), department: "roads", ready: 4, workers: 2).isEmpty)
        #expect(flow.answered(Self.answer(2), department: "roads", ready: 5, workers: 2).isEmpty)
        #expect(flow.answered(Self.answer(3), department: "roads", ready: 6, workers: 2).isEmpty)
        #expect(flow.held(for: "roads") == 3)
        #expect(flow.held(for: "parks") == 0)
        // Workers took three: the backlog is at its bound, room for one.
        let first = flow.release("roads", ready: 3, workers: 2)
        #expect(first == [Self.answer(1)])
        // A new answer while others wait queues behind them, whatever the backlog.
        let next = flow.answered(Self.answer(4), department: "roads", ready: 2, workers: 2)
        #expect(next == [Self.answer(2), Self.answer(3)])
        #expect(flow.held(for: "roads") == 1)
        let last = flow.release("roads", ready: 0, workers: 2)
        #expect(last == [Self.answer(4)])
        #expect(flow.heldCount == 0)
        #expect(flow.heldTotal == 4)
        #expect(flow.throttledDepartments.isEmpty)
    }

    @Test func aDepartmentWithNoWorkerIsNeverThrottled() {
        var flow = IngestFlowControl(maxReadyBacklog: 3)
        let sent = flow.answered(Self.answer(1), department: "front-office", ready: 1_000, workers: 0)
        #expect(sent == [Self.answer(1)])
    }

    @Test func answersWaitingWhenTheLastWorkerLeavesAllGo() {
        var flow = IngestFlowControl(maxReadyBacklog: 1)
        _ = flow.answered(Self.answer(1), department: "roads", ready: 2, workers: 1)
        _ = flow.answered(Self.answer(2), department: "roads", ready: 3, workers: 1)
        #expect(flow.release("roads", ready: 3, workers: 1).isEmpty)
        let all = flow.release("roads", ready: 3, workers: 0)
        #expect(all == [Self.answer(1), Self.answer(2)])
    }

    @Test func zeroTurnsFlowControlOff() {
        var flow = IngestFlowControl(maxReadyBacklog: 0)
        let sent = flow.answered(Self.answer(1), department: "roads", ready: 1_000_000, workers: 5)
        #expect(sent == [Self.answer(1)])
    }

    @Test func heldAnswersAreBoundedOldestFirst() {
        var flow = IngestFlowControl(maxReadyBacklog: 1, maxHeld: 2)
        #expect(flow.answered(Self.answer(1), department: "roads", ready: 5, workers: 1).isEmpty)
        #expect(flow.answered(Self.answer(2), department: "roads", ready: 6, workers: 1).isEmpty)
        let overflow = flow.answered(Self.answer(3), department: "roads", ready: 7, workers: 1)
        #expect(overflow == [Self.answer(1)])
        #expect(flow.heldCount == 2)
        let rest = flow.releaseAll()
        #expect(rest == [Self.answer(2), Self.answer(3)])
        #expect(flow.heldCount == 0)
    }
}

/// Flow control through a real engine: a gateway that outruns a department's workers
/// waits for them, and gets every answer once they catch up.
@Suite(.serialized) struct FlowControlTests {
    static func configuration(maxReadyBacklog: Int) -> SwitchboardConfiguration {
        var configuration = SwitchboardConfiguration.demo()
        configuration.maxReadyBacklog = maxReadyBacklog
        return configuration
    }

    /// The waste department's figures; zero before the first snapshot.
    static func waste(_ board: StatsBoard) -> (ready: Int, workers: Int, held: Int) {
        guard let waste = board.current?.departments.first(where: { $0.id == "waste" }) else { return (0, 0, 0) }
        return (waste.ready, waste.workers, waste.answersHeld)
    }

    static func heldTotal(_ board: StatsBoard) -> Int { board.current?.ingest.answersHeld ?? -1 }

    static func acceptedForWaste(_ answer: [String: Any]) -> Bool {
        let status = answer["status"] as? String
        let department = answer["department"] as? String
        return status == "accepted" && department == "waste"
    }

    /// Sends `count` ingests for the waste department at once, as a gateway with that
    /// many outstanding; returns the client, to read the answers.
    static func flood(_ endpoint: String, count: Int) throws -> MajordomoClient {
        let client = try MajordomoClient(context: try Context(), endpoint: endpoint)
        for n in 0..<count { try client.send("sb.ingest", body: [envelope("flood-\(n)", text: "My bin was not collected")]) }
        return client
    }

    /// Reads the answers that have arrived.
    static func answers(_ client: MajordomoClient, into seen: inout [[String: Any]]) throws {
        while let message = try client.receive(timeout: .milliseconds(10)) { seen.append(jsonObject(message.body)) }
    }

    /// What holds a test worker's answer back until the test lets it go: once open, it
    /// stays open for every later pass.
    final class Gate: Sendable {
        private let signal = DispatchSemaphore(value: 0)

        func open() { signal.signal() }

        /// Waits for ``open()``, at most 30 s, then passes the signal on to the next
        /// waiter.
        func pass() {
            _ = signal.wait(timeout: .now() + 30)
            signal.signal()
        }
    }

    /// A plain 7/MDP worker for waste that holds the first inquiry it gets until `gate`
    /// opens.
    static func gatedWorker(_ endpoint: String, gate: Gate) -> WorkerThread {
        WorkerThread(endpoint: endpoint, service: "waste", heartbeat: .seconds(1)) { _ in
            gate.pass()
            return [Frame(#"{"outcome":"accepted"}"#)]
        }
    }

    /// An engine with a backlog bound of 5 and one gated worker for waste, registered.
    static func throttledWaste() throws -> (engine: BrokerEngine, board: StatsBoard, endpoint: String, gate: Gate, worker: WorkerThread) {
        let board = StatsBoard()
        let engine = try startEngine(heartbeat: .seconds(1), liveness: 20, configuration: Self.configuration(maxReadyBacklog: 5), stats: board)
        let endpoint = try #require(engine.endpoint)
        let gate = Gate()
        let worker = Self.gatedWorker(endpoint, gate: gate)
        try waitUntil("worker registered") { Self.waste(board).workers == 1 }
        return (engine, board, endpoint, gate, worker)
    }

    /// Reads answers until `count` have come, adding them to `seen`.
    static func awaitAnswers(_ client: MajordomoClient, count: Int, into seen: inout [[String: Any]]) throws {
        try waitUntil("\(count) answers") {
            try Self.answers(client, into: &seen)
            return seen.count >= count
        }
        #expect(seen.count == count)
    }

    @Test func aGatewayOutrunningTheWorkersWaitsUntilTheyCatchUp() throws {
        let (engine, board, endpoint, gate, worker) = try Self.throttledWaste()
        defer { engine.stop() }
        defer { worker.stop() }
        let client = try Self.flood(endpoint, count: 30)
        defer { client.close() }
        // One held by the worker, 29 ready: the answers for the first six (backlog 0 to
        // 5) went out, the other 24 wait.
        try waitUntil("answers held") { Self.waste(board).held == 24 }
        var seen: [[String: Any]] = []
        try Self.answers(client, into: &seen)
        #expect(seen.count == 6)
        #expect(Self.waste(board).ready == 29)
        let department = try #require(board.current?.departments.first { $0.id == "waste" })
        let troubles: [String] = StatusPage.troubles(department).map(\.text)
        #expect(troubles.contains("workers behind: gateways slowed"))

        gate.open()
        try Self.awaitAnswers(client, count: 30, into: &seen)
        #expect(seen.allSatisfy(Self.acceptedForWaste))
        let ids: Set<String> = Set(seen.compactMap { $0["id"] as? String })
        #expect(ids.count == 30)
        try waitUntil("all delivered") { worker.served.withLock { $0 } == 30 }
        try waitUntil("nothing held") { Self.waste(board).held == 0 }
        #expect(Self.heldTotal(board) == 24)
    }

    @Test func answersHeldForADepartmentGoWhenItsLastWorkerLeaves() throws {
        let (engine, board, endpoint, gate, worker) = try Self.throttledWaste()
        defer { engine.stop() }
        let client = try Self.flood(endpoint, count: 20)
        defer { client.close() }
        try waitUntil("answers held") { Self.waste(board).held == 14 }

        // The worker answers the one it holds and says DISCONNECT: the department has
        // nobody left to wait for, and every gateway is answered.
        worker.requestStop()
        gate.open()
        worker.stop()
        var seen: [[String: Any]] = []
        try Self.awaitAnswers(client, count: 20, into: &seen)
        try waitUntil("stats") { Self.waste(board) == (ready: 19, workers: 0, held: 0) }
    }

    @Test func aDepartmentWithNoWorkerQueuesWithoutSlowingTheGateway() throws {
        let board = StatsBoard()
        let engine = try startEngine(configuration: Self.configuration(maxReadyBacklog: 5), stats: board)
        defer { engine.stop() }
        let client = try Self.flood(try #require(engine.endpoint), count: 20)
        defer { client.close() }
        var seen: [[String: Any]] = []
        try Self.awaitAnswers(client, count: 20, into: &seen)
        try waitUntil("stats") { Self.waste(board).ready == 20 }
        #expect(Self.heldTotal(board) == 0)
    }
}
