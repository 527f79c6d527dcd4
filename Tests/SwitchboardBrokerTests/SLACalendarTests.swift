import DaemonHarness
import Foundation
import Testing
import TestSupport

/// A broker whose SLA clocks count in a calendar, as an agent sees it: `show` says when
/// each clock falls due in that calendar, and the queue's time left counts to then.
@Suite struct SLACalendarTests {
    /// A broker whose one department, the front office, counts in the calendar `office`
    /// (its YAML body, indented by four) against these targets.
    static func broker(calendar: String, targets: String, arguments: [String] = []) throws -> SpawnedDaemon {
        let config = temporaryDirectory() + "/city.yaml"
        try """
            departments:
              - id: front-office
            calendars:
              office:
                \(calendar)
            sla:
              calendar: office
              targets:
                \(targets)
            """.write(toFile: config, atomically: true, encoding: .utf8)
        return try SpawnedDaemon(arguments: ["--config", config] + arguments)
    }

    /// An inquiry submitted with the CLI, and its SLA clocks as `show --json` gives them.
    static func ingestAndShow(_ daemon: SpawnedDaemon) throws -> (id: String, clocks: [[String: Any]]) {
        let envelope = #"{"source":{"platform":"x","account":"@RivertonCity","external_id":"cal-1"},"author":{"handle":"@resident"},"text":"Where do I renew a parking permit?","captured_at":"2026-11-22T09:30:00Z"}"#
        let ingested = try runTool("switchboard", ["ingest", "--endpoint", daemon.endpoint, "-"], input: envelope)
        #expect(ingested.status == 0, "\(ingested.error)")
        let id = try #require((try JSONSerialization.jsonObject(with: Data(ingested.output.utf8)) as? [String: Any])?["id"] as? String)
        let shown = try runTool("switchboard", ["show", id, "--json", "--endpoint", daemon.endpoint, "--agent", "ana", "--department", "front-office"])
        #expect(shown.status == 0, "\(shown.error)")
        let detail = try #require(try JSONSerialization.jsonObject(with: Data(shown.output.utf8)) as? [String: Any])
        return (id, try #require(detail["sla"] as? [[String: Any]]))
    }

    @Test func anAgentSeesTheDueTimeTheCalendarGives() throws {
        // Open around the clock, but closed today and the next two days (UTC): an inquiry
        // that arrives now, with a first-response target of one hour, is due at 01:00
        // three days from today.
        var utc = Calendar(identifier: .gregorian)
        utc.timeZone = TimeZone(identifier: "UTC")!
        let dayFormat = DateFormatter()
        dayFormat.timeZone = utc.timeZone
        dayFormat.dateFormat = "yyyy-MM-dd"
        let everyDay = ["sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"].map { "\($0): 00:00-24:00" }
        // Midnight may pass between working out the holidays and the inquiry's arrival:
        // then once more, on the new day (it cannot pass twice in a few seconds).
        var attempt: (today: Date, daemon: SpawnedDaemon, id: String, clocks: [[String: Any]])?
        for _ in 0..<2 where attempt == nil {
            let today = utc.startOfDay(for: Date())
            let holidays = (0..<3).map { dayFormat.string(from: utc.date(byAdding: .day, value: $0, to: today)!) }.joined(separator: ", ")
            let daemon = try Self.broker(calendar: "time_zone: UTC\n    hours: {\(everyDay.joined(separator: ", "))}\n    holidays: [\(holidays)]",
                                         targets: "normal: {first_response: 1h, resolution: 2h}")
            let (id, clocks) = try Self.ingestAndShow(daemon)
            if utc.startOfDay(for: Date()) == today { attempt = (today, daemon, id, clocks) }
        }
        let (today, daemon, id, clocks) = try #require(attempt, "midnight passed twice during the test")
        let day = { (offset: Int) in utc.date(byAdding: .day, value: offset, to: today)! }

        let agent = ["--endpoint", daemon.endpoint, "--agent", "ana", "--department", "front-office"]
        let firstResponse = try #require(clocks.first { $0["clock"] as? String == "first_response" })
        let due = try #require((firstResponse["due_at"] as? String).flatMap { ISO8601DateFormatter().date(from: String($0.prefix(19)) + "Z") })
        #expect(due == day(3).addingTimeInterval(3_600), "\(firstResponse)")
        #expect(firstResponse["elapsed_seconds"] as? Double == 0, "nothing counted on a holiday")

        // What the agent reads: the due time beside the clock, and days left in the queue.
        let text = try runTool("switchboard", ["show", id] + agent)
        #expect(text.output.contains("first_response: running, 1h left of 1h, due \(dayFormat.string(from: day(3)))T01:00:00"), "\(text.output)")
        let queue = try runTool("switchboard", ["queue", "--json"] + agent)
        let listed = try #require(try JSONSerialization.jsonObject(with: Data(queue.output.utf8)) as? [String: Any])
        let first = try #require((listed["inquiries"] as? [[String: Any]])?.first)
        #expect((first["sla_seconds_left"] as? Double ?? 0) > 2 * 86_400, "\(first)")
    }
}
