import DaemonHarness
import Foundation
import Majordomo
import SwitchboardCore
import SwitchboardStore
import Testing
import TestSupport
import ZeroMQ

/// The daemon's lifecycle, with real processes: one broker per data directory, and the
/// ready file that announces the bound endpoints.
@Suite(.serialized) struct DaemonLifecycleTests {
    @Test func aSecondDaemonOnTheSameDataDirectoryRefusesToStartAndNamesTheFirst() throws {
        let first = try SpawnedDaemon()
        let refused = try #require(throws: SpawnedDaemon.Exited.self) {
            try SpawnedDaemon(dataDirectory: first.dataDirectory)
        }
        #expect(!refused.bySignal)
        #expect(refused.status != 0)
        #expect(refused.log.contains("--data \(first.dataDirectory) is in use by another switchboardd (pid \(first.pid))"))
        #expect(first.isRunning)

        // The lock goes with its holder: once the first has stopped, the directory is free.
        #expect(try first.terminate() == 0)
        let next = try SpawnedDaemon(dataDirectory: first.dataDirectory)
        #expect(try next.terminate() == 0)
    }

    /// Defect: SIGHUP killed a plain-mode broker (exit 129), and the shipped unit's
    /// ExecReload sends exactly that. SIGHUP now reloads the configuration, checked whole
    /// first: a good file changes routing for what comes next, a bad one or one that drops
    /// a department still holding inquiries changes nothing, and each is logged and counted.
    @Test func sighupReloadsTheConfigurationAndNeverStopsTheBroker() throws {
        let plain = try SpawnedDaemon()
        kill(plain.pid, SIGHUP)
        try waitUntil("the reload is logged") { plain.log.contains("SIGHUP: reloading") }
        #expect(plain.isRunning, "SIGHUP must never stop the broker")
        #expect(try plain.terminate() == 0)

        let config = temporaryDirectory() + "/city.yaml"
        let original = SwitchboardConfiguration.demoYAML
        try original.write(toFile: config, atomically: true, encoding: .utf8)
        let port = try OpsEndpointTests.freePort()
        let daemon = try SpawnedDaemon(arguments: ["--config", config, "--stats", "127.0.0.1:\(port)"])
        let client = try MajordomoClient(context: try Context(), endpoint: daemon.endpoint)
        defer { client.close() }
        func route(_ id: String, _ text: String) throws -> String? {
            let body = #"{"source":{"platform":"x","account":"@RivertonCity","external_id":"\#(id)"},"author":{"handle":"@r"},"text":"\#(text)","captured_at":"2026-11-22T09:30:00Z"}"#
            let answer = try client.request("sb.ingest", body: [Frame(body)])
            return (try? JSONSerialization.jsonObject(with: Data(answer?.body.first?.bytes ?? [])) as? [String: Any])?["department"] as? String
        }
        #expect(try route("hup-1", "The skate ramp is broken") == "front-office")

        // A new rule sends skate ramps to parks.
        let rule = "rules:\n  - name: skate-ramps\n    department: parks\n    match: { keywords: [skate] }\n"
        try original.replacingOccurrences(of: "rules:\n", with: rule).write(toFile: config, atomically: true, encoding: .utf8)
        kill(daemon.pid, SIGHUP)
        try waitUntil("the reload is applied") { daemon.log.contains("configuration reloaded") }
        #expect(daemon.log.contains("rules added: skate-ramps"), "\(daemon.log)")
        #expect(try route("hup-2", "The skate ramp is broken again") == "parks")

        // A mistake changes nothing, and says where it is.
        try "departments: [".write(toFile: config, atomically: true, encoding: .utf8)
        kill(daemon.pid, SIGHUP)
        try waitUntil("the refusal is logged") { daemon.log.contains("configuration not reloaded; the running one stays") }
        #expect(daemon.log.contains("YAML syntax"))
        #expect(try route("hup-3", "skate park lights") == "parks")

        // Removing the front office, which holds an inquiry, is refused too.
        try original.replacingOccurrences(of: "front_office: front-office", with: "front_office: roads")
            .replacingOccurrences(of: "  - id: front-office\n", with: "  - id: contact-desk\n")
            .write(toFile: config, atomically: true, encoding: .utf8)
        kill(daemon.pid, SIGHUP)
        try waitUntil("the second refusal is logged") { daemon.log.contains("departments removed while they hold open inquiries: front-office") }
        var metrics = ""
        try waitUntil("both refusals are counted") {
            metrics = OpsEndpointTests.get(port, "/metrics")?.body ?? ""
            return metrics.contains(#"switchboard_config_reloads_total{result="refused"} 2"#)
        }
        #expect(metrics.contains(#"switchboard_config_reloads_total{result="applied"} 1"#))
        #expect(daemon.isRunning)
        #expect(try daemon.terminate() == 0)
    }

    /// Defect: an account added to the YAML after the first start was ignored in silence
    /// (the registry is the source of truth by then). The broker names it at start-up with
    /// the command that registers it, and `channels list` shows it as not registered.
    @Test func anAccountAddedToTheConfigurationLaterIsNamedUntilRegistered() throws {
        let config = temporaryDirectory() + "/city.yaml"
        try SwitchboardConfiguration.demoYAML.write(toFile: config, atomically: true, encoding: .utf8)
        let first = try SpawnedDaemon(arguments: ["--config", config])
        #expect(!first.log.contains("configured account"))
        #expect(try first.terminate() == 0)
        try SwitchboardConfiguration.demoYAML.replacingOccurrences(of: "  - id: parks\n    name: Parks and green spaces\n", with: """
              - id: parks
                name: Parks and green spaces
                accounts:
                  - { platform: x, handle: "@RivertonParks" }

            """).write(toFile: config, atomically: true, encoding: .utf8)
        let again = try SpawnedDaemon(dataDirectory: first.dataDirectory, arguments: ["--config", config])
        try waitUntil("the account is named") { again.log.contains("configured account x @RivertonParks (parks) is not registered in the channel registry") }
        #expect(again.log.contains("switchboard channels register --platform x --handle '@RivertonParks' --for parks"))
        let list = try runTool("switchboard", ["channels", "list", "--endpoint", again.endpoint])
        #expect(list.output.contains("in the configuration but not active in the registry (not official):"), "\(list.output)")
        #expect(list.output.contains("x @RivertonParks (parks): not registered"))
        let verify = try runTool("switchboard", ["channels", "verify", "@RivertonParks", "--platform", "x", "--endpoint", again.endpoint])
        #expect(verify.status == 1, "not official: a non-zero exit, as grep")
        #expect(try again.terminate() == 0)
    }

    @Test func theReadyFileNamesTheBoundEndpointsAndGoesAwayOnSIGTERM() throws {
        let daemon = try SpawnedDaemon()
        let contents = try #require(FileManager.default.contents(atPath: daemon.readyFile))
        let document = try #require(try JSONSerialization.jsonObject(with: contents) as? [String: Any])
        #expect(document["pid"] as? Int == Int(daemon.pid))

        let mdp = try #require(document["mdp_endpoint"] as? String)
        let events = try #require(document["events_endpoint"] as? String)
        #expect(mdp == daemon.endpoint)
        #expect(events == daemon.eventsEndpoint)
        // Bound ports, not the wildcard the daemon was asked for.
        for endpoint in [mdp, events] {
            #expect(endpoint.range(of: #"^tcp://127\.0\.0\.1:[0-9]+$"#, options: .regularExpression) != nil, "\(endpoint)")
        }
        #expect(mdp != events)
        let data = URL(fileURLWithPath: daemon.dataDirectory).resolvingSymlinksInPath().path
        #expect(document["data"] as? String == data)
        #expect(!FileManager.default.fileExists(atPath: daemon.readyFile + ".tmp"))
        // The ready line is logged just after the file is written.
        try waitUntil("the ready line is logged") { daemon.log.contains("switchboardd ready") }

        #expect(try daemon.terminate() == 0)
        #expect(!FileManager.default.fileExists(atPath: daemon.readyFile))
    }

    @Test func theReadyFileSaysNullWhenTheEventStreamIsOff() throws {
        let daemon = try SpawnedDaemon(arguments: ["--events", "off"])
        #expect(daemon.eventsEndpoint == nil)
        let contents = try #require(FileManager.default.contents(atPath: daemon.readyFile))
        let document = try #require(try JSONSerialization.jsonObject(with: contents) as? [String: Any])
        #expect(document["events_endpoint"] is NSNull)
        #expect(try daemon.terminate() == 0)
    }

    @Test func aCleanStopFoldsTheLogIntoTheDatabaseFile() throws {
        let daemon = try SpawnedDaemon()
        let client = try MajordomoClient(context: try Context(), endpoint: daemon.endpoint)
        let answer = jsonObject(try client.request("sb.ingest", body: [envelope("kept-post")])?.body)
        client.close()
        let id = try #require(answer["id"] as? String)
        let database = (daemon.dataDirectory as NSString).appendingPathComponent("inquiries.sqlite")
        #expect(FileManager.default.fileExists(atPath: database + "-wal"))

        #expect(try daemon.terminate() == 0)
        // One file to back up: the log was copied in and removed on the way out.
        #expect(!FileManager.default.fileExists(atPath: database + "-wal"))
        let store = try SQLiteInquiryStore(path: database)
        #expect(try store.record(try #require(InquiryID(id))) != nil)
    }
}
