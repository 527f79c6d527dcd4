/// What the broker sends to workers (3/SB-CASE): an inquiry delivered to a department
/// worker, and a message handed to a publishing gateway (`outbound.<platform>`). The
/// broker writes both by hand around stored documents; workers written in Swift, and the
/// broker's tests, decode them through these models.

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
