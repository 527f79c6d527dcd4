import Foundation
import SwitchboardCore
import SwitchboardProtocol

/// Posting a reply or a question on Meta's platforms, as pure decisions: which Graph API
/// call a message becomes, and what the platform's answer means (posted, wait and try
/// again, needs new credentials, or refused for good with a code from the error
/// registry). The gateway carries them out.
public enum MetaPublishing {
    /// One Graph API call: `POST {api_base}/{path}` with a JSON body.
    public struct Call: Equatable, Sendable {
        public var path: String
        public var body: [UInt8]
    }

    /// What the platform's answer means.
    public typealias Result = PublishOutcome

    /// The longest text each kind of message takes.
    static func limit(_ platform: Platform, direct: Bool) -> Int {
        switch (platform, direct) {
        case (.whatsapp, _): 4_096
        case (.facebook, true): 2_000
        case (.instagram, true): 1_000
        case (.instagram, false): 2_200
        default: 8_000
        }
    }

    /// The call that posts `post` from `account`: a comment reply under the citizen's
    /// comment, or a direct message to the citizen (Messenger, Instagram, WhatsApp).
    public static func call(for post: OutboundPost, account: MetaAccount) -> Swift.Result<Call, PublishRefusal> {
        let direct = account.platform == .whatsapp || post.thread != nil
        guard post.text.count <= limit(account.platform, direct: direct) else {
            return .failure(PublishRefusal(code: .textTooLong, reason: "the text is \(post.text.count) characters; "
                + "\(account.platform.rawValue) takes at most \(limit(account.platform, direct: direct)) here: shorten it and reply again"))
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        func encoded(_ value: some Encodable) -> [UInt8] { Array((try? encoder.encode(value)) ?? Data()) }
        if direct {
            guard let to = post.recipient ?? post.thread else {
                return .failure(PublishRefusal(code: .rejectedByPlatform, reason: "the message names no citizen to send it to"))
            }
            if account.platform == .whatsapp {
                let context = post.inReplyTo.map { WhatsAppText.Context(messageID: $0) }
                return .success(Call(path: "\(account.id)/messages",
                                     body: encoded(WhatsAppText(to: to, text: .init(body: post.text), context: context))))
            }
            return .success(Call(path: "\(account.id)/messages", body: encoded(SendMessage(recipient: .init(id: to), message: .init(text: post.text)))))
        }
        guard let target = post.inReplyTo, !target.isEmpty else {
            return .failure(PublishRefusal(code: .rejectedByPlatform, reason: "the message names no post to answer"))
        }
        let edge = account.platform == .instagram ? "replies" : "comments"
        return .success(Call(path: "\(target)/\(edge)", body: encoded(CommentReply(message: post.text))))
    }

    /// Reads the platform's answer: its HTTP status, body and `Retry-After` header.
    public static func result(status: Int, body: [UInt8], retryAfter: String?) -> Result {
        let document = try? JSONValue.parse(body)
        if (200..<300).contains(status) {
            let id = document?["id"]?.stringValue ?? document?["message_id"]?.stringValue ?? document?["messages"]?[0]?["id"]?.stringValue
            return .posted(externalID: id)
        }
        let error = document?["error"]
        let code = error?["code"]?.doubleValue.map { Int($0) }
        let subcode = error?["error_subcode"]?.doubleValue.map { Int($0) }
        let message = error?["message"]?.stringValue ?? "HTTP \(status)"
        let said = "\(message) (code \(code.map(String.init) ?? "-")\(subcode.map { ", subcode \($0)" } ?? ""))"
        let wait = retryAfter.flatMap(TimeInterval.init)
        switch (code, subcode) {
        case (190?, _):
            return .reauthorize(reason: "the account's access token was refused: \(said)")
        case (nil, _) where status == 401:
            return .reauthorize(reason: "the account's access token was refused: \(said)")
        case (4?, _), (17?, _), (32?, _), (613?, _), (130429?, _), (131056?, _):
            return .retry(after: wait, reason: "throttled: \(said)")
        case (let throttle?, _) where (80001...80009).contains(throttle):
            return .retry(after: wait, reason: "throttled: \(said)")
        case (10?, 2018278?), (131047?, _), (10?, 2018108?):
            return .failed(.messagingWindowClosed, reason: "not delivered: the 24-hour window closed; send a template or ask the citizen to write again (\(said))")
        case (100?, 33?), (803?, _), (368?, _):
            return .failed(.postUnavailable, reason: "not delivered: the post or conversation can no longer be answered (deleted, hidden or blocked): \(said)")
        case (1?, _), (2?, _):
            return .retry(after: wait, reason: "a passing fault at the platform: \(said)")
        default:
            if status == 429 { return .retry(after: wait, reason: "throttled: \(said)") }
            if status >= 500 { return .retry(after: wait, reason: "the platform failed: \(said)") }
            return .failed(.rejectedByPlatform, reason: "not delivered: the platform refused it: \(said)")
        }
    }

    struct CommentReply: Encodable {
        var message: String
    }

    struct SendMessage: Encodable {
        struct Recipient: Encodable { var id: String }
        struct Message: Encodable { var text: String }
        var recipient: Recipient
        var messagingType = "RESPONSE"
        var message: Message

        enum CodingKeys: String, CodingKey {
            case recipient, message
            case messagingType = "messaging_type"
        }
    }

    struct WhatsAppText: Encodable {
        struct Text: Encodable { var body: String }
        struct Context: Encodable {
            var messageID: String
            enum CodingKeys: String, CodingKey { case messageID = "message_id" }
        }
        var messagingProduct = "whatsapp"
        var recipientType = "individual"
        var to: String
        var type = "text"
        var text: Text
        var context: Context?

        enum CodingKeys: String, CodingKey {
            case to, type, text, context
            case messagingProduct = "messaging_product"
            case recipientType = "recipient_type"
        }
    }
}

/// A message the gateway will not post, with the code and reason the agent sees.
public struct PublishRefusal: Error, Equatable, Sendable {
    public var code: ErrorCode
    public var reason: String

    public init(code: ErrorCode, reason: String) {
        self.code = code
        self.reason = reason
    }

    /// The failure document the broker records (3/SB-CASE, "Replies and questions").
    public var document: [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return Array((try? encoder.encode(["status": "failed", "code": code.rawValue, "reason": reason])) ?? Data())
    }
}
