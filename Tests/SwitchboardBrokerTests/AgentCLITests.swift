import DaemonHarness
import Foundation
import Synchronization
import Testing
import TestSupport

/// The `switchboard` binary as an agent uses it all day, against a spawned broker: its
/// printed output, its JSON and its exit codes.
@Suite(.serialized) struct AgentCLITests {
    let daemon: SpawnedDaemon

    init() throws {
        daemon = try SpawnedDaemon()
    }

    func cli(_ arguments: [String], agent: String = "ana", department: String = "front-office", input: String = "") throws -> (status: Int32, output: String, error: String) {
        try runTool("switchboard", arguments + ["--endpoint", daemon.endpoint, "--agent", agent, "--department", department], input: input)
    }

    func ingest(_ externalID: String, text: String) throws -> String {
        let envelope = #"{"source":{"platform":"x","account":"@RivertonCity","external_id":"\#(externalID)"},"author":{"handle":"@resident"},"text":"\#(text)","captured_at":"2026-11-22T09:30:00Z"}"#
        let result = try runTool("switchboard", ["ingest", "--endpoint", daemon.endpoint, "-"], input: envelope)
        #expect(result.status == 0, "\(result.error)")
        let answer = try #require(try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any])
        return try #require(answer["id"] as? String)
    }

    /// `show` names the same citizen's other open inquiries, so an agent answers one
    /// person, not one post at a time; closed ones and other citizens' are left out.
    @Test func showNamesTheCitizensOtherOpenInquiries() throws {
        let first = try ingest("same-1", text: "When is the library open?")
        let second = try ingest("same-2", text: "Also, is the pool open?")
        let third = try ingest("same-3", text: "And the museum?")
        #expect(try cli(["claim", third]).status == 0)
        #expect(try cli(["close", third, "--resolution", "answered"]).status == 0)
        let envelope = #"{"source":{"platform":"x","account":"@RivertonCity","external_id":"other-1"},"author":{"handle":"@someone_else"},"text":"Hello","captured_at":"2026-11-22T09:30:00Z"}"#
        #expect(try runTool("switchboard", ["ingest", "--endpoint", daemon.endpoint, "-"], input: envelope).status == 0)

        let detail = try #require(try JSONSerialization.jsonObject(with: Data(try cli(["show", first, "--json"]).output.utf8)) as? [String: Any])
        let others = try #require(detail["other_open"] as? [[String: Any]])
        #expect(others.map { $0["id"] as? String } == [second], "\(others)")
        #expect(others.first?["case"] as? String == "R-2" && others.first?["state"] as? String == "queued")
        #expect(try cli(["show", first]).output.contains("also open  R-2 (queued at front-office)"))
        let alone = try #require(try JSONSerialization.jsonObject(with: Data(try cli(["show", "R-4", "--json"]).output.utf8)) as? [String: Any])
        #expect((alone["other_open"] as? [Any])?.isEmpty == true)
    }

    @Test func aWholeShiftFromQueueToClose() throws {
        let id = try ingest("shift-1", text: "Hello, who do I talk to about the new library hours?")
        let short = String(id.prefix(13))

        let queue = try cli(["queue"])
        #expect(queue.status == 0)
        #expect(queue.output.contains("R-1 "), "the case number comes first: \(queue.output)")
        #expect(queue.output.contains("PRIORITY"))
        let json = try cli(["queue", "--json"])
        let listing = try #require(try JSONSerialization.jsonObject(with: Data(json.output.utf8)) as? [String: Any])
        #expect((listing["inquiries"] as? [[String: Any]])?.first?["id"] as? String == id)

        let claimed = try cli(["claim", short])
        #expect(claimed.status == 0, "\(claimed.error)")
        #expect(claimed.output.contains("in_progress"))
        let shown = try cli(["show", short])
        #expect(shown.output.contains("library hours"))
        #expect(shown.output.contains("(official)"))
        #expect(shown.output.contains("inquiry.claimed"))

        let handed = try cli(["handoff", short, "--to", "roads", "--note", "they run the library car park"])
        #expect(handed.output.contains("queued at roads"), "\(handed.output)\(handed.error)")
        // Roads takes it and sends it back.
        #expect(try cli(["claim", short], agent: "bo", department: "roads").status == 0)
        let returned = try cli(["return", short, "--note", "not ours: the library is the front office's"], agent: "bo", department: "roads")
        #expect(returned.output.contains("queued at front-office"))

        #expect(try cli(["claim", "--next"]).status == 0)
        let answered = try cli(["reply", "R-1", "--via", "@RivertonCity", "The library is open 9 to 6."])
        #expect(answered.status == 0, "\(answered.error)")
        #expect(answered.output.contains("answered R-1 (\(id))"), "\(answered.output)")
        // No gateway posts x here: the agent is told at once, not left to believe it went.
        #expect(answered.output.contains("held: no gateway serves x; it will be posted when one connects"), "\(answered.output)")
        let conversation = try cli(["show", "R-1"])
        #expect(conversation.output.contains("citizen wrote (@resident)"), "\(conversation.output)")
        #expect(conversation.output.contains("Hello, who do I talk to about the new library hours?"))
        #expect(conversation.output.contains("answered by agent ana via @RivertonCity  [WAITING for the x gateway since"), "\(conversation.output)")
        #expect(conversation.output.contains("      The library is open 9 to 6."))
        #expect(conversation.output.contains("reply.held"))
        let queued = try cli(["queue"])
        #expect(queued.output.contains("[1 unsent]"), "the queue marks inquiries with unsent messages: \(queued.output)")
        let closed = try cli(["close", short, "--resolution", "answered"])
        #expect(closed.output.contains("closed"))
        let timeline = try cli(["show", short])
        for event in ["inquiry.routed", "inquiry.handoff", "inquiry.returned", "inquiry.answered", "inquiry.closed"] {
            #expect(timeline.output.contains(event), "\(event) missing from the timeline")
        }
    }

    /// Defect: the queue showed the first 8 characters of each id, which are its arrival
    /// time, so inquiries of the same minute all looked alike and none could be claimed
    /// by what the queue showed; later it showed prefixes unique among the listed ones
    /// only, which the broker (looking across everything) found ambiguous. The queue now
    /// shows case numbers, and whatever it shows is taken back.
    @Test func theQueueShowsCaseNumbersThatCanBeClaimedAndLeavesClosedOnesOut() throws {
        let ids = try (1...4).map { try ingest("same-minute-\($0)", text: "Question number \($0)") }
        let queue = try cli(["queue"])
        let shown = queue.output.split(separator: "\n").dropFirst().compactMap { $0.split(separator: " ").first.map(String.init) }
            .filter { $0.hasPrefix("R-") }
        #expect(shown == ["R-1", "R-2", "R-3", "R-4"], "\(queue.output)")
        for (number, id) in zip(shown, ids) {
            let detail = try cli(["show", number, "--json"])
            #expect(detail.output.contains(#""id":"\#(id)""#), "\(number) names \(id)")
        }
        let claimed = try cli(["claim", "R-1"])
        #expect(claimed.status == 0, "\(claimed.error)")
        #expect(claimed.output.contains(ids[0]), "the move names the whole id")
        #expect(try cli(["close", "#1", "--resolution", "spam"]).status == 0, "#1 is R-1")
        #expect(!(try cli(["queue"]).output.contains("closed")), "closed inquiries are left out by default")
        #expect(try cli(["queue", "--state", "closed"]).output.contains("closed"))
        #expect(try cli(["queue", "--state", "all"]).output.contains("closed"))
        let unknown = try cli(["show", "R-77"])
        #expect(unknown.status == 4)
        #expect(unknown.error.contains("there is no case R-77"))
    }

    @Test func twoAgentsRaceForOneInquiryAndExactlyOneWins() throws {
        let id = try ingest("race-1", text: "A question for whoever is first")
        let results = Mutex<[(Int32, String)]>([])
        let group = DispatchGroup()
        let endpoint = daemon.endpoint
        for agent in ["ana", "cy"] {
            group.enter()
            Thread {
                let arguments = ["claim", id, "--endpoint", endpoint, "--agent", agent, "--department", "front-office"]
                if let result = try? runTool("switchboard", arguments) { results.withLock { $0.append((result.status, result.error)) } }
                group.leave()
            }.start()
        }
        group.wait()
        let all = results.withLock { $0 }
        #expect(all.map(\.0).sorted() == [0, 1])
        let loser = try #require(all.first { $0.0 == 1 })
        #expect(loser.1.contains("not_owner: agent "), "\(loser.1)")
        #expect(loser.1.contains("holds this inquiry until "), "the holder and the end of the lease are named: \(loser.1)")
    }

    @Test func errorsGiveTheDocumentedExitCodeAndSayWhatToDo() throws {
        _ = try ingest("err-1", text: "one")
        _ = try ingest("err-2", text: "two")
        let bad = try cli(["show", "zz"])
        #expect(bad.status == 2)
        #expect(bad.error.contains("switchboard queue"))
        // Every id of this run starts with the same time stamp: a short prefix is ambiguous.
        let ambiguous = try cli(["show", "01a2"])
        #expect(ambiguous.status == 2, "\(ambiguous.error)")
        #expect(ambiguous.error.contains("ambiguous"))
        let missing = try cli(["show", "0190e5c2-8f3a-7c1e-9a55-3b2f0c1d4e6f"])
        #expect(missing.status == 4)
        let noPrefix = try cli(["show", "ffffffff"])
        #expect(noPrefix.status == 4, "a prefix nothing starts with is not found: \(noPrefix.error)")
        #expect(noPrefix.error.contains("no inquiry id starts with ffffffff"))
        let id = try ingest("err-3", text: "three")
        let refused = try cli(["close", id, "--resolution", "spam"])
        #expect(refused.status == 1)
        #expect(refused.error.contains("you can: claim, handoff"))
        let down = try runTool("switchboard", ["queue", "--endpoint", "tcp://127.0.0.1:1", "--timeout", "0.3", "--agent", "ana", "--department", "front-office"])
        #expect(down.status == 3)
        #expect(down.error.contains("is switchboardd running"))
        let noScheme = try runTool("switchboard", ["queue", "--endpoint", "localhost:5555"])
        #expect(noScheme.status == 2, "a usage error")
        #expect(noScheme.error.contains("tcp://localhost:5555"))
        let notJSON = try runTool("switchboard", ["ingest", "--endpoint", "tcp://127.0.0.1:1", "-"], input: "{not json")
        #expect(notJSON.status == 2)
        #expect(notJSON.error.contains("invalid_json"))
    }

    /// A batch with bad lines, then the same batch again: the counts match, and the
    /// second run routes nothing twice.
    @Test func aBatchImportReportsBadLinesAndResumes() throws {
        let file = (temporaryDirectory() as NSString).appendingPathComponent("posts.jsonl")
        var lines: [String] = []
        for n in 1...30 {
            lines.append(#"{"source":{"platform":"x","account":"@RivertonCity","external_id":"batch-\#(n)"},"author":{"handle":"@r"},"text":"post \#(n)","captured_at":"2026-11-22T09:30:00Z"}"#)
        }
        lines[4] = "{not json"
        lines[9] = #"{"source":{"platform":"tiktok","account":"a","external_id":"x"},"author":{"handle":"@r"},"text":"t","captured_at":"2026-11-22T09:30:00Z"}"#
        try lines.joined(separator: "\n").write(toFile: file, atomically: true, encoding: .utf8)
        let first = try runTool("switchboard", ["ingest", "--endpoint", daemon.endpoint, file])
        #expect(first.status == 1, "bad lines make the run fail")
        #expect(first.output.contains("accepted 28, duplicate 0, rejected 2"), "\(first.output)")
        #expect(first.error.contains("line 5: invalid_json"))
        #expect(first.error.contains("line 10: unknown_platform"))
        /// The line this broker acknowledged everything up to, as the progress file records it.
        func checkpoint() throws -> String {
            let data = try #require(FileManager.default.contents(atPath: file + ".progress"))
            let lines = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])["lines"] as? [String: Int]
            return lines?.values.first.map(String.init) ?? "-"
        }
        #expect(try checkpoint() == "4", "a rejected line is not done: the checkpoint stops before it")
        #expect(first.error.contains("run the same command again: it goes on from line 5"))

        let again = try runTool("switchboard", ["ingest", "--endpoint", daemon.endpoint, file, "--restart"])
        #expect(again.output.contains("accepted 0, duplicate 28, rejected 2"), "\(again.output)")

        // Defect: fixed lines were never sent, because rejected ones counted as done.
        lines[4] = lines[0].replacingOccurrences(of: "batch-1\"", with: "batch-fixed-5\"")
        lines[9] = lines[0].replacingOccurrences(of: "batch-1\"", with: "batch-fixed-10\"")
        try (lines.joined(separator: "\n") + "\n").write(toFile: file, atomically: true, encoding: .utf8)
        let fixed = try runTool("switchboard", ["ingest", "--endpoint", daemon.endpoint, file])
        #expect(fixed.error.contains("resuming after line 4"))
        #expect(fixed.output.contains("accepted 2, duplicate 24, rejected 0"), "\(fixed.output)")
        #expect(try checkpoint() == "30")

        // Defect: the newline ending the file counted as a line, so the next line appended was skipped.
        let appended = lines[0].replacingOccurrences(of: "batch-1\"", with: "batch-31\"")
        try (lines.joined(separator: "\n") + "\n" + appended + "\n").write(toFile: file, atomically: true, encoding: .utf8)
        let resumed = try runTool("switchboard", ["ingest", "--endpoint", daemon.endpoint, file])
        #expect(resumed.error.contains("resuming after line 30"))
        #expect(resumed.output.contains("accepted 1, duplicate 0, rejected 0"), "\(resumed.output)")
        #expect(try checkpoint() == "31")

        // Nothing left: the run says so, and how to start over.
        let nothing = try runTool("switchboard", ["ingest", "--endpoint", daemon.endpoint, file])
        #expect(nothing.error.contains("nothing was sent: every line up to 31 was acknowledged by this broker before; --restart"), "\(nothing.error)")

        // Defect: the same file sent to a new broker resumed after the old broker's line
        // and imported nothing. The checkpoint is the file's with one broker.
        let other = try SpawnedDaemon()
        let fresh = try runTool("switchboard", ["ingest", "--endpoint", other.endpoint, file])
        #expect(fresh.error.contains("starting from line 1: \(file).progress records progress with another broker"), "\(fresh.error)")
        #expect(fresh.output.contains("accepted 31, duplicate 0, rejected 0"), "\(fresh.output)")
        #expect(try other.terminate() == 0)
        // And the first broker's point is kept beside the second's.
        let back = try runTool("switchboard", ["ingest", "--endpoint", daemon.endpoint, file])
        #expect(back.error.contains("resuming after line 31"), "\(back.error)")
    }

    @Test func theRegistryFromTheCommandLine() throws {
        let verify = try cli(["channels", "verify", "https://x.com/RivertonCity"])
        #expect(verify.output.contains("official: @RivertonCity"))
        let lookalike = try cli(["channels", "verify", "@Riverton_City", "--platform", "x"])
        #expect(lookalike.output.contains("NOT official"))
        let registered = try cli(["channels", "register", "--platform", "x", "--handle", "@RivertonLibrary", "--for", "parks"], agent: "ada")
        #expect(registered.status == 0, "\(registered.error)")
        let id = try #require(registered.output.split(separator: " ").first.map(String.init))
        #expect(try cli(["channels", "approve", id], agent: "ada").output.contains("active"))
        let refused = try cli(["channels", "register", "--platform", "x", "--handle", "@RivertonLibrarry"], agent: "ada")
        #expect(refused.status == 1)
        #expect(refused.error.contains("lookalike_of"))
        let history = try cli(["channels", "history", id])
        #expect(history.output.contains("register  by ada"))
        #expect(history.output.contains("approve  by ada"))
        #expect(try cli(["channels", "list"]).output.contains("@RivertonLibrary"))
    }

    @Test func watchPrintsOneLinePerEvent() throws {
        let events = try #require(daemon.eventsEndpoint)
        let watcher = Process()
        watcher.executableURL = SpawnedDaemon.executable("switchboard")
        watcher.arguments = ["watch", "--events", events, "--topic", "inquiry.routed", "--count", "1"]
        let output = Pipe()
        watcher.standardOutput = output
        try watcher.run()
        // Subscriptions take a moment to reach the publisher: ingest until one is seen.
        var n = 0
        try waitUntil("watch prints an event") {
            n += 1
            _ = try ingest("watch-\(n)", text: "watched \(n)")
            return !watcher.isRunning
        }
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(text.contains("inquiry.routed"))
        #expect(text.contains("front-office") || text.contains("→ queued"))
        #expect(text.range(of: #"inquiry\.routed  R-\d+  "#, options: .regularExpression) != nil, "the case number comes first: \(text)")
    }

    /// The queue shows the SLA time left and a line of text; identity and broker may come
    /// from the config file alone.
    @Test func theQueueFromTheConfigFile() throws {
        _ = try ingest("config-1", text: "Is the swimming pool open on Sundays?")
        let home = temporaryDirectory()
        try FileManager.default.createDirectory(atPath: home + "/switchboard", withIntermediateDirectories: true)
        try "endpoint: \(daemon.endpoint)\nagent: ana\ndepartment: front-office\n".write(toFile: home + "/switchboard/config.yaml", atomically: true, encoding: .utf8)
        let queue = try runTool("switchboard", ["queue"], environment: ["XDG_CONFIG_HOME": home])
        #expect(queue.status == 0, "\(queue.error)")
        #expect(queue.output.contains("SLA LEFT"))
        #expect(queue.output.contains("Is the swimming pool open on Sundays?"))
        #expect(queue.output.contains("23h") || queue.output.contains("1d"), "a day's first-response target: \(queue.output)")
    }

    @Test func serviceStatusTellsAnUnknownDepartmentFromOneWithNoWorker() throws {
        let noWorker = try runTool("switchboard", ["service-status", "roads", "--endpoint", daemon.endpoint])
        #expect(noWorker.status == 4)
        #expect(noWorker.output.contains("no worker"))
        let unknown = try runTool("switchboard", ["service-status", "raods", "--endpoint", daemon.endpoint])
        #expect(unknown.status == 4)
        #expect(unknown.output.contains("not a department of this broker"))
        let own = try runTool("switchboard", ["service-status", "sb.ingest", "--endpoint", daemon.endpoint])
        #expect(own.output.contains("served by the broker itself"))
    }

    /// Completion asks the broker for ids and departments (called as the generated bash
    /// script calls it: the argument, the word index, the cursor index, the words).
    @Test func completionOffersInquiryIdsAndDepartments() throws {
        let id = try ingest("complete-1", text: "complete me")
        let environment = ["SWITCHBOARD_BROKER": daemon.endpoint, "SWITCHBOARD_AGENT": "ana", "SWITCHBOARD_DEPARTMENT": "front-office"]
        let ids = try runTool("switchboard", ["---completion", "claim", "--", "positional@0", "2", "0", "switchboard", "claim", ""], environment: environment)
        #expect(ids.output.contains("R-1"), "case numbers complete, as the queue shows them: \(ids.output)\(ids.error)")
        #expect(try cli(["show", "R-1", "--json"]).output.contains(id))
        let departments = try runTool("switchboard", ["---completion", "handoff", "--", "--to", "4", "2", "switchboard", "handoff", "x", "--to", "ro"], environment: environment)
        #expect(departments.output.contains("roads"), "\(departments.output)\(departments.error)")
        let script = try runTool("switchboard", ["--generate-completion-script", "bash"])
        #expect(script.output.contains("_switchboard"))
    }
}
