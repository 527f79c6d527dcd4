import Foundation
import SwitchboardCore
import SwitchboardProtocol

/// Replying on Mastodon, as pure decisions: the status a reply becomes (answering the
/// citizen's status with the visibility they used, a `direct` mention answered `direct`,
/// their `@acct` first) and what the instance's answer means.
public enum MastodonPublishing {
    /// Mastodon's default length limit; an instance may allow more, never less.
    public static let maxCharacters = 500

    /// `POST /api/v1/statuses`'s body, from the citizen's status (`GET /api/v1/statuses/:id`).
    public static func reply(to post: OutboundPost, parent: JSONValue) -> Result<[UInt8], PublishRefusal> {
        guard let parentID = parent["id"]?.stringValue, let acct = parent["account"]?["acct"]?.stringValue else {
            return .failure(PublishRefusal(code: .postUnavailable, reason: "not delivered: the citizen's status could not be read"))
        }
        let mention = "@" + acct
        let text = post.text.hasPrefix(mention) ? post.text : mention + " " + post.text
        guard text.count <= maxCharacters else {
            return .failure(PublishRefusal(code: .textTooLong, reason: "the text is \(text.count) characters with the citizen's \(mention); "
                + "Mastodon takes at most \(maxCharacters): shorten it and reply again"))
        }
        // Never wider than the citizen chose: a private or direct mention stays so.
        let visibility = parent["visibility"]?.stringValue ?? "public"
        let status = Status(status: text, inReplyToID: parentID, visibility: visibility)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return .success(Array((try? encoder.encode(status)) ?? Data()))
    }

    /// Reads the instance's answer: its HTTP status, body and rate-limit headers.
    public static func result(status: Int, body: [UInt8], rateLimitReset: String?, now: Date) -> PublishOutcome {
        let document = try? JSONValue.parse(body)
        let said = document?["error"]?.stringValue ?? "HTTP \(status)"
        switch status {
        case 200..<300:
            return .posted(externalID: document?["id"]?.stringValue)
        case 401:
            return .reauthorize(reason: "the account's access token was refused: \(said)")
        case 404, 410:
            return .failed(.postUnavailable, reason: "not delivered: the citizen's status is gone (deleted, or no longer visible): \(said)")
        case 429:
            return .retry(after: RateLimitReset.wait(rateLimitReset, .isoTime, now: now), reason: "throttled: \(said)")
        case 500..<600, 0:
            return .retry(after: nil, reason: "the instance failed: \(said)")
        default:
            return .failed(.rejectedByPlatform, reason: "not delivered: the instance refused it: \(said)")
        }
    }

    struct Status: Encodable {
        var status: String
        var inReplyToID: String
        var visibility: String

        enum CodingKeys: String, CodingKey {
            case status, visibility
            case inReplyToID = "in_reply_to_id"
        }
    }
}
