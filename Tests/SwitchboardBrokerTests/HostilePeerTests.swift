import Foundation
import Majordomo
import Synchronization
import Testing
import TestSupport
import ZeroMQ
@testable import SwitchboardBroker

/// Peers that attack the broker: each case was found by attacking a running broker
/// from loopback. Each runs against a spawned `switchboardd`, so a crash is seen as a
/// dead process rather than taking the test runner down.
@Suite(.serialized) struct HostilePeerTests {
    /// libzmq 4.3 numbers anonymous peers' routing ids from a counter, and aborts when a
    /// peer has chosen the id it is about to assign. The exact sequence that aborted the
    /// broker: a worker learns a client's id from a REQUEST, a DEALER connects with the
    /// next id, an ordinary client connects. Now the worker sees an opaque token, and the
    /// broker serves on.
    @Test func aPeerThatChoosesTheNextAnonymousRoutingIDCannotAbortTheBroker() throws {
        let daemon = try SpawnedDaemon()
        let context = try Context()
        let seen = Mutex<Frame?>(nil)
        let worker = WorkerThread(endpoint: daemon.endpoint, service: "echo") { request in
            seen.withLock { $0 = request.client }
            return ["echo"]
        }
        defer { worker.stop() }
        let first = try MajordomoClient(context: context, endpoint: daemon.endpoint)
        defer { first.close() }
        try waitUntil("a worker for echo") { try first.request("mmi.service", body: ["echo"])?.body == ["200"] }
        #expect(try first.request("echo", body: ["hello"])?.body == ["echo"])
        let address = try #require(seen.withLock { $0 })
        #expect(!(address.count == 5 && address.bytes.first == 0), "the worker saw a libzmq routing id")

        // The spoofer takes what the worker saw, plus one.
        func plusOne(_ bytes: [UInt8]) -> [UInt8] {
            var next = bytes
            var index = next.count - 1
            while index >= 0 {
                next[index] &+= 1
                if next[index] != 0 { break }
                index -= 1
            }
            return next
        }
        let guesses = [plusOne(address.bytes)]
        var spoofers: [Socket] = []
        defer { spoofers.forEach { $0.close() } }
        for guess in guesses {
            let spoofer = try Socket(context, .dealer)
            try spoofer.setRoutingID(Frame(guess))
            try spoofer.connect(daemon.endpoint)
            try spoofer.send(ClientMessage(service: "mmi.service", body: ["echo"]).frames)
            spoofers.append(spoofer)
        }
        for spoofer in spoofers { _ = try spoofer.receive(.timeout(.seconds(2))) }

        // Ordinary clients keep arriving; each is served, and the broker lives.
        for n in 0..<20 {
            let ordinary = try MajordomoClient(context: context, endpoint: daemon.endpoint)
            defer { ordinary.close() }
            #expect(try ordinary.request("echo", body: ["client \(n)"], timeout: .seconds(5))?.body == ["echo"])
        }
        #expect(daemon.isRunning)
    }

    /// Nor can the counter be guessed from the version: before the broker seeded C's
    /// `rand()`, every run of the same build gave its first anonymous peer the same id.
    @Test func theFirstAnonymousRoutingIDDiffersFromRunToRun() throws {
        func firstWorkerID() throws -> String {
            let daemon = try SpawnedDaemon()
            let worker = WorkerThread(endpoint: daemon.endpoint, service: "probe") { _ in ["ok"] }
            defer { worker.stop() }
            try waitUntil("worker ready logged") { daemon.log.contains("worker ready") }
            let line = try #require(daemon.log.split(separator: "\n").first { $0.contains("worker ready") })
            #expect(line.contains("mdp.worker=w-"), "named as timelines name it: \(line)")
            let id = try #require(line.split(separator: " ").first { $0.hasPrefix("mdp.peer=") })
            _ = try daemon.terminate()
            return String(id)
        }
        let first = try firstWorkerID(), second = try firstWorkerID()
        #expect(first.hasPrefix("mdp.peer=0x00"), "an anonymous id: \(first)")
        #expect(first != second)
    }

    /// Malformed messages that carry an envelope: the log names sizes and prefixes,
    /// never the citizen's words, and a flood of them writes a bounded amount.
    @Test func malformedMessagesNeverPutTheirContentsInTheLog() throws {
        let daemon = try SpawnedDaemon(arguments: ["--unserved-timeout", "100ms"], logLevel: "trace")
        let context = try Context()
        let canary = "CANARY-Streetlights-out-on-Elm"
        let envelope = Frame(#"{"source":{"platform":"x","account":"@RivertonCity","external_id":"c1"},"author":{"handle":"@canary_handle"},"text":"\#(canary)","captured_at":"2026-11-22T09:30:00Z"}"#)
        let peer = try Socket(context, .dealer)
        defer { peer.close() }
        try peer.connect(daemon.endpoint)
        try peer.send(["", envelope])                                  // no protocol frame
        try peer.send(["", "MDPW01", envelope])                        // an envelope as a worker command
        try peer.send(["", "MDPC01", envelope, "body"])                // an envelope as the service name
        try peer.send(Array(repeating: Frame("x"), count: 100))        // too many frames
        let big = Frame(String(repeating: "A", count: 200_000) + canary)
        let logBefore = daemon.log.utf8.count
        for _ in 0..<200 { try peer.send(["", big]) }

        // Still serving, and the unserved request has expired (so it was logged).
        let client = try MajordomoClient(context: context, endpoint: daemon.endpoint)
        defer { client.close() }
        try waitUntil("the broker answers") { try client.request("mmi.service", body: ["nobody"], timeout: .seconds(1))?.body == ["404"] }
        try waitUntil("the unserved request expired") { daemon.log.contains("request expired") }
        #expect(!daemon.log.contains(canary), "citizen text reached the log")
        #expect(!daemon.log.contains("canary_handle"), "a citizen handle reached the log")
        let written = daemon.log.utf8.count - logBefore
        print("malformed flood: 200 frames of 200 kB wrote \(written) bytes of log")
        #expect(written < 20_000)
        #expect(try daemon.terminate() == 0)
    }
}

/// Raw and protocol-level attacks on a spawned broker: after each, good peers are still
/// served within a bound the test prints.
@Suite(.serialized) struct HostileWireTests {
    func servedWithin(_ daemon: SpawnedDaemon, _ what: String) throws {
        let client = try MajordomoClient(context: try Context(), endpoint: daemon.endpoint)
        defer { client.close() }
        let start = ContinuousClock.now
        #expect(try client.request("mmi.service", body: ["roads"], timeout: .seconds(5))?.body == ["404"], "after \(what)")
        print("after \(what): a good client was served in \(ContinuousClock.now - start)")
        #expect(daemon.isRunning)
    }

    @Test func garbageBeforeTheGreetingAndOversizedMessages() throws {
        let daemon = try SpawnedDaemon()
        let port = try #require(daemon.endpoint.split(separator: ":").last.flatMap { UInt16($0) })
        // Raw TCP garbage where the ZMTP greeting should be.
        let raw = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(raw, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        #expect(connected == 0)
        let garbage = [UInt8](repeating: 0xAB, count: 4_096)
        _ = garbage.withUnsafeBytes { send(raw, $0.baseAddress, $0.count, 0) }
        close(raw)
        try servedWithin(daemon, "garbage before the greeting")

        // A message over the 256 KiB limit drops only its sender's connection.
        let context = try Context()
        let big = try Socket(context, .dealer)
        defer { big.close() }
        try big.setLinger(.zero)
        try big.connect(daemon.endpoint)
        try big.send(["", "MDPC01", "roads", Frame([UInt8](repeating: 0x41, count: 300_000))])
        try servedWithin(daemon, "an oversized message")
    }

    /// A worker that replies for a request it never held, or replays one it answered, is
    /// disconnected; the client gets exactly one reply.
    @Test func spoofedAndReplayedRepliesAreRefused() throws {
        let daemon = try SpawnedDaemon()
        let context = try Context()
        let worker = try Socket(context, .dealer)
        defer { worker.close() }
        try worker.setLinger(.zero)
        try worker.connect(daemon.endpoint)
        try worker.send(WorkerCommand.ready(service: "echo").frames)
        let client = try MajordomoClient(context: context, endpoint: daemon.endpoint)
        defer { client.close() }
        try waitUntil("echo registered") { try client.request("mmi.service", body: ["echo"], timeout: .seconds(1))?.body == ["200"] }
        try client.send("echo", body: ["hi"])
        var request: [Frame]?
        try waitUntil("the worker gets the request") {
            request = try worker.receive(.timeout(.milliseconds(50)))
            return request.map { $0.count >= 4 && $0[2] == Frame([2]) } ?? false
        }
        let address = try #require(request?[3])
        try worker.send(WorkerCommand.reply(client: address, body: ["answer"]).frames)
        #expect(try client.receive(timeout: .seconds(5))?.body == ["answer"])
        // Replayed, then spoofed: the broker answers with DISCONNECT and the client hears nothing more.
        try worker.send(WorkerCommand.reply(client: address, body: ["again"]).frames)
        var disconnected = false
        try waitUntil("DISCONNECT for the replayed reply") {
            guard let frames = try worker.receive(.timeout(.milliseconds(50))) else { return false }
            disconnected = frames.count == 3 && frames[2] == Frame([5])
            return disconnected
        }
        #expect(try client.receive(timeout: .milliseconds(300)) == nil)
        try servedWithin(daemon, "a replayed reply")
    }
}

/// Connections that complete the handshake and then idle: the broker closes those over
/// the per-address limit at once and the rest after the idle timeout, and good clients
/// keep being served while the attackers reconnect.
@Suite(.serialized) struct IdleConnectionTests {
    @Test func aThousandIdleConnectionsDoNotStarveGoodClients() throws {
        let daemon = try SpawnedDaemon(arguments: ["--max-connections-per-source", "100", "--idle-timeout", "500ms"])
        let context = try Context()
        var idlers: [Socket] = []
        defer { idlers.forEach { $0.close() } }
        // The attacker connects from another loopback address, 127.0.0.2.
        let attack = daemon.endpoint.replacingOccurrences(of: "tcp://", with: "tcp://127.0.0.2:0;")
        for _ in 0..<1_000 {
            let idler = try Socket(context, .dealer)
            try idler.setLinger(.zero)
            try idler.connect(attack)
            idlers.append(idler)
        }
        try waitUntil("connections refused over the limit") { daemon.log.contains("connection refused") }
        try waitUntil("idle connections cut") { daemon.log.contains("connection cut") }
        for n in 0..<10 {
            let client = try MajordomoClient(context: context, endpoint: daemon.endpoint)
            defer { client.close() }
            let start = ContinuousClock.now
            #expect(try client.request("mmi.service", body: ["roads"], timeout: .seconds(5))?.body == ["404"], "client \(n)")
            if n == 0 { print("with 1,000 idle connections reconnecting: a good client was served in \(ContinuousClock.now - start)") }
        }
        #expect(daemon.isRunning)
    }
}
