import Foundation
import Logging
import Majordomo
import SwitchboardCore
import SwitchboardStore
import Testing
import TestSupport
import ZeroMQ
@testable import SwitchboardBroker

/// CURVE with authorised keys and roles, through a real engine and real sockets: who may
/// connect, and what each role may do.
@Suite(.serialized, .enabled(if: Context.has("curve"))) struct SecurityTests {
    let server: CurveKeyPair
    let ana: CurveKeyPair, roadsWorker: CurveKeyPair, gateway: CurveKeyPair, ops: CurveKeyPair
    let keys: KeyRing

    init() throws {
        server = try CurveKeyPair.generate()
        (ana, roadsWorker, gateway, ops) = (try CurveKeyPair.generate(), try CurveKeyPair.generate(), try CurveKeyPair.generate(), try CurveKeyPair.generate())
        keys = KeyRing(AuthorizedKeys([
            (ana.publicKey, KeyHolder(name: "ana", role: .agent(department: "front-office"))),
            (roadsWorker.publicKey, KeyHolder(name: "roads-1", role: .worker(department: "roads"))),
            (gateway.publicKey, KeyHolder(name: "gateway-x", role: .gateway)),
            (ops.publicKey, KeyHolder(name: "olga", role: .ops)),
        ]))
    }

    func startSecureEngine() throws -> BrokerEngine {
        var options = BrokerEngine.Options()
        options.endpoint = "tcp://127.0.0.1:*"
        options.eventsEndpoint = nil
        options.timerInterval = .milliseconds(20)
        options.configuration = try SwitchboardConfiguration.parse(yaml: Cities.handoff)
        options.broker.heartbeatInterval = .milliseconds(100)
        options.security = BrokerEngine.Security(serverSecretKey: server.secretKey, keys: keys)
        let data = temporaryDirectory()
        let engine = try BrokerEngine(options: options, store: try SQLiteInquiryStore(directory: data),
                                      journal: try SQLiteInquiryJournal(directory: data), logger: CapturedLogs().logger(label: "test.secure"))
        _ = try engine.start()
        return engine
    }

    func client(_ engine: BrokerEngine, _ pair: CurveKeyPair?) throws -> MajordomoClient {
        let serverKey = server.publicKey
        return try MajordomoClient(context: try Context(), endpoint: try #require(engine.endpoint)) { socket throws(ZMQError) in
            if let pair { try socket.setCurveClient(serverKey: serverKey, keyPair: pair) }
        }
    }

    func ask(_ client: MajordomoClient, _ service: String, _ fields: [String: Any], timeout: Duration = .seconds(5)) throws -> [String: Any]? {
        let body = Frame(bytes: try JSONSerialization.data(withJSONObject: fields))
        return try client.request(service, body: [body], timeout: timeout, retries: 0).map { jsonObject($0.body) }
    }

    static func code(_ answer: [String: Any]?) -> String? { (answer?["error"] as? [String: Any])?["code"] as? String }

    @Test func onlyAuthorisedKeysGetIn() throws {
        let engine = try startSecureEngine()
        defer { engine.stop() }
        let stranger = try client(engine, try CurveKeyPair.generate())
        defer { stranger.close() }
        #expect(try ask(stranger, "sb.agent.list", [:], timeout: .milliseconds(750)) == nil, "an unknown key got an answer")
        let plain = try client(engine, nil)
        defer { plain.close() }
        #expect(try ask(plain, "sb.agent.list", [:], timeout: .milliseconds(750)) == nil, "a peer without CURVE got an answer")
        let agent = try client(engine, ana)
        defer { agent.close() }
        #expect(try ask(agent, "sb.agent.list", [:])?["status"] as? String == "ok")
    }

    @Test func eachRoleDoesExactlyWhatItMay() throws {
        let engine = try startSecureEngine()
        defer { engine.stop() }
        let agent = try client(engine, ana), capture = try client(engine, gateway), opsClient = try client(engine, ops)
        defer { agent.close(); capture.close(); opsClient.close() }

        // Only a gateway ingests.
        let refused = try agent.request("sb.ingest", body: [envelope("s-1")], timeout: .seconds(5), retries: 0).map { jsonObject($0.body) }
        #expect(Self.code(refused) == "forbidden")
        #expect(((refused?["error"] as? [String: Any])?["message"] as? String)?.contains("gateway") == true)
        let accepted = try capture.request("sb.ingest", body: [envelope("s-1")], timeout: .seconds(5), retries: 0).map { jsonObject($0.body) }
        let id = try #require(accepted?["id"] as? String)

        // The agent acts as its key says: no agent or department field needed, and
        // another one is refused.
        let claimed = try ask(agent, "sb.agent.claim", ["id": id])
        #expect(claimed?["owner"] as? String == "agent ana")
        #expect(Self.code(try ask(agent, "sb.agent.release", ["id": id, "agent": "mallory"])) == "forbidden")
        #expect(Self.code(try ask(agent, "sb.agent.list", ["department": "roads"])) == "forbidden")
        // An agent of another department cannot read it by id either.
        let roadsAgentPair = try CurveKeyPair.generate()
        let before = keys.current
        keys.replace(with: AuthorizedKeys(before.byKey.map { (publicKey: $0.key, holder: $0.value) }
            + [(publicKey: roadsAgentPair.publicKey, holder: KeyHolder(name: "rob", role: .agent(department: "roads")))]))
        defer { keys.replace(with: before) }
        let roadsAgent = try client(engine, roadsAgentPair)
        defer { roadsAgent.close() }
        #expect(Self.code(try ask(roadsAgent, "sb.agent.show", ["id": id])) == "forbidden")
        #expect(Self.code(try ask(roadsAgent, "sb.agent.timeline", ["id": id])) == "forbidden")
        #expect(try ask(agent, "sb.agent.show", ["id": id])?["status"] as? String == "ok")
        // Operations read across departments but do not move inquiries.
        #expect(try ask(opsClient, "sb.agent.list", [:])?["total"] as? Int == 1)
        #expect(Self.code(try ask(opsClient, "sb.agent.handoff", ["id": id, "to": "roads", "note": "n", "department": "front-office"])) == "forbidden")
    }

    @Test func aWorkerKeyServesOnlyItsDepartment() throws {
        let engine = try startSecureEngine()
        defer { engine.stop() }
        let serverKey = server.publicKey, pair = roadsWorker
        let configure: @Sendable (Socket) throws(ZMQError) -> Void = { socket throws(ZMQError) in
            try socket.setCurveClient(serverKey: serverKey, keyPair: pair)
        }
        let endpoint = try #require(engine.endpoint)
        let impostor = try MajordomoWorker(context: try Context(), endpoints: [endpoint], service: "parks",
                                           heartbeatInterval: .milliseconds(100), configure: configure)
        defer { impostor.disconnect() }
        let honest = try MajordomoWorker(context: try Context(), endpoints: [endpoint], service: "roads",
                                         heartbeatInterval: .milliseconds(100), configure: configure)
        defer { honest.disconnect() }
        let observer = try client(engine, ops)
        defer { observer.close() }
        try waitUntil("the roads worker is registered") {
            _ = try honest.receive(timeout: .milliseconds(10))
            return try observer.request("mmi.service", body: ["roads"], timeout: .seconds(1))?.body == ["200"]
        }
        _ = try impostor.receive(timeout: .milliseconds(200))
        #expect(try observer.request("mmi.service", body: ["parks"], timeout: .seconds(1))?.body == ["404"])
    }

    @Test func aRemovedKeyLosesItsRightsAtOnce() throws {
        let engine = try startSecureEngine()
        defer { engine.stop() }
        let agent = try client(engine, ana)
        defer { agent.close() }
        #expect(try ask(agent, "sb.agent.list", [:])?["status"] as? String == "ok")
        let before = keys.current
        keys.replace(with: AuthorizedKeys([(ops.publicKey, KeyHolder(name: "olga", role: .ops))]))
        defer { keys.replace(with: before) }
        #expect(Self.code(try ask(agent, "sb.agent.list", [:])) == "forbidden")
    }

    /// A stolen key replaced under the same name: the thief's open connection loses its
    /// rights, the new key works.
    @Test func aKeyReplacedUnderTheSameNameRevokesTheOldOne() throws {
        let engine = try startSecureEngine()
        defer { engine.stop() }
        let thief = try client(engine, ana)
        defer { thief.close() }
        #expect(try ask(thief, "sb.agent.list", [:])?["status"] as? String == "ok")
        let fresh = try CurveKeyPair.generate()
        let before = keys.current
        keys.replace(with: AuthorizedKeys(before.byKey.filter { $0.key != ana.publicKey }.map { (publicKey: $0.key, holder: $0.value) }
            + [(publicKey: fresh.publicKey, holder: KeyHolder(name: "ana", role: .agent(department: "front-office")))]))
        defer { keys.replace(with: before) }
        #expect(Self.code(try ask(thief, "sb.agent.list", [:])) == "forbidden")
        let owner = try client(engine, fresh)
        defer { owner.close() }
        #expect(try ask(owner, "sb.agent.list", [:])?["status"] as? String == "ok")
    }
}

/// The daemon as an operator runs it: key files from `Certificate`, the authorised-keys
/// file on disk, and SIGHUP after an edit.
@Suite(.serialized, .enabled(if: Context.has("curve"))) struct SecureDaemonTests {
    @Test func sighupReloadsTheKeysAndARemovedKeyLosesItsRights() throws {
        let directory = temporaryDirectory()
        let server = try CurveKeyPair.generate(), agentPair = try CurveKeyPair.generate(), opsPair = try CurveKeyPair.generate()
        _ = try Certificate(publicKey: server.publicKey, secretKey: server.secretKey, metadata: [("name", "broker")])
            .save(directory: directory, name: "broker")
        let keysFile = (directory as NSString).appendingPathComponent("authorized-keys.yaml")
        func writeKeys(withAgent: Bool) throws {
            var text = "keys:\n  - name: olga\n    role: ops\n    public_key: \"\(opsPair.publicKey)\"\n"
            if withAgent { text += "  - name: ana\n    role: agent\n    department: front-office\n    public_key: \"\(agentPair.publicKey)\"\n" }
            try text.write(toFile: keysFile, atomically: true, encoding: .utf8)
        }
        try writeKeys(withAgent: true)
        let daemon = try SpawnedDaemon(arguments: ["--server-key", (directory as NSString).appendingPathComponent("broker.key_secret"),
                                                   "--authorized-keys", keysFile])
        let serverKey = server.publicKey
        let agent = try MajordomoClient(context: try Context(), endpoint: daemon.endpoint) { socket throws(ZMQError) in
            try socket.setCurveClient(serverKey: serverKey, keyPair: agentPair)
        }
        defer { agent.close() }
        func list() throws -> [String: Any] {
            jsonObject(try agent.request("sb.agent.list", body: [Frame("{}")], timeout: .seconds(5))?.body)
        }
        #expect(try list()["status"] as? String == "ok")

        try writeKeys(withAgent: false)
        kill(daemon.pid, SIGHUP)
        try waitUntil("the keys are reloaded") { daemon.log.contains("authorised keys reloaded") }
        #expect((try list()["error"] as? [String: Any])?["code"] as? String == "forbidden")
        #expect(try daemon.terminate() == 0)
    }
}
