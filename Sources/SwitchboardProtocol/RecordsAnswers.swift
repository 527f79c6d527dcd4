/// `sb.admin.erase` (7/SB-PRIVACY): what was (or, in a dry run, would be) erased of one
/// citizen's personal data.
public struct ErasureAnswer: Codable, Equatable, Sendable {
    public var status: String
    public var dryRun: Bool
    /// The audit's keyed hash of the citizen: the handle itself is not kept.
    public var citizen: String
    public var platform: String
    /// Closed inquiries erased (or that would be).
    public var inquiries: Int
    public var messages: Int
    public var alreadyAnonymised: Int
    public var ids: [String]
    /// When this citizen's data was erased before, oldest first; with nothing left now.
    public var alreadyErasedAt: [String]?
    public var lastErasedAt: String?
    /// Inquiries reopened between the check and the erasure, left as they are.
    public var reopenedMeanwhile: [String]?
    public var erasedAt: String?
    /// With identities linked to the citizen's: how many identities the erasure covers
    /// (each named by its platform only), and the links it removes.
    public var linkedIdentities: [String]?
    public var links: Int?
    /// Replies to the citizen still waiting for their gateway: erased with the rest, never sent.
    public var unsentReplies: Int?

    public init(dryRun: Bool, citizen: String, platform: String, inquiries: Int, messages: Int, alreadyAnonymised: Int, ids: [String],
                alreadyErasedAt: [String]? = nil, lastErasedAt: String? = nil, reopenedMeanwhile: [String]? = nil, erasedAt: String? = nil) {
        status = "ok"
        self.dryRun = dryRun
        self.citizen = citizen
        self.platform = platform
        self.inquiries = inquiries
        self.messages = messages
        self.alreadyAnonymised = alreadyAnonymised
        self.ids = ids
        self.alreadyErasedAt = alreadyErasedAt
        self.lastErasedAt = lastErasedAt
        self.reopenedMeanwhile = reopenedMeanwhile
        self.erasedAt = erasedAt
    }

    enum CodingKeys: String, CodingKey {
        case status, citizen, platform, inquiries, messages, ids
        case dryRun = "dry_run"
        case alreadyAnonymised = "already_anonymised"
        case alreadyErasedAt = "already_erased_at"
        case lastErasedAt = "last_erased_at"
        case reopenedMeanwhile = "reopened_meanwhile"
        case linkedIdentities = "linked_identities"
        case links
        case unsentReplies = "unsent_replies"
        case erasedAt = "erased_at"
    }
}
