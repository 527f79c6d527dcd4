import Foundation
import SwitchboardCore
import SwitchboardProtocol
import Testing
@testable import SwitchboardGateway

@Suite struct MastodonTests {
    let account = MastodonAccount(instance: "https://riverton.social", handle: "@city@riverton.social")

    @Test func contentIsReadAsPlainText() {
        let html = #"<p><span class="h-card"><a href="https://riverton.social/@city" class="u-url mention">@<span>city</span></a></span> "#
            + #"the bench &amp; the lamp&#39;s post</p><p>line one<br />line two <a href="https://riverton.gov/x" rel="nofollow">"#
            + #"<span class="invisible">https://</span><span class="ellipsis">riverton.gov/</span><span class="invisible">x</span></a></p>"#
        #expect(MastodonText.plain(html) == "@city the bench & the lamp's post\n\nline one\nline two https://riverton.gov/x")
        #expect(MastodonText.plain("<p>5 &lt; 6 &#x263A; &unknown;</p>") == "5 < 6 ☺ &unknown;")
    }

    @Test func aPageBecomesEnvelopesOldestFirstWithoutTheCitysOwnPosts() throws {
        let page = Array("""
            [{"id":"120","type":"mention","created_at":"2026-12-03T09:31:00.000Z","status":{"id":"9120","created_at":"2026-12-03T09:31:00.000Z",
              "content":"<p>second</p>","visibility":"direct","spoiler_text":"tax","in_reply_to_id":"9001","url":"https://e/9120","language":"en",
              "media_attachments":[{"url":"https://e/m.png"}],"account":{"id":"77","acct":"ana@elsewhere.social","display_name":"Ana"}}},
             {"id":"110","type":"favourite","status":{"id":"1"}},
             {"id":"105","type":"mention","status":{"id":"9105","content":"<p>mine</p>","account":{"id":"1","acct":"city"}}},
             {"id":"100","type":"mention","created_at":"2026-12-03T09:30:00.000Z","status":{"id":"9100","created_at":"2026-12-03T09:30:00.000Z",
              "content":"<p>first</p>","visibility":"public","account":{"id":"78","acct":"bo","display_name":""}}}]
            """.utf8)
        let items = try MastodonMentions.items(page: page, account: account, ownAccountID: "1")
        #expect(items.map(\.notificationID) == ["100", "105", "110", "120"])
        guard case .inquiry(_, let first) = items[0], case .inquiry(_, let second) = items[3] else {
            Issue.record("mentions are not inquiries")
            return
        }
        #expect(items[1] == .skipped(notificationID: "105", reason: "own_post") && items[2] == .skipped(notificationID: "110", reason: "favourite"))
        #expect(first.author.handle == "@bo@riverton.social" && first.author.displayName == nil && first.source.thread == nil)
        #expect(second.text == "[content warning: tax]\n\nsecond" && second.source.thread == "9120" && second.source.inReplyTo == "9001")
        #expect(second.source.externalID == "9120" && second.source.account == "@city@riverton.social" && second.media == ["https://e/m.png"])
        // What the broker will read: its own strict decoder takes the envelope.
        for envelope in [first, second] { _ = try EnvelopeDecoder().decode(envelope.json) }
    }

    @Test func idsCompareAsNumbersAndTheLinkHeaderIsRead() {
        #expect(SnowflakeID.isOlder("99", than: "100") && !SnowflakeID.isOlder("100", than: "99"))
        #expect(SnowflakeID.newest(["7", "120", "35"], after: "100") == "120")
        let link = #"<https://r.social/api/v1/notifications?max_id=10>; rel="next", <https://r.social/api/v1/notifications?min_id=50>; rel="prev""#
        #expect(LinkHeader.url(link, rel: "prev") == "https://r.social/api/v1/notifications?min_id=50")
        #expect(LinkHeader.url(nil, rel: "prev") == nil)
    }

    @Test func aReplyKeepsTheCitizensVisibilityAndNamesThem() throws {
        let post = try JSONDecoder().decode(OutboundPost.self, from: Data(#"""
            {"message_id":"m1","inquiry_id":"i1","kind":"answer","platform":"mastodon","account":"@city@riverton.social",
             "in_reply_to":"9120","thread":"9120","text":"Sent to you."}
            """#.utf8))
        let parent = try JSONValue.parse(Array(#"{"id":"9120","visibility":"direct","account":{"acct":"ana@elsewhere.social"}}"#.utf8))
        let body = try MastodonPublishing.reply(to: post, parent: parent).get()
        #expect(String(decoding: body, as: UTF8.self) == #"{"in_reply_to_id":"9120","status":"@ana@elsewhere.social Sent to you.","visibility":"direct"}"#)
        var long = post
        long.text = String(repeating: "x", count: 480)
        #expect(throws: PublishRefusal.self) { try MastodonPublishing.reply(to: long, parent: parent).get() }
    }

    @Test func theInstancesAnswersAreRead() {
        let now = Date(timeIntervalSince1970: 1_764_754_200)   // 2025-12-03T09:30:00Z
        #expect(MastodonPublishing.result(status: 200, body: Array(#"{"id":"555"}"#.utf8), rateLimitReset: nil, now: now) == .posted(externalID: "555"))
        #expect(MastodonPublishing.result(status: 429, body: [], rateLimitReset: "2025-12-03T09:30:30.000Z", now: now)
            == .retry(after: 30, reason: "throttled: HTTP 429"))
        guard case .reauthorize = MastodonPublishing.result(status: 401, body: Array(#"{"error":"The access token is invalid"}"#.utf8), rateLimitReset: nil, now: now) else {
            Issue.record("401 is not re-authorisation")
            return
        }
        #expect(MastodonPublishing.result(status: 422, body: Array(#"{"error":"Validation failed: Text can't be blank"}"#.utf8), rateLimitReset: nil, now: now)
            == .failed(.rejectedByPlatform, reason: "not delivered: the instance refused it: Validation failed: Text can't be blank"))
    }

    @Test func serverSentEventsAreReadAsTheyCome() {
        var parser = EventStreamParser()
        #expect(parser.take(Array(":thump\nevent: notif".utf8)).isEmpty, "a heartbeat, then half a line")
        let events = parser.take(Array("ication\ndata: {\"id\":\"1\"}\n\nevent: delete\r\ndata: 99\r\n\n".utf8))
        #expect(events.map(\.event) == ["notification", "delete"] && events.map(\.data) == [#"{"id":"1"}"#, "99"])
    }

    @Test func streamEventsBecomeEditsAndDeletions() throws {
        let update = #"{"id":"9120","edited_at":"2026-12-03T10:00:00.000Z","content":"<p>now leaking</p>","account":{"id":"77","acct":"ana@elsewhere.social"}}"#
        guard case .edited(let edit) = MastodonStreamEvent.read(event: "status.update", data: update, account: account, ownAccountID: "1") else {
            Issue.record("an edit is not read")
            return
        }
        #expect(edit.source.externalID == "9120" && edit.text == "now leaking" && edit.change == Inquiry.Change(kind: .edited, revision: "2026-12-03T10:00:00.000Z"))
        guard case .deleted(let deletion) = MastodonStreamEvent.read(event: "delete", data: "9120", account: account, ownAccountID: "1") else {
            Issue.record("a deletion is not read")
            return
        }
        #expect(deletion.source.externalID == "9120" && deletion.change?.kind == .deleted)
        #expect(MastodonStreamEvent.read(event: "notification", data: "{}", account: account, ownAccountID: nil) == .notification)
        let own = #"{"id":"5","content":"x","account":{"id":"1","acct":"city"}}"#
        #expect(MastodonStreamEvent.read(event: "status.update", data: own, account: account, ownAccountID: "1") == .ignored("own status"))
    }
}
