import Foundation
import Testing
import TestSupport

/// The `switchboard` command-line tool, run as a process.
@Suite(.serialized) struct CLITests {
    let streetlights = #"{"source":{"platform":"mastodon","account":"@city@riverton.social","external_id":"109876"},"author":{"handle":"@ana"},"text":"Streetlights are OUT on Riverside Avenue","captured_at":"2026-11-22T09:30:00Z"}"#

    /// Asked of the running broker, so its own rules answer; and offline from a file.
    @Test(arguments: [true, false]) func routeExplainShowsTheRuleAndWhy(askTheBroker: Bool) throws {
        let daemon = askTheBroker ? try SpawnedDaemon() : nil
        let deploy = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../deploy/switchboard.yaml").standardized.path
        let arguments = ["route", "--explain", "-"] + (daemon.map { ["--endpoint", $0.endpoint] } ?? ["--config", deploy])
        let result = try runTool("switchboard", arguments, input: streetlights)
        #expect(result.status == 0, "\(result.error)")
        let lines = result.output.split(separator: "\n").map(String.init)
        #expect(lines.prefix(4) == [
            "department: roads (Roads and street lighting)",
            "priority:   high",
            "tags:       safety",
            "rule:       streetlights",
        ])
        #expect(lines.contains("  - rule \"waste-account\" skipped: account @city@riverton.social is not one of \"@RivertonWaste\""))
        #expect(lines.last?.contains("matched: the text matches") == true)
    }

    @Test(arguments: [true, false]) func routeRejectsABadEnvelopeWithTheField(askTheBroker: Bool) throws {
        let daemon = askTheBroker ? try SpawnedDaemon() : nil
        let deploy = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../deploy/switchboard.yaml").standardized.path
        let arguments = ["route", "-"] + (daemon.map { ["--endpoint", $0.endpoint] } ?? ["--config", deploy])
        let result = try runTool("switchboard", arguments, input: #"{"text": 1}"#)
        #expect(result.status == 1)
        #expect(result.error.contains("the envelope would be rejected: missing_field: source is required"), "\(result.error)")
    }

    /// An envelope to an impostor account goes to the front office's channel review, and
    /// the explanation names the account it imitates.
    @Test func routeFlagsAnImpostorAccount() throws {
        let daemon = try SpawnedDaemon()
        let impostor = #"{"source":{"platform":"x","account":"@RivertonCityOfficial","external_id":"imp-9"},"author":{"handle":"@resident"},"text":"Streetlights are out on Elm","captured_at":"2026-11-22T09:30:00Z"}"#
        let result = try runTool("switchboard", ["route", "--endpoint", daemon.endpoint, "-"], input: impostor)
        #expect(result.status == 0, "\(result.error)")
        let lines = result.output.split(separator: "\n").map(String.init)
        #expect(lines.first?.hasPrefix("department: front-office (") == true, "\(result.output)")
        #expect(lines.contains("channel:    NOT official (lookalike), imitates @RivertonCity: goes to front-office channel review"), "\(result.output)")
    }

    @Test func ingestAndRequeueThroughTheDaemon() throws {
        let daemon = try SpawnedDaemon()
        let ingested = try runTool("switchboard", ["ingest", "--endpoint", daemon.endpoint, "-"], input: streetlights)
        #expect(ingested.status == 0)
        #expect(ingested.output.contains(#""status":"accepted""#))
        #expect(ingested.output.contains(#""department":"roads""#))

        let again = try runTool("switchboard", ["ingest", "--endpoint", daemon.endpoint, "-"], input: streetlights)
        #expect(again.output.contains(#""status":"duplicate""#))

        let unknown = try runTool("switchboard", ["requeue", "--endpoint", daemon.endpoint, "0190e5c2-8f3a-7c1e-9a55-3b2f0c1d4e6f"])
        #expect(unknown.status == 4)
        #expect(unknown.error.contains("not_found: there is no inquiry 0190e5c2-8f3a-7c1e-9a55-3b2f0c1d4e6f"), "\(unknown.error)")

        let id = try #require(ingested.output.split(separator: "\"").dropFirst(7).first.map(String.init))
        let notParked = try runTool("switchboard", ["requeue", "--endpoint", daemon.endpoint, id])
        #expect(notParked.status == 1)
        #expect(notParked.error.contains("not_parked"), "\(notParked.error)")
        // The prefix and the case number the README and the queue show work here too.
        let byPrefix = try runTool("switchboard", ["requeue", "--endpoint", daemon.endpoint, String(id.prefix(23))])
        #expect(byPrefix.error.contains("not_parked"), "\(byPrefix.error)")
        let byCase = try runTool("switchboard", ["requeue", "--endpoint", daemon.endpoint, "R-1"])
        #expect(byCase.error.contains("not_parked: inquiry \(id) is queued"), "\(byCase.error)")
        let noCase = try runTool("switchboard", ["requeue", "--endpoint", daemon.endpoint, "R-99"])
        #expect(noCase.status == 4)
        #expect(noCase.error.contains("there is no case R-99"), "\(noCase.error)")

        let badID = try runTool("switchboard", ["requeue", "--endpoint", daemon.endpoint, "nope"])
        #expect(badID.status == 2)
        #expect(badID.error.contains("is not an inquiry id"))
        #expect(try daemon.terminate() == 0)
    }
}
