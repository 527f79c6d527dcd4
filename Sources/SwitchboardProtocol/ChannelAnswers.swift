/// The channel registry's answers (6/SB-CHANNELS): the broker encodes them, the CLI and
/// the tests decode them.

/// One entry of the registry of official accounts.
public struct ChannelItem: Codable, Equatable, Sendable {
    public var id: String
    public var platform: String
    /// As registered, for display.
    public var handle: String
    /// The form lookalikes are compared in.
    public var normalized: String
    /// under_review, active, suspended or archived.
    public var status: String
    public var contacts: [String]
    public var displayName: String?
    public var url: String?
    /// The owning department; absent when the front office shares the account.
    public var department: String?
    public var verifiedAt: String?
    public var reviewDue: String?

    public init(id: String, platform: String, handle: String, normalized: String, status: String, contacts: [String],
                displayName: String?, url: String?, department: String?, verifiedAt: String?, reviewDue: String?) {
        self.id = id
        self.platform = platform
        self.handle = handle
        self.normalized = normalized
        self.status = status
        self.contacts = contacts
        self.displayName = displayName
        self.url = url
        self.department = department
        self.verifiedAt = verifiedAt
        self.reviewDue = reviewDue
    }

    enum CodingKeys: String, CodingKey {
        case id, platform, handle, normalized, status, contacts, url, department
        case displayName = "display_name"
        case verifiedAt = "verified_at"
        case reviewDue = "review_due"
    }
}

/// One change to an entry: who, what, why, when.
public struct ChannelChangeItem: Codable, Equatable, Sendable {
    public var action: String
    public var actor: String
    public var at: String
    /// The entry's status after the change.
    public var status: String
    public var reason: String?

    public init(action: String, actor: String, at: String, status: String, reason: String?) {
        self.action = action
        self.actor = actor
        self.at = at
        self.status = status
        self.reason = reason
    }
}

/// `sb.channels.list`.
public struct ChannelList: Codable, Equatable, Sendable {
    public var status: String
    public var channels: [ChannelItem]
    public var total: Int
    /// Accounts the configuration names that the registry does not hold as active: after
    /// the first start the registry is the source of truth, so an account added to the
    /// YAML later is not official until registered. Absent when there are none.
    public var notRegistered: [ConfiguredAccount]?

    public init(channels: [ChannelItem], notRegistered: [ConfiguredAccount] = []) {
        status = "ok"
        self.channels = channels
        total = channels.count
        self.notRegistered = notRegistered.isEmpty ? nil : notRegistered
    }

    enum CodingKeys: String, CodingKey {
        case status, channels, total
        case notRegistered = "not_registered"
    }
}

/// An account in the configuration that is not an active registry entry.
public struct ConfiguredAccount: Codable, Equatable, Sendable {
    public var platform: String
    public var handle: String
    /// The department it is configured under; absent for the front office (shared).
    public var department: String?
    /// `not_registered`, or the registry's status for it (`under_review`, `suspended`,
    /// `archived`).
    public var registry: String
    /// The command that makes it official.
    public var fix: String

    public init(platform: String, handle: String, department: String?, registry: String, fix: String) {
        self.platform = platform
        self.handle = handle
        self.department = department
        self.registry = registry
        self.fix = fix
    }
}

/// `sb.channels.show` (the entry and its history), `sb.channels.history` (the history
/// only, with the entry's `id`) and every change: register, approve, suspend,
/// reactivate, archive (the entry as the change left it).
public struct ChannelAnswer: Codable, Equatable, Sendable {
    public var status: String
    public var id: String?
    public var channel: ChannelItem?
    public var history: [ChannelChangeItem]?

    public init(id: String? = nil, channel: ChannelItem? = nil, history: [ChannelChangeItem]? = nil) {
        status = "ok"
        self.id = id
        self.channel = channel
        self.history = history
    }
}

/// `sb.channels.verify`: whether a handle or profile URL is an official account.
public struct ChannelVerification: Codable, Equatable, Sendable {
    public enum Verdict: String, Codable, Sendable {
        case official, unknown
        /// It resembles `channel` (`why` says how): treat it as an impostor.
        case lookalikeOf = "lookalike_of"
        /// Registered, but not active now.
        case underReview = "under_review", suspended, archived
    }

    public var status: String
    public var platform: String
    public var verdict: Verdict
    public var channel: ChannelItem?
    public var why: String?

    public init(platform: String, verdict: Verdict, channel: ChannelItem? = nil, why: String? = nil) {
        status = "ok"
        self.platform = platform
        self.verdict = verdict
        self.channel = channel
        self.why = why
    }
}

/// A refused registry change: the error, and the entry it collides with (a duplicate, a
/// lookalike, a second account for the department).
public struct ChannelRefusal: Codable, Equatable, Sendable {
    public var status: String
    public var error: Detail

    public struct Detail: Codable, Equatable, Sendable {
        public var code: ErrorCode
        public var message: String
        public var channel: ChannelItem?
    }

    public init(code: ErrorCode, message: String, channel: ChannelItem?) {
        status = "error"
        error = Detail(code: code, message: message, channel: channel)
    }
}
