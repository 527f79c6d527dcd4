import Crypto
import Foundation
import SwitchboardCore

/// X's Account Activity webhook, where a city has it: the challenge-response check
/// (CRC) X sends to the webhook's URL, the signature on every delivery, and the
/// `tweet_create_events` that mention the city's accounts (routed by `for_user_id`).
public enum XActivity {
    /// The answer to `GET ?crc_token=`: `{"response_token": "sha256=" + base64 HMAC-SHA256}`.
    public static func crcResponse(token: String, consumerSecret: [UInt8]) -> String {
        #"{"response_token":"sha256=\#(signature(Array(token.utf8), consumerSecret))"}"#
    }

    /// Whether `x-twitter-webhooks-signature` is the signature of the raw body.
    public static func isSigned(_ header: String?, body: [UInt8], consumerSecret: [UInt8]) -> Bool {
        guard let header, header.hasPrefix("sha256="), let given = Data(base64Encoded: String(header.dropFirst(7))) else { return false }
        return HMAC<SHA256>.isValidAuthenticationCode(given, authenticating: body, using: SymmetricKey(data: consumerSecret))
    }

    static func signature(_ message: [UInt8], _ secret: [UInt8]) -> String {
        Data(HMAC<SHA256>.authenticationCode(for: message, using: SymmetricKey(data: secret))).base64EncodedString()
    }

    public enum Item: Equatable, Sendable {
        /// A post, with its author's user id.
        case inquiry(Inquiry, authorID: String)
        /// A post was deleted, named by its id and its author's user id: the envelope needs
        /// the author's handle and the first version's id, which the gateway remembers.
        case deletion(id: String, authorID: String)
        case ownPost
        case unknownAccount(String)
        case ignored(String)
    }

    /// The account a delivery is for (`for_user_id`).
    public static func forUser(_ body: [UInt8]) -> String? {
        (try? JSONValue.parse(body))?["for_user_id"]?.stringValue
    }

    /// The deliveries' posts (API v1.1 shapes) as envelopes.
    public static func items(_ body: [UInt8], accounts: [XAccount]) -> [Item] {
        guard let document = try? JSONValue.parse(body) else { return [.ignored("not JSON")] }
        let forUser = document["for_user_id"]?.stringValue ?? ""
        guard let account = accounts.first(where: { $0.userID == forUser }) else { return [.unknownAccount(forUser)] }
        if let deletions = document["tweet_delete_events"]?.arrayValue {
            // A deleted post withdraws the inquiry it became; X names the post and its author.
            return deletions.map { event in
                guard let id = event["status"]?["id"]?.stringValue, let user = event["status"]?["user_id"]?.stringValue else {
                    return .ignored("tweet_delete_events without a status")
                }
                return user == account.userID ? .ownPost : .deletion(id: id, authorID: user)
            }
        }
        guard let events = document["tweet_create_events"]?.arrayValue else { return [.ignored("no tweet_create_events")] }
        return events.map { event in
            guard let id = event["id_str"]?.stringValue, let user = event["user"] else { return .ignored("tweet without id") }
            if user["id_str"]?.stringValue == account.userID { return .ownPost }
            let text = event["extended_tweet"]?["full_text"]?.stringValue ?? event["full_text"]?.stringValue ?? event["text"]?.stringValue ?? ""
            let screenName = user["screen_name"]?.stringValue
            return .inquiry(Inquiry(
                source: .init(platform: .x, account: account.handle, externalID: id, url: screenName.map { "https://x.com/\($0)/status/\(id)" },
                              inReplyTo: event["in_reply_to_status_id_str"]?.stringValue),
                author: .init(handle: screenName.map { "@" + $0 } ?? (user["id_str"]?.stringValue ?? "unknown"), displayName: user["name"]?.stringValue),
                text: text,
                capturedAt: event["timestamp_ms"]?.stringValue.flatMap(Double.init).map { Inquiry.timestamp(Date(timeIntervalSince1970: $0 / 1_000)) }
                    ?? Inquiry.timestamp(Date())
            ), authorID: user["id_str"]?.stringValue ?? "")
        }
    }
}
