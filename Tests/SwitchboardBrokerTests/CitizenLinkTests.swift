import DaemonHarness
import Foundation
import GRDB
import Majordomo
import SwitchboardCore
import Testing
import TestSupport
import ZeroMQ
@testable import SwitchboardBroker

/// One citizen across channels, as agents and the data-protection officer meet it on the
/// CLI against a spawned broker: a proposal shown and never applied, a link with its
/// reason, the listing across platforms, `show` naming the other open inquiry, a merge,
/// an unlink, and an erasure of one identity that removes every linked one's data and the
/// links, leaving no canary in the files.
@Suite(.serialized) struct CitizenLinkTests {
    static let canaries = ["CanaryAna1", "canaryfb2", "CanaryMail3", "CanaryLinkNote4", "CanaryText5", "CanaryText6"]

    static func found(inFile path: String) -> [String] {
        guard let data = FileManager.default.contents(atPath: path) else { return [] }
        let text = String(decoding: data, as: UTF8.self).lowercased()
        return canaries.filter { text.contains($0.lowercased()) }
    }

    static func post(_ id: String, platform: String, handle: String, text: String, name: String = "Ana Ruiz") -> Frame {
        Frame(#"{"source":{"platform":"\#(platform)","account":"@RivertonCity","external_id":"\#(id)"},"author":{"handle":"\#(handle)","display_name":"\#(name)"},"text":"\#(text)","captured_at":"2026-11-22T09:30:00Z"}"#)
    }

    static func accepted(_ client: MajordomoClient, _ post: Frame) throws -> String {
        let answer = jsonObject(try client.request("sb.ingest", body: [post])?.body)
        return try #require(answer["id"] as? String, "\(answer)")
    }

    @Test func agentsLinkListMergeAndUnlinkAndOneErasureCoversEveryLinkedIdentity() throws {
        let daemon = try SpawnedDaemon()
        let client = try MajordomoClient(context: try Context(), endpoint: daemon.endpoint)
        defer { client.close() }
        let cli = { (arguments: [String]) in try DataProtectionTests.cli(daemon, arguments) }
        let onX = try Self.accepted(client, Self.post("p1", platform: "x", handle: "@CanaryAna1", text: "CanaryText5 when does the office open? write to CanaryMail3@example.org"))
        let onFacebook = try Self.accepted(client, Self.post("p2", platform: "facebook", handle: "canaryfb2",
                                                             text: "CanaryText6 no answer yet, I also wrote on X as @CanaryAna1"))
        _ = try Self.accepted(client, Self.post("p3", platform: "x", handle: "@someone_else", text: "a bench is broken", name: "Bo"))

        // The broker proposes (the citizen named the X identity); nothing is linked by it.
        let proposed = try cli(["citizen", "show", "facebook:canaryfb2"])
        #expect(proposed.status == 0, "\(proposed.error)")
        #expect(proposed.output.contains("x:canaryana1: the citizen named x:canaryana1 as theirs"), "\(proposed.output)")
        #expect(proposed.output.contains("not linked until an agent links them"))
        #expect(!proposed.output.contains(onX.prefix(8)), "a proposal is not a link: \(proposed.output)")

        // Bad input is named, and changes nothing.
        let noNote = try cli(["citizen", "link", "x:@CanaryAna1", "facebook:canaryfb2"])
        #expect(noNote.status == 2 && noNote.error.contains("--note"), "\(noNote.error)")
        let badIdentity = try cli(["citizen", "link", "ana", "facebook:canaryfb2", "--note", "n"])
        #expect(badIdentity.status == 2 && badIdentity.error.contains("PLATFORM:HANDLE"), "\(badIdentity.error)")
        let anonymous = try runTool("switchboard", ["citizen", "link", "x:@CanaryAna1", "facebook:canaryfb2", "--note", "n"],
                                    environment: ["SWITCHBOARD_BROKER": daemon.endpoint, "SWITCHBOARD_AGENT": ""])
        #expect(anonymous.status == 1 && anonymous.error.contains("give --agent NAME"), "a link says who made it: \(anonymous.error)")
        let blankNote = try cli(["citizen", "link", "x:@CanaryAna1", "facebook:canaryfb2", "--note", " "])
        #expect(blankNote.status == 2 && blankNote.error.contains("--note must say why"), "\(blankNote.error)")
        let itself = try cli(["citizen", "link", "x:@CanaryAna1", "X:canaryana1", "--note", "n"])
        #expect(itself.status == 1 && itself.error.contains("the same identity"), "\(itself.error)")

        let linked = try cli(["citizen", "link", "x:@CanaryAna1", "facebook:canaryfb2", "--note", "CanaryLinkNote4 same phone on both"])
        #expect(linked.status == 0, "\(linked.error)")
        #expect(linked.output.contains("linked: facebook:canaryfb2, x:canaryana1 are one citizen"), "\(linked.output)")
        let again = try cli(["citizen", "link", "facebook:canaryfb2", "x:canaryana1", "--note", "again"])
        #expect(again.output.contains("already linked"), "\(again.output)")

        // One citizen: both inquiries, newest first, the link and its history.
        let listing = try cli(["citizen", "show", "x:canaryana1", "--json"])
        let answer = try #require(try JSONSerialization.jsonObject(with: Data(listing.output.utf8)) as? [String: Any], "\(listing.output)")
        #expect((answer["identities"] as? [String]) == ["facebook:canaryfb2", "x:canaryana1"])
        #expect(((answer["inquiries"] as? [[String: Any]]) ?? []).compactMap { $0["id"] as? String } == [onFacebook, onX])
        let history = (answer["history"] as? [[String: Any]]) ?? []
        #expect(history.count == 1 && history.first?["action"] as? String == "link" && history.first?["actor"] as? String == "ana")
        #expect((history.first?["note"] as? String)?.contains("CanaryLinkNote4") == true)
        #expect(((answer["proposals"] as? [Any]) ?? [0]).isEmpty, "a linked identity is not proposed again")

        // `show` of one names the other, open on the linked identity.
        let shown = try cli(["show", onFacebook])
        #expect(shown.output.contains("also open"), "\(shown.output)")

        // A merge: the X inquiry closes as the Facebook one's duplicate, timeline kept.
        #expect(try cli(["claim", onX]).status == 0)
        let merged = try cli(["merge", onX, "--into", onFacebook, "--note", "same question"])
        #expect(merged.status == 0, "\(merged.error)")
        #expect(merged.output.contains("merged") && merged.output.contains("closed"), "\(merged.output)")
        let mergedShown = try cli(["show", onX])
        #expect(mergedShown.output.contains("closed as  duplicate, merged into R-2"), "\(mergedShown.output)")
        #expect(try cli(["show", onFacebook]).output.contains("merged in  R-1"), "the inquiry answered names the one merged into it")
        #expect(mergedShown.output.contains("inquiry.claimed") && mergedShown.output.contains("merged into \(onFacebook): same question"))
        let pointless = try cli(["close", onFacebook, "--resolution", "duplicate"])
        #expect(pointless.status == 2 && pointless.error.contains("--duplicate-of"), "a duplicate of nothing: \(pointless.error)")
        let intoMissing = try cli(["close", onFacebook, "--duplicate-of", "0192aaaa-0000-7000-8000-000000000000"])
        #expect(intoMissing.status == 4 && intoMissing.error.contains("there is no inquiry"), "\(intoMissing.error)")
        let cycle = try cli(["merge", onFacebook, "--into", onX])
        #expect(cycle.status == 1 && cycle.error.contains("R-1 is already merged into this inquiry"), "no cycle of duplicates: \(cycle.error)")

        // Unlink, with a reason; then link again for the erasure.
        let unlinked = try cli(["citizen", "unlink", "x:canaryana1", "facebook:canaryfb2", "--note", "checking"])
        #expect(unlinked.output.contains("unlinked"), "\(unlinked.output)")
        #expect(try cli(["citizen", "show", "x:canaryana1", "--json"]).output.contains(#""identities":["x:canaryana1"]"#))
        #expect(try cli(["citizen", "link", "x:canaryana1", "facebook:canaryfb2", "--note", "CanaryLinkNote4 confirmed"]).status == 0)

        // Close the Facebook inquiry, then erase the citizen by their X identity alone.
        #expect(try cli(["claim", onFacebook]).status == 0)
        #expect(try cli(["close", onFacebook, "--resolution", "answered"]).status == 0)
        let erased = try cli(["admin", "erase", "--citizen", "x:@canaryana1"])
        #expect(erased.status == 0, "\(erased.error)")
        #expect(erased.output.contains("2 linked identities (facebook, x)"), "\(erased.output)")
        #expect(erased.output.contains("erased the personal data of 2 inquiries"), "\(erased.output)")

        // Nothing of either identity is left: listings, links, files.
        let after = try cli(["citizen", "show", "facebook:canaryfb2", "--json"])
        #expect(after.output.contains(#""inquiries":[]"#) && after.output.contains(#""links":[]"#), "\(after.output)")
        #expect(try cli(["citizen", "show", "facebook:canaryfb2"]).output.contains("erased on request"), "not 'never wrote'")
        let database = daemon.dataDirectory + "/inquiries.sqlite"
        // Every file of the data directory: the projection, the journal, their logs.
        for file in try FileManager.default.contentsOfDirectory(atPath: daemon.dataDirectory) {
            let path = daemon.dataDirectory + "/" + file
            #expect(Self.found(inFile: path).isEmpty, "\(path) still holds \(Self.found(inFile: path))")
        }
        let audit = try DatabaseQueue(path: database)
        #expect(try audit.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM erasure_audit") } == 2)
        #expect(try audit.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM citizen_link_audit WHERE note IS NOT NULL") } == 0)
        #expect(try audit.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM citizen_link_audit") } == 3)
        #expect(try daemon.terminate() == 0)
        #expect(Self.canaries.filter { daemon.log.lowercased().contains($0.lowercased()) }.isEmpty, "the log names a citizen")
    }
}
