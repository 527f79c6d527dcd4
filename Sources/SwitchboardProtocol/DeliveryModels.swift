/// What the broker sends to workers (3/SB-CASE): an inquiry delivered to a department
/// worker, and a message handed to a publishing gateway (`outbound.<platform>`). The
/// broker writes a delivery with ``InquiryDelivery/write(caseNumber:count:department:inquiryID:priority:replyAccountsJSON:envelopeJSON:routingJSON:)``
/// around stored documents; workers written in Swift, and the broker's tests, decode both
/// through these models.

/// One inquiry delivered to a department worker.
public struct InquiryDelivery: Codable, Equatable, Sendable {
    public var delivery: Info
    /// The envelope as the gateway sent it (with the `id` and `received_at` the broker
    /// added); this model reads the parts a worker needs.
    public var inquiry: InquiryDetail.Envelope
    public var routing: InquiryDetail.Routing

    public struct Info: Codable, Equatable, Sendable {
        /// 1 for a first delivery; more after a worker left holding it.
        public var count: Int
        public var department: String
        public var inquiryID: String
        public var priority: String
        /// The case number people quote (`R-4821`).
        public var caseNumber: String?
        /// The official accounts the department may answer through on the inquiry's
        /// platform (its own and those the front office shares): a worker's `answered`
        /// or `awaiting_citizen` outcome names one of them.
        public var replyAccounts: [String]?

        enum CodingKeys: String, CodingKey {
            case count, department, priority
            case inquiryID = "inquiry_id"
            case caseNumber = "case"
            case replyAccounts = "reply_accounts"
        }
    }
}

extension InquiryDelivery {
    /// The delivery document as bytes, spliced around the stored envelope and routing
    /// decision (already JSON, written once at ingest) without decoding them: a delivery
    /// is the broker's hottest document, and the model's encoder would parse and re-emit
    /// both. Department ids, priorities, inquiry ids and case numbers are plain words
    /// (the configuration allows no quote or backslash in them); `replyAccountsJSON` is a
    /// JSON array. The round trip through the model is tested.
    public static func write(
        caseNumber: String, count: Int, department: String, inquiryID: String, priority: String,
        replyAccountsJSON: String, envelopeJSON: String, routingJSON: String
    ) -> [UInt8] {
        var body = [UInt8]()
        body.reserveCapacity(envelopeJSON.utf8.count + routingJSON.utf8.count + replyAccountsJSON.utf8.count + 160)
        body.append(contentsOf: #"{"delivery":{"case":""#.utf8)
        body.append(contentsOf: caseNumber.utf8)
        body.append(contentsOf: #"","count":"#.utf8)
        body.append(contentsOf: String(count).utf8)
        body.append(contentsOf: #","department":""#.utf8)
        body.append(contentsOf: department.utf8)
        body.append(contentsOf: #"","inquiry_id":""#.utf8)
        body.append(contentsOf: inquiryID.utf8)
        body.append(contentsOf: #"","priority":""#.utf8)
        body.append(contentsOf: priority.utf8)
        body.append(contentsOf: #"","reply_accounts":"#.utf8)
        body.append(contentsOf: replyAccountsJSON.utf8)
        body.append(contentsOf: #"},"inquiry":"#.utf8)
        body.append(contentsOf: envelopeJSON.utf8)
        body.append(contentsOf: #","routing":"#.utf8)
        body.append(contentsOf: routingJSON.utf8)
        body.append(UInt8(ascii: "}"))
        return body
    }
}

/// A reply or a question for a publishing gateway to post on the platform.
public struct OutboundPost: Codable, Equatable, Sendable {
    public var messageID: String
    public var inquiryID: String
    /// `answer` or `question`.
    public var kind: String
    public var platform: String
    /// The official account to post from.
    public var account: String
    /// The citizen's post this one answers, when known.
    public var inReplyTo: String?
    /// The citizen it goes to (their handle or platform id), for a direct message.
    public var recipient: String?
    /// The platform's conversation id when the inquiry came as a direct message
    /// (Messenger, Instagram direct, WhatsApp); absent for a post or comment.
    public var thread: String?
    public var text: String

    enum CodingKeys: String, CodingKey {
        case kind, platform, account, text, recipient, thread
        case messageID = "message_id"
        case inquiryID = "inquiry_id"
        case inReplyTo = "in_reply_to"
    }
}
