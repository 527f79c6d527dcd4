import Foundation
import Synchronization
import Testing
import TestSupport
@testable import ZeroMQ

/// Every test makes its own context and real sockets over `inproc://` or loopback TCP.
@Suite struct SocketTests {
    let context: Context
    init() throws { context = try Context() }

    @Test func routerDealerRoundTripKeepsEmptyAndBinaryFrames() throws {
        for endpoint in ["inproc://round-trip", "tcp://127.0.0.1:*"] {
            let router = try Socket(context, .router)
            let bound = try router.bind(endpoint)
            let dealer = try Socket(context, .dealer)
            try dealer.setRoutingID("dealer-1")
            try dealer.connect(bound)

            let binary = Frame((0...255).map { UInt8($0) })
            try dealer.send([.empty, "hello", binary, .empty])
            let received = try #require(try router.receive(.timeout(.seconds(5))))
            #expect(received == ["dealer-1", .empty, "hello", binary, .empty])

            try router.send([received[0], "reply", .empty])
            #expect(try dealer.receive(.timeout(.seconds(5))) == ["reply", .empty])
        }
    }

    @Test func tcpWildcardBindReportsTheRealPort() throws {
        let socket = try Socket(context, .router)
        let endpoint = try socket.bind("tcp://127.0.0.1:*")
        #expect(endpoint.hasPrefix("tcp://127.0.0.1:"))
        let port = Int(endpoint.split(separator: ":").last ?? "")
        #expect(port != nil && port! > 0)
    }

    @Test func pubSubDeliversOnlySubscribedTopics() throws {
        let pub = try Socket(context, .pub)
        let endpoint = try pub.bind("tcp://127.0.0.1:*")
        let sub = try Socket(context, .sub)
        try sub.subscribe("inquiry.")
        try sub.connect(endpoint)

        // A SUB joins asynchronously, so publish until the first message gets through.
        var received: [[Frame]] = []
        let deadline = ContinuousClock.now + .seconds(5)
        while received.count < 20 && ContinuousClock.now < deadline {
            try pub.send(["sla.breach", "ignored"])
            try pub.send(["inquiry.routed", "kept"])
            while let message = try sub.receive(.timeout(.milliseconds(10))) { received.append(message) }
        }
        #expect(received.count >= 20)
        #expect(received.allSatisfy { $0 == ["inquiry.routed", "kept"] })

        try sub.unsubscribe("inquiry.")
        try sub.subscribe("sla.")
        var switched = false
        let second = ContinuousClock.now + .seconds(5)
        while !switched && ContinuousClock.now < second {
            try pub.send(["sla.breach", "now kept"])
            while let message = try sub.receive(.timeout(.milliseconds(10))) {
                if message[0] == "sla.breach" { switched = true }
            }
        }
        #expect(switched)
    }

    @Test func pollTimesOutWhenNothingArrives() throws {
        let a = try Socket(context, .pair)
        try a.bind("inproc://quiet")
        let b = try Socket(context, .pair)
        try b.connect("inproc://quiet")
        var poller = Poller([a, b])
        let start = ContinuousClock.now
        #expect(try poller.poll(timeout: .milliseconds(50)) == [false, false])
        #expect(ContinuousClock.now - start >= .milliseconds(40))
        #expect(try a.receive(.nonBlocking) == nil)
        #expect(try a.receive(.timeout(.milliseconds(20))) == nil)

        try b.send("wake")
        #expect(try poller.poll(timeout: .seconds(5)) == [true, false])
    }

    /// libzmq waits in whole milliseconds: a wait shorter than one must still sleep (or a
    /// caller polling towards a near deadline spins), and a passed deadline must not
    /// become libzmq's "forever".
    @Test func timeoutsRoundUpToWholeMillisecondsAndNeverBecomeForever() {
        #expect(Socket.milliseconds(.microseconds(400)) == 1)
        #expect(Socket.milliseconds(.microseconds(1_001)) == 2)
        #expect(Socket.milliseconds(.milliseconds(50)) == 50)
        #expect(Socket.milliseconds(.zero) == 0)
        #expect(Socket.milliseconds(.milliseconds(-3)) == 0)
    }

    @Test func badEndpointsFailWithTheFunctionAndErrno() throws {
        let socket = try Socket(context, .router)
        #expect(throws: ZMQError.failed(function: "zmq_bind(nonsense)", errno: .invalidArgument)) {
            try socket.bind("nonsense")
        }
        do {
            try socket.bind("bogus://somewhere")
            Issue.record("bind to an unknown transport succeeded")
        } catch ZMQErrno.protocolNotSupported {
            // matched through ZMQErrno's ~=
        } catch {
            Issue.record("unexpected \(error)")
        }
        let error = ZMQError.failed(function: "zmq_bind(nonsense)", errno: .invalidArgument)
        #expect(error.description.contains("zmq_bind(nonsense) failed: EINVAL"))
    }

    @Test func oversizedMessageIsDroppedUnderMaxMessageSize() throws {
        let router = try Socket(context, .router)
        try router.setMaxMessageSize(100)
        let endpoint = try router.bind("tcp://127.0.0.1:*")
        let dealer = try Socket(context, .dealer)
        try dealer.connect(endpoint)
        try dealer.send(Frame([UInt8](repeating: 7, count: 1_000)))

        // libzmq drops the connection that carried the oversized frame; the dealer
        // reconnects and a small message then gets through.
        var delivered: [[Frame]] = []
        let deadline = ContinuousClock.now + .seconds(10)
        while delivered.isEmpty && ContinuousClock.now < deadline {
            try dealer.send("small", dontWait: true)
            while let message = try router.receive(.timeout(.milliseconds(50))) { delivered.append(message) }
        }
        #expect(!delivered.isEmpty)
        #expect(delivered.allSatisfy { $0.count == 2 && $0[1] == "small" })
    }

    @Test func routerMandatoryReportsUnknownPeers() throws {
        let router = try Socket(context, .router)
        try router.setRouterMandatory(true)
        _ = try router.bind("inproc://mandatory")
        #expect(throws: ZMQError.failed(function: "zmq_send", errno: .hostUnreachable)) {
            try router.send(["nobody", "hello"])
        }
    }

    @Test func closedSocketFailsInsteadOfCrashing() throws {
        let socket = try Socket(context, .dealer)
        socket.close()
        socket.close()
        #expect(socket.isClosed)
        #expect(throws: ZMQError.failed(function: "zmq_send", errno: .notSocket)) { try socket.send("late") }
    }

    @Test func shutdownWakesABlockedReceiverWithContextTerminated() throws {
        let context = try Context()
        let outcome = Mutex<ZMQError?>(nil)
        let ready = Mutex(false)
        let thread = Thread {
            do {
                let socket = try Socket(context, .pair)
                ready.withLock { $0 = true }
                _ = try socket.receive()
            } catch let error as ZMQError {
                outcome.withLock { $0 = error }
            } catch {
            }
        }
        thread.start()
        try waitUntil { ready.withLock { $0 } }
        context.shutdown()
        try waitUntil { outcome.withLock { $0 } != nil }
        #expect(outcome.withLock { $0 } == .contextTerminated(function: "zmq_msg_recv"))
    }

    @Test func optionsAcceptTheirValues() throws {
        let socket = try Socket(context, .router)
        try socket.setLinger(.zero)
        try socket.setLinger(nil)
        try socket.setSendHighWaterMark(10_000)
        try socket.setReceiveHighWaterMark(10_000)
        try socket.setHeartbeat(interval: .seconds(1), ttl: .seconds(3), timeout: .seconds(3))
        try socket.setZAPDomain("switchboard")
        try socket.setZAPEnforceDomain(true)
        try socket.setRoutingID("broker")
        #expect(try socket.routingID() == "broker")
        #expect(Context.libraryVersion.hasPrefix("4."))
        #expect(Context.headerVersion >= 40_000)
    }
}
