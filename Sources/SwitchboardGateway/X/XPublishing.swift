import Foundation
import SwitchboardCore
import SwitchboardProtocol

/// Replying on X, as pure decisions: `POST /2/tweets` with `reply.in_reply_to_tweet_id`,
/// and what X's answer means.
public enum XPublishing {
    /// X's limit for an account without a subscription.
    public static let maxCharacters = 280

    public static func reply(to post: OutboundPost) -> Result<[UInt8], PublishRefusal> {
        guard let target = post.inReplyTo, !target.isEmpty else {
            return .failure(PublishRefusal(code: .rejectedByPlatform, reason: "the message names no post to answer"))
        }
        guard post.text.count <= maxCharacters else {
            return .failure(PublishRefusal(code: .textTooLong, reason: "the text is \(post.text.count) characters; X takes at most "
                + "\(maxCharacters): shorten it and reply again"))
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return .success(Array((try? encoder.encode(Tweet(text: post.text, reply: .init(inReplyToTweetID: target)))) ?? Data()))
    }

    /// Reads X's answer: its HTTP status, body and `x-rate-limit-reset` (epoch seconds).
    public static func result(status: Int, body: [UInt8], rateLimitReset: String?, now: Date) -> PublishOutcome {
        let document = try? JSONValue.parse(body)
        let said = document?["detail"]?.stringValue ?? document?["title"]?.stringValue ?? "HTTP \(status)"
        switch status {
        case 200..<300:
            return .posted(externalID: document?["data"]?["id"]?.stringValue)
        case 401:
            return .reauthorize(reason: "the account's access token was refused: \(said)")
        case 403 where said.lowercased().contains("duplicate"):
            // Never retried: the same text would be refused again.
            return .failed(.rejectedByPlatform, reason: "not delivered: X refuses a post with the same text as an earlier one; "
                + "change the wording and reply again (\(said))")
        case 429:
            return .retry(after: RateLimitReset.wait(rateLimitReset, .epochSeconds, now: now), reason: "throttled: \(said)")
        case 500..<600, 0:
            return .retry(after: nil, reason: "X failed: \(said)")
        default:
            return .failed(.rejectedByPlatform, reason: "not delivered: X refused it: \(said)")
        }
    }

    struct Tweet: Encodable {
        struct Reply: Encodable {
            var inReplyToTweetID: String
            enum CodingKeys: String, CodingKey { case inReplyToTweetID = "in_reply_to_tweet_id" }
        }
        var text: String
        var reply: Reply
    }
}
