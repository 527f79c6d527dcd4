import Foundation
import SwitchboardCore
import SwitchboardProtocol
import Testing
@testable import SwitchboardGateway

@Suite struct BlueskyTests {
    let account = BlueskyAccount(service: "https://bsky.social", handle: "@riverton.bsky.social")

    @Test func aPageIsReadBackToTheCursorOldestFirst() throws {
        let body = Array("""
            {"cursor":"next","notifications":[
             {"uri":"at://ana/app.bsky.feed.post/3","indexedAt":"2026-12-03T09:03:00.000Z","reason":"reply",
              "author":{"did":"did:plc:ana","handle":"ana.bsky.social","displayName":"Ana"},
              "record":{"text":"still down","createdAt":"2026-12-03T09:03:00.000Z","langs":["en"],"reply":{"parent":{"uri":"at://ana/app.bsky.feed.post/1","cid":"c1"}}}},
             {"uri":"at://bo/like/2","indexedAt":"2026-12-03T09:02:00.000Z","reason":"like","author":{"did":"did:plc:bo","handle":"bo.test"}},
             {"uri":"at://city/app.bsky.feed.post/9","indexedAt":"2026-12-03T09:01:30.000Z","reason":"mention","author":{"did":"did:plc:city","handle":"riverton.bsky.social"},"record":{"text":"ours"}},
             {"uri":"at://ana/app.bsky.feed.post/1","indexedAt":"2026-12-03T09:01:00.000Z","reason":"mention",
              "author":{"did":"did:plc:ana","handle":"ana.bsky.social"},"record":{"text":"sign fell","createdAt":"2026-12-03T09:01:00.000Z"}}]}
            """.utf8)
        let all = try BlueskyNotifications.page(body, account: account, after: nil, ownDID: "did:plc:city")
        #expect(all.inquiries.map(\.text) == ["sign fell", "still down"], "oldest first; likes and the city's own left out")
        #expect(all.newest == "2026-12-03T09:03:00.000Z" && all.nextCursor == "next" && !all.reachedCursor)
        let reply = all.inquiries[1]
        #expect(reply.source.externalID == "at://ana/app.bsky.feed.post/3" && reply.source.inReplyTo == "at://ana/app.bsky.feed.post/1")
        #expect(reply.author == Inquiry.Author(handle: "@ana.bsky.social", displayName: "Ana") && reply.language == "en")
        for envelope in all.inquiries { _ = try EnvelopeDecoder().decode(envelope.json) }
        // Read back to the cursor: what it covers is not taken again, and no older page is asked for.
        let newer = try BlueskyNotifications.page(body, account: account, after: "2026-12-03T09:01:00.000Z", ownDID: "did:plc:city")
        #expect(newer.inquiries.map(\.text) == ["still down"] && newer.reachedCursor && newer.nextCursor == nil)
    }

    @Test func aReplyNamesTheThreadsRootAndCountsGraphemes() throws {
        let post = try JSONDecoder().decode(OutboundPost.self, from: Data(#"""
            {"message_id":"m1","inquiry_id":"i1","kind":"answer","platform":"bluesky","account":"@riverton.bsky.social","in_reply_to":"at://ana/p/3","text":"On its way."}
            """#.utf8))
        let parent = try JSONValue.parse(Array(#"""
            {"uri":"at://ana/p/3","cid":"c3","record":{"reply":{"root":{"uri":"at://ana/p/1","cid":"c1"},"parent":{"uri":"at://ana/p/2","cid":"c2"}}}}
            """#.utf8))
        let now = Date(timeIntervalSince1970: 1_764_754_200)
        let body = try JSONValue.parse(try BlueskyPublishing.record(post, repo: "did:plc:city", parent: parent, now: now).get())
        #expect(body["record"]?["reply"]?["root"]?["uri"]?.stringValue == "at://ana/p/1")
        #expect(body["record"]?["reply"]?["parent"]?["uri"]?.stringValue == "at://ana/p/3" && body["record"]?["reply"]?["parent"]?["cid"]?.stringValue == "c3")
        #expect(body["record"]?["$type"]?.stringValue == "app.bsky.feed.post" && body["repo"]?.stringValue == "did:plc:city")
        // The citizen's post starts the thread: it is both root and parent.
        let first = try JSONValue.parse(Array(#"{"uri":"at://ana/p/1","cid":"c1","record":{"text":"x"}}"#.utf8))
        let top = try JSONValue.parse(try BlueskyPublishing.record(post, repo: "did:plc:city", parent: first, now: now).get())
        #expect(top["record"]?["reply"]?["root"]?["uri"]?.stringValue == "at://ana/p/1")
        #expect(BlueskyPublishing.checkLength(String(repeating: "👍🏽", count: 300)) == nil)
        #expect(BlueskyPublishing.checkLength(String(repeating: "👍🏽", count: 301))?.code == .textTooLong)
        #expect(BlueskyPublishing.result(status: 429, body: [], rateLimitReset: "1764754260", now: now) == .retry(after: 60, reason: "throttled: HTTP 429"))
    }
}
