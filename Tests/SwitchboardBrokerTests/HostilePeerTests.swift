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
            let id = try #require(line.split(separator: " ").first { $0.hasPrefix("mdp.worker=") })
            _ = try daemon.terminate()
            return String(id)
        }
        let first = try firstWorkerID(), second = try firstWorkerID()
        #expect(first.hasPrefix("mdp.worker=0x00"), "an anonymous id: \(first)")
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
