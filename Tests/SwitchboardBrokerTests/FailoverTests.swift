import DaemonHarness
import Foundation
import Majordomo
import SwitchboardCore
import SwitchboardProtocol
import SwitchboardStore
import Testing
import TestSupport
import ZeroMQ

/// Several `switchboardd` on one PostgreSQL database (9/SB-HA), each a spawned process,
/// under load from a client and a worker that know every broker: whatever happens to the
/// active broker or to the database, no acknowledged inquiry is lost, and what is
/// delivered again is at most what was in flight.
@Suite(.serialized) struct FailoverTests {
    /// Brokers on one fresh database, each on a fixed loopback port (a standby answers on
    /// the port it will serve on).
    final class Brokers {
        let url: String
        let endpoints: [String]
        let leaseTime: String
        var daemons: [SpawnedDaemon?]

        /// - Parameter stores: the database URL each broker is given, when some reach it
        ///   another way (through a proxy); `url` is how the test reaches it.
        init(_ count: Int, leaseTime: String = "3s", url: String? = nil, withStats: Bool = false, stores: ((String) throws -> [String])? = nil) throws {
            self.url = try url ?? PrivatePostgres.freshDatabase()
            endpoints = (0..<count).map { _ in "tcp://127.0.0.1:\(Loopback.freePort())" }
            if withStats { statsPorts = (0..<count).map { _ in Int(Loopback.freePort()) } }
            self.leaseTime = leaseTime
            daemons = Array(repeating: nil, count: count)
            let given = try stores?(self.url) ?? Array(repeating: self.url, count: count)
            for n in 0..<count { try start(n, store: given[n]) }
            _ = try waitForActive()
        }

        /// Each broker's operations endpoint, when the test asks for them.
        var statsPorts: [Int] = []

        func start(_ n: Int, store: String? = nil) throws {
            daemons[n] = try SpawnedDaemon(endpoint: endpoints[n], arguments: [
                "--store", store ?? url, "--name", "broker-\(n)", "--events", "off", "--heartbeat-interval", "100ms", "--lease-time", leaseTime,
            ] + (statsPorts.indices.contains(n) ? ["--stats", "127.0.0.1:\(statsPorts[n])"] : []))
        }

        /// The one active broker, once there is exactly one (and it is not `excluded`).
        func waitForActive(excluding excluded: Int? = nil, timeout: Duration = .seconds(30)) throws -> Int {
            var found: Int?
            try waitUntil(timeout: timeout, "exactly one broker is active") {
                let active = daemons.indices.filter { $0 != excluded && daemons[$0]?.role == "active" }
                found = active.count == 1 ? active[0] : nil
                return found != nil
            }
            return found!
        }

        func store() throws -> PostgresInquiryStore { try PostgresInquiryStore(location: PostgresLocation(url: url)) }

        var logs: String { daemons.compactMap { $0?.log }.joined(separator: "\n----\n") }
    }

    /// A capture gateway's load: a window of envelopes outstanding, each sent again after a
    /// second without an answer, to the next broker once the current one is silent or a
    /// standby.
    final class IngestLoad {
        let client: MajordomoClient
        let prefix: String
        var accepted: [String: String] = [:]              // external id -> inquiry id
        var outstanding: [String: ContinuousClock.Instant] = [:]
        var next = 0
        var switches = 0
        /// When an answer first came back after the broker was switched following `mark`.
        var firstAnswerAfterSwitch: ContinuousClock.Instant?
        var markedAt: ContinuousClock.Instant?
        var switchedSinceMark = false

        init(endpoints: [String], prefix: String) throws {
            client = try MajordomoClient(context: try Context(), endpoints: endpoints, redirect: { ErrorAnswer.isNotActive($0.body.first?.bytes ?? []) })
            self.prefix = prefix
        }

        deinit { client.close() }

        func send(_ externalID: String) throws {
            try client.send(ServiceName.ingest, body: [envelope(externalID, text: "bin \(externalID) not collected")])
            outstanding[externalID] = .now
        }

        /// One turn: top up the window to `total`, read answers, switch when needed.
        func step(total: Int, window: Int = 64) throws {
            let now = ContinuousClock.now
            if outstanding.values.contains(where: { now - $0 > .seconds(1) }) {
                try switchBroker()
            }
            while outstanding.count < window && next < total {
                try send("\(prefix)-\(next)")
                next += 1
            }
            while let reply = try client.receive(timeout: .milliseconds(20)) {
                if client.isRedirect(reply) {
                    try switchBroker()
                    break
                }
                let object = jsonObject(reply.body)
                guard let status = object["status"] as? String else { continue }
                // A broker that lost its store or its lease on the way says so: sent again.
                guard status == "accepted" || status == "duplicate", let externalID = object["external_id"] as? String,
                      let id = object["id"] as? String else { continue }
                if markedAt != nil, switchedSinceMark, firstAnswerAfterSwitch == nil { firstAnswerAfterSwitch = .now }
                accepted[externalID] = id
                outstanding[externalID] = nil
            }
        }

        func switchBroker() throws {
            try client.failOver()
            switches += 1
            if markedAt != nil { switchedSinceMark = true }
            for externalID in outstanding.keys { try send(externalID) }
        }

        func mark() { markedAt = .now }
    }

    static func worker(_ brokers: Brokers, log: DeliveryLog) -> WorkerThread {
        WorkerThread(endpoint: brokers.endpoints[0], standbys: Array(brokers.endpoints.dropFirst()), service: "waste") { request in
            Delivery(request).map(log.append)
            return ["ok"]
        }
    }

    /// Every accepted inquiry is stored on the database and reaches the worker; what is
    /// delivered twice is at most what was delivered and not yet acknowledged when the
    /// broker went away.
    static func expectNothingLost(_ brokers: Brokers, _ load: IngestLoad, _ log: DeliveryLog, inFlight: Int) throws {
        let acceptedIDs = Set(load.accepted.values)
        try waitUntil(timeout: .seconds(120), "every accepted inquiry delivered") { acceptedIDs.isSubset(of: Set(log.all.map(\.inquiryID))) }
        // The projection follows the journal: it holds them all once it caught up.
        let store = try brokers.store()
        var missing: [String: String] = load.accepted
        try waitUntil(timeout: .seconds(60), "every accepted inquiry in the projection") {
            for (externalID, id) in missing where try store.inquiry(for: DeduplicationKey(platform: .x, externalID: externalID))?.id.description == id {
                missing[externalID] = nil
            }
            return missing.isEmpty
        }
        let duplicates = log.all.count - Set(log.all.map(\.inquiryID)).count
        #expect(duplicates <= inFlight, "delivered twice beyond what was in flight: \(duplicates) > \(inFlight)")
    }

    /// Inquiries delivered (in `delivered`) whose worker's answer the database does not hold.
    static func unacknowledged(_ delivered: Set<String>, in store: PostgresInquiryStore) throws -> Int {
        try delivered.filter { try store.record(InquiryID($0)!)?.lifecycle.owner?.kind != .department }.count
    }

    /// kill -9 of the active broker under load, two standbys waiting: one of them serves,
    /// the load goes on through it, nothing acknowledged is lost.
    @Test func killingTheActiveBrokerUnderLoadLosesNothing() throws {
        let brokers = try Brokers(3)
        var killed = -1
        var inFlight = 0
        var serving: Duration?
        try Self.run(brokers, total: 2_000, at: [1_000], prefix: "kill") { _, log, delivered in
            let active = try brokers.waitForActive()
            let killedAt = ContinuousClock.now
            try brokers.daemons[active]?.crash()
            killed = active
            // Before a standby takes over (it waits for the dead broker's renewals to
            // stop): the journal replayed, as the standby will, shows what the dead
            // broker's worker had not acknowledged.
            let store = try brokers.store()
            try store.catchUp(from: PostgresInquiryJournal(session: PostgresSession(PostgresLocation(url: brokers.url))))
            inFlight = try Self.unacknowledged(delivered, in: store)
            // What the dead broker had already sent still reaches the worker.
            _ = try brokers.waitForActive(excluding: active)
            serving = ContinuousClock.now - killedAt
            inFlight += log.all.count - delivered.count
        } inFlight: { inFlight }
        let active = try brokers.waitForActive(excluding: killed)
        print("failover test: kill -9 of broker-\(killed); broker-\(active) served \(serving.map { "\($0)" } ?? "?") after the kill "
              + "(its ready file said active); in flight at the kill: \(inFlight)")
    }

    /// A paused active broker (SIGSTOP past its lease): a standby takes over; when the
    /// paused one wakes it acknowledges nothing it did not make durable under its lease,
    /// stands by, and every answer it gave is true on the database.
    @Test func aPausedActiveBrokerStepsDownAndNothingItAcknowledgedIsLost() throws {
        let brokers = try Brokers(2, leaseTime: "2s")
        let log = DeliveryLog()
        let worker = Self.worker(brokers, log: log)
        defer { worker.stop() }
        let load = try IngestLoad(endpoints: brokers.endpoints, prefix: "paused")
        let paused = try brokers.waitForActive()
        try waitUntil(timeout: .seconds(60), "the first inquiries accepted") {
            try load.step(total: 200)
            return load.accepted.count >= 200
        }
        let deliveredAtPause = Set(log.all.map(\.inquiryID))
        // Requests that reach the paused broker's socket while it sleeps.
        let sleeper = try MajordomoClient(context: try Context(), endpoint: brokers.endpoints[paused])
        defer { sleeper.close() }
        brokers.daemons[paused]?.send(SIGSTOP)
        for n in 0..<30 { try sleeper.send(ServiceName.ingest, body: [envelope("asleep-\(n)", text: "bin asleep-\(n) not collected")]) }
        let active = try brokers.waitForActive(excluding: paused)
        try waitUntil(timeout: .seconds(60), "more inquiries accepted through broker-\(active)") {
            try load.step(total: 400)
            return load.accepted.count >= 400
        }
        brokers.daemons[paused]?.send(SIGCONT)
        do {
            try waitUntil(timeout: .seconds(30), "the woken broker stands by") { brokers.daemons[paused]?.role == "standby" }
        } catch {
            Issue.record("\(error)\n\(brokers.daemons[paused]?.log ?? "")")
            throw error
        }
        var answers: [String: Int] = [:]
        var acknowledged: [String: String] = [:]
        while let reply = try sleeper.receive(timeout: .milliseconds(500)) {
            let object = jsonObject(reply.body)
            let status = (object["status"] as? String) ?? "?"
            let code = ((object["error"] as? [String: Any])?["code"] as? String).map { ":" + $0 } ?? ""
            answers[status + code, default: 0] += 1
            if status == "accepted", let externalID = object["external_id"] as? String, let id = object["id"] as? String { acknowledged[externalID] = id }
        }
        print("paused broker: answers after waking \(answers.sorted { $0.key < $1.key })")
        let store = try brokers.store()
        try waitUntil(timeout: .seconds(30), "what the woken broker acknowledged is on the database") {
            try acknowledged.allSatisfy { try store.inquiry(for: DeduplicationKey(platform: .x, externalID: $0.key))?.id.description == $0.value }
        }
        #expect(brokers.daemons[active]?.role == "active", "the broker that took over still serves")
        let inFlight = try Self.unacknowledged(deliveredAtPause, in: store)
        try Self.expectNothingLost(brokers, load, log, inFlight: inFlight + 30)
    }

    /// The database closes every broker connection (pg_terminate_backend) twice under
    /// load: the brokers connect again; nothing acknowledged is lost.
    @Test func connectionsTheDatabaseTerminatesAreReplaced() throws {
        let brokers = try Brokers(2)
        let location = try PostgresLocation(url: brokers.url)
        try Self.run(brokers, total: 1_500, at: [500, 1_000], prefix: "terminated") { _, _, _ in
            let session = PostgresSession(location)
            defer { session.close() }
            try session.run("terminate the brokers' connections", """
                SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = \(location.database) AND pid <> pg_backend_pid()
                """)
        }
    }

    /// A load that the test drives to `total` accepted inquiries, doing `event` once as
    /// each of `marks` is reached (given the deliveries so far), then checks nothing is
    /// lost. What may be delivered twice is `inFlight`, by default whatever had been
    /// delivered when the first event happened.
    static func run(_ brokers: Brokers, total: Int, at marks: [Int], prefix: String,
                    _ event: (_ mark: Int, _ log: DeliveryLog, _ delivered: Set<String>) throws -> Void,
                    inFlight: (() throws -> Int)? = nil) throws {
        let log = DeliveryLog()
        let worker = Self.worker(brokers, log: log)
        defer { worker.stop() }
        let load = try IngestLoad(endpoints: brokers.endpoints, prefix: prefix)
        var pending = marks
        let deadline = ContinuousClock.now + .seconds(180)
        while load.accepted.count < total {
            guard ContinuousClock.now < deadline else { throw TestTimeout(what: "all inquiries accepted (\(load.accepted.count))\n\(brokers.logs)") }
            try load.step(total: total)
            if let mark = pending.first, load.accepted.count >= mark {
                pending.removeFirst()
                let delivered = Set(log.all.map(\.inquiryID))
                load.mark()
                try event(mark, log, delivered)
            }
        }
        _ = try brokers.waitForActive()
        print("\(prefix): accepted=\(load.accepted.count) switches=\(load.switches) first answer after a switch "
              + "\(load.firstAnswerAfterSwitch.flatMap { answered in load.markedAt.map { "\(answered - $0)" } } ?? "-") after the event")
        try Self.expectNothingLost(brokers, load, log, inFlight: try inFlight?() ?? deliveredBeforeTheFirstRepeat(log))
    }

    /// What may be delivered again after an event that cut the active broker off: every
    /// inquiry delivered before the first delivery repeated. A broker cut off from the
    /// database goes on delivering what it holds in memory until it stands down (under
    /// load that takes longer), and the database can hold no acknowledgement of those: the
    /// broker that takes over delivers them again.
    static func deliveredBeforeTheFirstRepeat(_ log: DeliveryLog) -> Int {
        var seen = Set<String>()
        for delivery in log.all where !seen.insert(delivery.inquiryID).inserted { break }
        return seen.count
    }

    /// PostgreSQL crashes and restarts (`pg_ctl -m immediate`) under load: the brokers
    /// connect again (or one takes over), and nothing acknowledged is lost.
    @Test func aDatabaseThatCrashesAndRestartsLosesNothingAcknowledged() throws {
        let server = try PrivatePostgres.Dedicated()
        let brokers = try Brokers(2, url: try server.freshDatabase())
        try Self.run(brokers, total: 1_500, at: [500], prefix: "db-crash") { _, _, _ in try server.crashAndRestart() }
    }

    /// The active broker is cut off from PostgreSQL without its connections closing (a
    /// proxy stops forwarding): it stops acknowledging at its deadline and stands by, the
    /// other takes over once the lease runs out, and nothing acknowledged is lost.
    @Test func aBrokerCutOffFromTheDatabaseStandsDown() throws {
        var proxy: FreezableProxy?
        let brokers = try Brokers(2) { url in
            let location = try PostgresLocation(url: url)
            proxy = try FreezableProxy(targetPort: UInt16(location.port))
            return [url.replacingOccurrences(of: ":\(location.port)/", with: ":\(proxy!.port)/"), url]
        }
        defer { proxy?.stop() }
        // The broker behind the proxy is the active one.
        let active = try brokers.waitForActive()
        if active != 0 {
            try brokers.daemons[active]?.crash()
            try brokers.start(active)
            _ = try brokers.waitForActive(excluding: active)
        }
        try Self.run(brokers, total: 1_500, at: [500], prefix: "cut-off") { _, _, _ in proxy?.freeze() }
        #expect(brokers.daemons[0]?.role == "standby", "the cut-off broker stood down (running: \(brokers.daemons[0]?.isRunning ?? false))\n\(brokers.daemons[0]?.log ?? "")")
        #expect(brokers.daemons[1]?.role == "active")
        proxy?.thaw()
    }

    /// A session that still holds the projection's lock (as a broker cut off in the middle
    /// of a projection does, for as long as the database does not notice its connection is
    /// gone) does not keep a standby that took the lease from replaying: it ends that
    /// session, takes over, and nothing acknowledged before the kill is lost.
    @Test func aStandbyEndsAProjectionSessionLeftHoldingTheLock() throws {
        let brokers = try Brokers(2)
        let active = try brokers.waitForActive(), standby = 1 - active
        let location = try PostgresLocation(url: brokers.url)
        let holder = PostgresSession(location, idleInTransactionTimeout: .seconds(300))
        defer { holder.close() }
        _ = try holder.run("hold the projection", "BEGIN")
        _ = try holder.run("hold the projection", "SELECT position FROM switchboard_projection FOR UPDATE")
        let holderPID = try #require(try holder.run("who holds it", "SELECT pg_backend_pid() AS pid").first?.makeRandomAccess()["pid"].decode(Int32.self))
        // Acknowledged once in the journal; the active broker's projector waits on the lock.
        let client = try MajordomoClient(context: try Context(), endpoint: brokers.endpoints[active])
        defer { client.close() }
        var accepted: [String: String] = [:]
        for n in 0..<20 {
            let reply = jsonObject(try client.request(ServiceName.ingest, body: [envelope("held-\(n)", text: "bin \(n) not collected")])?.body)
            accepted["held-\(n)"] = try #require(reply["id"] as? String, "\(reply)")
        }
        try brokers.daemons[active]?.crash()
        do {
            #expect(try brokers.waitForActive(excluding: active, timeout: .seconds(30)) == standby)
        } catch {
            Issue.record("the standby's log:\n\(brokers.daemons[standby]?.log ?? "")")
            throw error
        }
        #expect(brokers.daemons[standby]?.log.contains("ended the database sessions of a broker cut off") == true)
        let observer = PostgresSession(location)
        defer { observer.close() }
        let left = try observer.run("is it there", "SELECT count(*) AS n FROM pg_stat_activity WHERE pid = \(holderPID)").first?
            .makeRandomAccess()["n"].decode(Int64.self)
        #expect(left == 0, "the session holding the lock was ended")
        let store = try brokers.store()
        for (externalID, id) in accepted {
            #expect(try store.inquiry(for: DeduplicationKey(platform: .x, externalID: externalID))?.id.description == id)
        }
    }

    /// The operations endpoint tells the active broker from the standby, as a load
    /// balancer, Prometheus and a person read it, and follows a takeover.
    @Test func theOperationsEndpointTellsActiveFromStandby() throws {
        let brokers = try Brokers(2, withStats: true)
        let active = try brokers.waitForActive(), standby = 1 - active
        let get = OpsEndpointTests.get
        try waitUntil("both operations endpoints answer") { brokers.statsPorts.allSatisfy { get($0, "/healthz")?.status == 200 } }
        #expect(get(brokers.statsPorts[active], "/readyz")?.status == 200)
        let notReady = try #require(get(brokers.statsPorts[standby], "/readyz"))
        #expect(notReady.status == 503 && notReady.body.contains("standby") && notReady.body.contains("broker-\(active)"), "\(notReady.body)")
        #expect(get(brokers.statsPorts[standby], "/stats")?.status == 503)
        #expect(get(brokers.statsPorts[standby], "/")?.body.contains("the active broker is <b>broker-\(active)</b>") == true)
        #expect(get(brokers.statsPorts[active], "/")?.body.contains("Active broker <b>broker-\(active)</b>") == true)

        // The role's series, as listed for Prometheus; a standby exports no engine figures.
        let listed = try String(contentsOf: OpsEndpointTests.root.appendingPathComponent("deploy/prometheus/metrics.txt"), encoding: .utf8)
            .split(separator: "\n").compactMap { line in line.hasPrefix("switchboard_ha_") ? line.split(separator: " ").first.map(String.init) : nil }
        func exported(_ port: Int) -> Set<String> {
            Set((get(port, "/metrics")?.body ?? "").split(separator: "\n").filter { $0.hasPrefix("# TYPE ") }.compactMap { $0.split(separator: " ").dropFirst(2).first.map(String.init) })
        }
        #expect(exported(brokers.statsPorts[standby]) == Set(listed + ["switchboard_up"]))
        #expect(exported(brokers.statsPorts[active]).isSuperset(of: listed + ["switchboard_department_ready"]))
        #expect(OpsEndpointTests.value(get(brokers.statsPorts[active], "/metrics")?.body ?? "", "switchboard_ha_active") == 1)
        #expect(OpsEndpointTests.value(get(brokers.statsPorts[standby], "/metrics")?.body ?? "", "switchboard_ha_active") == 0)

        try brokers.daemons[active]?.crash()
        try waitUntil(timeout: .seconds(30), "the standby serves") { get(brokers.statsPorts[standby], "/readyz")?.status == 200 }
        let metrics = get(brokers.statsPorts[standby], "/metrics")?.body ?? ""
        #expect(OpsEndpointTests.value(metrics, "switchboard_ha_takeovers_total") == 1)
        #expect((OpsEndpointTests.value(metrics, "switchboard_ha_lease_epoch") ?? 0) >= 2)
    }

    /// An agent's moves whose answers were lost when the active broker died are sent
    /// again, with their request ids, to the broker that took over: each is answered as
    /// made, and none is made twice (3/SB-CASE, "Moves sent again").
    @Test func movesSentAgainToTheBrokerThatTookOverAreMadeOnce() throws {
        let brokers = try Brokers(2)
        let client = try MajordomoClient(context: try Context(), endpoints: brokers.endpoints,
                                         redirect: { ErrorAnswer.isNotActive($0.body.first?.bytes ?? []) })
        defer { client.close() }
        func ask(_ service: AgentService, _ fields: [String: String]) throws -> [String: Any] {
            var request = fields
            request["agent"] = "ana"
            request["department"] = "front-office"
            let body = Frame(bytes: try JSONSerialization.data(withJSONObject: request))
            return jsonObject(try client.request(service.rawValue, body: [body], timeout: .seconds(3))?.body)
        }
        var ids: [String] = []
        for n in 1...3 {
            let reply = jsonObject(try client.request(ServiceName.ingest, body: [envelope("again-\(n)", text: "A question for the city \(n)")])?.body)
            ids.append(try #require(reply["id"] as? String, "\(reply)"))
        }
        let claim = ["request_id": "claim-1"], handoff = ["id": ids[1], "to": "roads", "note": "a pothole", "request_id": "handoff-1"]
        #expect(try ask(.claim, claim)["id"] as? String == ids[0])
        #expect(try ask(.handoff, handoff)["department"] as? String == "roads")

        let active = try brokers.waitForActive()
        try brokers.daemons[active]?.crash()
        _ = try brokers.waitForActive(excluding: active)

        // The claim of "the next one" sent again: the inquiry it took, not the next.
        let claimed = try ask(.claim, claim)
        #expect(claimed["id"] as? String == ids[0], "\(claimed)")
        #expect(claimed["owner"] as? String == "agent ana")
        // The handoff sent again: ok, although the inquiry is no longer the front office's.
        let handed = try ask(.handoff, handoff)
        #expect(handed["status"] as? String == "ok" && handed["department"] as? String == "roads", "\(handed)")
        let timeline = jsonObject(try client.request(AgentService.timeline.rawValue, body: [Frame(#"{"agent":"ana","id":"\#(ids[1])"}"#)])?.body)
        let events = (timeline["timeline"] as? [[String: Any]] ?? []).compactMap { $0["event"] as? String }
        #expect(events.filter { $0 == "inquiry.handoff" }.count == 1, "\(timeline)")
        // The third inquiry is still waiting for an agent.
        let third = jsonObject(try client.request(AgentService.show.rawValue, body: [Frame(#"{"agent":"ana","id":"\#(ids[2])"}"#)])?.body)
        #expect(third["state"] as? String == "queued", "\(third)")
    }

    /// The agent's tool, given every broker, keeps working across a failover: the same
    /// command answers before and after the active broker is killed.
    @Test func theAgentsToolFollowsTheActiveBroker() throws {
        let brokers = try Brokers(2)
        let list = brokers.endpoints.joined(separator: ",")
        let environment = ["SWITCHBOARD_AGENT": "ana", "SWITCHBOARD_DEPARTMENT": "front-office"]
        let submitted = try runTool("switchboard", ["ingest", "--endpoint", list, "-"], input: String(decoding: envelope("cli-1", text: "A question for the city").bytes, as: UTF8.self),
                                    environment: environment)
        #expect(submitted.status == 0, "\(submitted.error)")
        let before = try runTool("switchboard", ["queue", "--endpoint", list], environment: environment)
        #expect(before.status == 0 && before.output.contains("A question for the city"), "\(before.output)\(before.error)")
        // A link made on the active broker is in the database, not in its memory.
        let linked = try runTool("switchboard", ["citizen", "link", "x:@resident", "facebook:1234", "--note", "same person", "--endpoint", list],
                                 environment: environment)
        #expect(linked.status == 0, "\(linked.error)")
        let active = try brokers.waitForActive()
        // Given only the standby, it says what the broker said and what to do.
        let standby = try runTool("switchboard", ["queue", "--endpoint", brokers.endpoints[1 - active]], environment: environment)
        #expect(standby.status == 1 && standby.error.contains("not_active") && standby.error.contains("every broker"), "\(standby.error)")
        try brokers.daemons[active]?.crash()
        _ = try brokers.waitForActive(excluding: active)
        let after = try runTool("switchboard", ["queue", "--endpoint", list, "--timeout", "2"], environment: environment)
        #expect(after.status == 0 && after.output.contains("A question for the city"), "\(after.output)\(after.error)")
        let citizen = try runTool("switchboard", ["citizen", "show", "facebook:1234", "--endpoint", list, "--timeout", "2"], environment: environment)
        #expect(citizen.output.contains("facebook:1234, x:resident") && citizen.output.contains("same person"),
                "the broker that took over sees the link: \(citizen.output)\(citizen.error)")
    }
}
