import Foundation
import Majordomo
import Synchronization
import Testing
import TestSupport
import ZeroMQ
@testable import SwitchboardBroker

/// The broker engine with real Swift clients and workers over loopback TCP.
@Suite(.serialized) struct BrokerIntegrationTests {
    @Test func requestsReachTheRightServiceAcrossSeveralServices() throws {
        let engine = try startEngine()
        defer { engine.stop() }
        let endpoint = try #require(engine.endpoint)
        let upper = (0..<2).map { _ in
            WorkerThread(endpoint: endpoint, service: "upper") { [Frame(($0.body.first?.string ?? "").uppercased())] }
        }
        let reverse = WorkerThread(endpoint: endpoint, service: "reverse") { [Frame(String(($0.body.first?.string ?? "").reversed()))] }
        defer { (upper + [reverse]).forEach { $0.stop() } }

        let client = try MajordomoClient(context: try Context(), endpoint: endpoint)
        defer { client.close() }
        for index in 0..<50 {
            let upperReply = try #require(try client.request("upper", body: ["parks \(index)"], timeout: .seconds(5)))
            #expect(upperReply == ClientMessage(service: "upper", body: [Frame("PARKS \(index)")]))
            let reverseReply = try #require(try client.request("reverse", body: ["abc"], timeout: .seconds(5)))
            #expect(reverseReply.body == ["cba"])
        }
        // Load is shared between the two "upper" workers.
        #expect(upper.allSatisfy { $0.served.withLock { $0 } > 0 })
    }

    @Test func manyOutstandingRequestsFromOneDealerClient() throws {
        let engine = try startEngine()
        defer { engine.stop() }
        let endpoint = try #require(engine.endpoint)
        let workers = (0..<4).map { _ in WorkerThread(endpoint: endpoint, service: "echo") { $0.body } }
        defer { workers.forEach { $0.stop() } }

        let client = try MajordomoClient(context: try Context(), endpoint: endpoint)
        defer { client.close() }
        for index in 0..<200 { try client.send("echo", body: [Frame("\(index)")]) }
        var seen = Set<String>()
        while seen.count < 200, let reply = try client.receive(timeout: .seconds(10)) {
            seen.insert(reply.body.first?.string ?? "")
        }
        #expect(seen == Set((0..<200).map(String.init)))
    }

    /// A worker announcing a credit of 4 receives four requests before it replies to
    /// any, and may answer them in any order.
    @Test func creditedWorkerHoldsSeveralRequestsAtOnce() throws {
        let engine = try startEngine()
        defer { engine.stop() }
        let endpoint = try #require(engine.endpoint)
        let held = Mutex(0)
        let done = DispatchSemaphore(value: 0)
        let thread = Thread {
            defer { done.signal() }
            guard let context = try? Context(),
                  let worker = try? MajordomoWorker(context: context, endpoints: [endpoint], service: "batch", heartbeatInterval: .milliseconds(100), credit: 4)
            else { return }
            var requests: [WorkerRequest] = []
            while requests.count < 4, let request = try? worker.receive(timeout: .seconds(10)) {
                requests.append(request)
                held.withLock { $0 = requests.count }
            }
            for request in requests.reversed() { try? worker.reply(to: request, body: request.body) }
            _ = try? worker.receive(timeout: .milliseconds(200))
            worker.disconnect()
        }
        thread.start()
        let client = try MajordomoClient(context: try Context(), endpoint: endpoint)
        defer { client.close() }
        try waitUntil("batch registered") { try client.request("mmi.service", body: ["batch"])?.body == ["200"] }
        for index in 0..<4 { try client.send("batch", body: [Frame("\(index)")]) }
        var replies = Set<String>()
        while replies.count < 4, let reply = try client.receive(timeout: .seconds(10)) { replies.insert(reply.body.first?.string ?? "") }
        #expect(replies == ["0", "1", "2", "3"])
        #expect(held.withLock { $0 } == 4)
        done.wait()
    }

    @Test func mmiServiceReportsWorkers() throws {
        let engine = try startEngine()
        defer { engine.stop() }
        let endpoint = try #require(engine.endpoint)
        let client = try MajordomoClient(context: try Context(), endpoint: endpoint)
        defer { client.close() }
        #expect(try client.request("mmi.service", body: ["waste"])?.body == ["404"])
        let worker = WorkerThread(endpoint: endpoint, service: "waste") { $0.body }
        defer { worker.stop() }
        try waitUntil("waste registered") { try client.request("mmi.service", body: ["waste"])?.body == ["200"] }
        #expect(try client.request("mmi.workers", body: [])?.body == ["501"])
    }

    /// The worker holding a request dies without replying; the request is not lost.
    @Test func workerKilledMidRequestDoesNotLoseTheRequest() throws {
        let logs = CapturedLogs()
        let engine = try startEngine(logs: logs)
        defer { engine.stop() }
        let endpoint = try #require(engine.endpoint)
        let doomed = WorkerThread(endpoint: endpoint, service: "permits") { _ in nil }
        try waitUntil("doomed worker registered") { doomed.registered.withLock { $0 } }
        let client = try MajordomoClient(context: try Context(), endpoint: endpoint)
        defer { client.close() }
        try waitUntil("permits registered") { try client.request("mmi.service", body: ["permits"])?.body == ["200"] }

        try client.send("permits", body: ["application 42"])
        try waitUntil("the doomed worker took the request") { doomed.received.withLock { $0 } == 1 }
        doomed.stop()   // its socket is closed; the broker is not told
        #expect(doomed.served.withLock { $0 } == 0)

        let rescuer = WorkerThread(endpoint: endpoint, service: "permits") { ["approved: " + ($0.body.first?.string ?? "")].map { Frame($0) } }
        defer { rescuer.stop() }
        let reply = try #require(try client.receive(timeout: .seconds(10)))
        #expect(reply.body == ["approved: application 42"])
        #expect(logs.contains("request requeued"))
        #expect(logs.all.contains { $0.message == "worker gone" && $0.metadata["mdp.service"] == "permits" })
    }

    /// Random garbage from clients and would-be workers never takes the broker down,
    /// and good peers keep being served throughout.
    @Test func randomMalformedTrafficFromBothSides() throws {
        let logs = CapturedLogs()
        let engine = try startEngine(logs: logs)
        defer { engine.stop() }
        let endpoint = try #require(engine.endpoint)
        let worker = WorkerThread(endpoint: endpoint, service: "echo") { $0.body }
        defer { worker.stop() }
        let context = try Context()
        let client = try MajordomoClient(context: context, endpoint: endpoint)
        defer { client.close() }

        var rng = SeededGenerator(seed: 42)
        let pieces: [Frame] = [.empty, "MDPC01", "MDPW01", Frame([1]), Frame([2]), Frame([3]), Frame([4]), Frame([5]), "echo", "mmi.service", "sb.ingest"]
        let attackers = try (0..<8).map { _ in
            let socket = try Socket(context, .dealer)
            try socket.setLinger(.zero)
            try socket.connect(endpoint)
            return socket
        }
        for round in 0..<400 {
            let attacker = attackers[Int(rng.next() % UInt64(attackers.count))]
            let frames: [Frame] = (0..<Int(1 + rng.next() % 7)).map { _ in
                rng.next() % 3 == 0
                    ? Frame((0..<Int(rng.next() % 40)).map { _ in UInt8(truncatingIfNeeded: rng.next()) })
                    : pieces[Int(rng.next() % UInt64(pieces.count))]
            }
            try attacker.send(frames)
            if round % 50 == 0 {
                let reply = try client.request("echo", body: [Frame("still there \(round)")], timeout: .seconds(5))
                #expect(reply?.body == [Frame("still there \(round)")])
            }
            while (try attacker.receive(.nonBlocking)) != nil {}
        }
        attackers.forEach { $0.close() }
        #expect(try client.request("echo", body: ["final"], timeout: .seconds(5))?.body == ["final"])
        #expect(logs.contains("malformed message dropped"))
    }
}

/// The real daemon, spawned as a process.
@Suite(.serialized) struct DaemonTests {
    @Test func daemonServesAndStopsCleanlyOnSIGTERM() throws {
        let daemon = try SpawnedDaemon(arguments: ["--heartbeat-interval", "200ms"])
        let worker = WorkerThread(endpoint: daemon.endpoint, service: "echo", heartbeat: .milliseconds(200)) { $0.body }
        defer { worker.stop() }
        let client = try MajordomoClient(context: try Context(), endpoint: daemon.endpoint)
        defer { client.close() }
        #expect(try client.request("echo", body: ["through the daemon"], timeout: .seconds(10))?.body == ["through the daemon"])
        #expect(try daemon.terminate() == 0)
        #expect(daemon.log.contains("broker stopped"))
    }

    @Test func daemonRejectsABadEndpointWithAHint() throws {
        let process = Process()
        process.executableURL = SpawnedDaemon.binary
        process.arguments = ["--endpoint", "nonsense", "--data", temporaryDirectory()]
        let pipe = Pipe()
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self)
        #expect(process.terminationStatus != 0)
        #expect(text.contains("EINVAL"))
        #expect(text.contains("--endpoint must look like"))
    }
}
