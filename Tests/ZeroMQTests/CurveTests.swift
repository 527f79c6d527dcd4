import Foundation
import Synchronization
import Testing
import TestSupport
@testable import ZeroMQ

@Suite struct Z85Tests {
    @Test func knownVectorFromTheSpec() throws {
        // 32/Z85's test vector.
        let bytes: [UInt8] = [0x86, 0x4F, 0xD2, 0x6F, 0xB5, 0x59, 0xF7, 0x5B]
        #expect(try Z85.encode(bytes) == "HelloWorld")
        #expect(try Z85.decode("HelloWorld") == bytes)
    }

    @Test func randomBytesRoundTrip() throws {
        var generator = SystemRandomNumberGenerator()
        for length in stride(from: 0, through: 128, by: 4) {
            let bytes = (0..<length).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
            #expect(try Z85.decode(Z85.encode(bytes)) == bytes)
        }
    }

    @Test func malformedInputIsAnError() {
        #expect(throws: ZMQError.failed(function: "zmq_z85_encode", errno: .invalidArgument)) {
            try Z85.encode([1, 2, 3])
        }
        #expect(throws: ZMQError.failed(function: "zmq_z85_decode", errno: .invalidArgument)) {
            try Z85.decode("Hell")
        }
        #expect(throws: ZMQError.failed(function: "zmq_z85_decode", errno: .invalidArgument)) {
            try Z85.decode("Hello Wor~")
        }
    }

    @Test func keyPairsAreFortyCharacterZ85() throws {
        let pair = try CurveKeyPair.generate()
        #expect(pair.publicKey.utf8.count == 40)
        #expect(pair.secretKey.utf8.count == 40)
        #expect(try Z85.decode(pair.publicKey).count == 32)
        #expect(try CurveKeyPair.generate() != pair)
    }
}

@Suite struct CurveTests {
    let context: Context
    init() throws { context = try Context() }

    /// Connects a CURVE client that trusts `trustedServerKey` and reports whether a
    /// round trip completed before `timeout`.
    func roundTrip(serverKeys: CurveKeyPair, trustedServerKey: String, timeout: Duration) throws -> Bool {
        let server = try Socket(context, .router)
        try server.setCurveServer(secretKey: serverKeys.secretKey)
        let endpoint = try server.bind("tcp://127.0.0.1:*")
        let client = try Socket(context, .dealer)
        try client.setCurveClient(serverKey: trustedServerKey, keyPair: try CurveKeyPair.generate())
        try client.connect(endpoint)
        try client.send("over curve")
        guard let request = try server.receive(.timeout(timeout)) else { return false }
        try server.send([request[0], "secured"])
        return try client.receive(.timeout(timeout)) == ["secured"]
    }

    @Test(.enabled(if: Context.has("curve"))) func handshakeSucceedsWithTheRightServerKey() throws {
        let keys = try CurveKeyPair.generate()
        #expect(try roundTrip(serverKeys: keys, trustedServerKey: keys.publicKey, timeout: .seconds(5)))
    }

    @Test(.enabled(if: Context.has("curve"))) func handshakeFailsWithAWrongServerKey() throws {
        let keys = try CurveKeyPair.generate()
        let impostor = try CurveKeyPair.generate()
        #expect(try !roundTrip(serverKeys: keys, trustedServerKey: impostor.publicKey, timeout: .milliseconds(750)))
    }

    /// A ZAP handler on `inproc://zeromq.zap.01` authenticates the client, and the
    /// server reads the `User-Id` it assigned from the received message.
    @Test(.enabled(if: Context.has("curve"))) func zapHandlerAssignsTheUserID() throws {
        let context = context
        let handlerReady = Mutex(false)
        let handler = Thread {
            guard let zap = try? Socket(context, .rep), (try? zap.bind("inproc://zeromq.zap.01")) != nil else { return }
            handlerReady.withLock { $0 = true }
            // ZAP request: version, request id, domain, address, identity, mechanism, key.
            while let request = try? zap.receive(.timeout(.seconds(10))) {
                let domainIsOurs = request.count >= 7 && request[2] == "switchboard"
                try? zap.send([
                    "1.0", request[1], domainIsOurs ? "200" : "400", domainIsOurs ? "OK" : "wrong domain",
                    domainIsOurs ? "gateway-7" : .empty, .empty,
                ])
            }
        }
        handler.start()
        try waitUntil { handlerReady.withLock { $0 } }

        let keys = try CurveKeyPair.generate()
        let server = try Socket(context, .router)
        try server.setCurveServer(secretKey: keys.secretKey)
        try server.setZAPDomain("switchboard")
        try server.setZAPEnforceDomain(true)
        let endpoint = try server.bind("tcp://127.0.0.1:*")
        let client = try Socket(context, .dealer)
        try client.setCurveClient(serverKey: keys.publicKey, keyPair: try CurveKeyPair.generate())
        try client.connect(endpoint)
        try client.send("who am I")

        let message = try #require(try server.receiveMessage(.timeout(.seconds(5)), properties: ["User-Id"]))
        #expect(message.frames.last == "who am I")
        #expect(message.properties["User-Id"] == "gateway-7")
    }

    /// Fail closed: with the ZAP domain enforced, a CURVE server lets no client in while
    /// no ZAP handler answers, whether none is bound or the one bound is silent. libzmq
    /// would otherwise accept any client that knows the server key.
    @Test(.enabled(if: Context.has("curve")), arguments: [false, true])
    func withoutAnAnsweringZAPHandlerNoPeerGetsIn(silentHandlerBound: Bool) throws {
        let context = try Context()
        var silent: Socket?
        if silentHandlerBound {
            silent = try Socket(context, .rep)
            try silent?.bind("inproc://zeromq.zap.01")
        }
        defer { silent?.close() }
        let keys = try CurveKeyPair.generate()
        let server = try Socket(context, .router)
        defer { server.close() }
        try server.setCurveServer(secretKey: keys.secretKey)
        try server.setZAPDomain("switchboard")
        try server.setZAPEnforceDomain(true)
        let endpoint = try server.bind("tcp://127.0.0.1:*")
        let client = try Socket(context, .dealer)
        defer { client.close() }
        try client.setLinger(.zero)
        try client.setCurveClient(serverKey: keys.publicKey, keyPair: try CurveKeyPair.generate())
        try client.connect(endpoint)
        try client.send("let me in")
        #expect(try server.receive(.timeout(.milliseconds(750))) == nil)
    }
}
