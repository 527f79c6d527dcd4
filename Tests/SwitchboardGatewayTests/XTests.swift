import Foundation
import SwitchboardCore
import SwitchboardProtocol
import Testing
@testable import SwitchboardGateway

@Suite struct XTests {
    let account = XAccount(userID: "9000", handle: "@RivertonCity")

    @Test func aPageBecomesEnvelopesOldestFirstAndAnEditNamesTheFirstVersion() throws {
        let page = try XMentions.page(Array("""
            {"data":[{"id":"30","text":"fixed text","author_id":"500","created_at":"2026-12-03T09:32:00.000Z","edit_history_tweet_ids":["10","30"]},
                     {"id":"20","text":"our own","author_id":"9000","edit_history_tweet_ids":["20"]},
                     {"id":"10","text":"first text","author_id":"500","created_at":"2026-12-03T09:30:00.000Z","edit_history_tweet_ids":["10"],
                      "referenced_tweets":[{"type":"replied_to","id":"5"}],"lang":"und"}],
             "includes":{"users":[{"id":"500","username":"ana_r","name":"Ana"}]},
             "meta":{"newest_id":"30","oldest_id":"10","result_count":3,"next_token":"t3"}}
            """.utf8), account: account)
        #expect(page.newestID == "30" && page.nextToken == "t3")
        #expect(page.inquiries.map(\.text) == ["first text", "fixed text"], "oldest first, the city's own left out")
        let (first, edit) = (page.inquiries[0], page.inquiries[1])
        #expect(first.source.externalID == "10" && first.change == nil && first.source.inReplyTo == "5" && first.language == nil)
        #expect(edit.source.externalID == "10" && edit.change == Inquiry.Change(kind: .edited, revision: "30"))
        #expect(first.author == Inquiry.Author(handle: "@ana_r", displayName: "Ana") && edit.source.url == "https://x.com/ana_r/status/30")
        for envelope in page.inquiries { _ = try EnvelopeDecoder().decode(envelope.json) }
    }

    @Test func repliesAndXsAnswers() throws {
        let post = try JSONDecoder().decode(OutboundPost.self, from: Data(#"""
            {"message_id":"m1","inquiry_id":"i1","kind":"answer","platform":"x","account":"@RivertonCity","in_reply_to":"10","text":"At 9."}
            """#.utf8))
        #expect(String(decoding: try XPublishing.reply(to: post).get(), as: UTF8.self) == #"{"reply":{"in_reply_to_tweet_id":"10"},"text":"At 9."}"#)
        var long = post
        long.text = String(repeating: "a", count: 281)
        #expect(throws: PublishRefusal.self) { try XPublishing.reply(to: long).get() }
        let now = Date(timeIntervalSince1970: 1_764_754_200)
        #expect(XPublishing.result(status: 201, body: Array(#"{"data":{"id":"77"}}"#.utf8), rateLimitReset: nil, now: now) == .posted(externalID: "77"))
        #expect(XPublishing.result(status: 429, body: [], rateLimitReset: "1764754230", now: now) == .retry(after: 30, reason: "throttled: HTTP 429"))
        guard case .failed(.rejectedByPlatform, let reason) = XPublishing.result(status: 403, body: Array(
            #"{"detail":"You are not allowed to create a Tweet with duplicate content.","status":403}"#.utf8), rateLimitReset: nil, now: now) else {
            Issue.record("a duplicate is not a permanent failure")
            return
        }
        #expect(reason.contains("same text"))
    }

    @Test func theActivityWebhooksChecks() {
        let secret = Array("consumer".utf8)
        // HMAC-SHA256 of "token" with "consumer", base64, as openssl computes it:
        // printf %s token | openssl dgst -sha256 -hmac consumer -binary | base64
        let response = XActivity.crcResponse(token: "token", consumerSecret: secret)
        let body = Array(#"{"for_user_id":"9000","tweet_create_events":[{"id_str":"1","text":"hi","user":{"id_str":"500","screen_name":"a"}}]}"#.utf8)
        let signature = "sha256=" + XActivity.signature(body, secret)
        #expect(response == #"{"response_token":"sha256=qSIz79GpaiNQHPha5G+pvQ/FX+osL5pBRv2p8HzUG+g="}"#)
        #expect(XActivity.isSigned(signature, body: body, consumerSecret: secret))
        #expect(!XActivity.isSigned(signature, body: body + [32], consumerSecret: secret) && !XActivity.isSigned(nil, body: body, consumerSecret: secret))
        #expect(XActivity.items(body, accounts: [account]).count == 1)
        #expect(XActivity.items(body, accounts: []) == [.unknownAccount("9000")])
        let deletions = Array(#"{"for_user_id":"9000","tweet_delete_events":[{"status":{"id":"7","user_id":"500"}},{"status":{"id":"8","user_id":"9000"}}]}"#.utf8)
        #expect(XActivity.items(deletions, accounts: [account]) == [.deletion(id: "7", authorID: "500"), .ownPost])
        #expect(XActivity.forUser(deletions) == "9000")
    }
}
