/// `sb.citizen.show`: one citizen across platforms (see 7-data-protection.md).
public struct CitizenAnswer: Codable, Equatable, Sendable {
    public var status = "ok"
    /// The identity asked about, normalised (`x:ana_r`).
    public var citizen: String
    /// Every identity linked to it, itself included.
    public var identities: [String]
    /// Their inquiries, newest first: where each stands, never its words.
    public var inquiries: [Inquiry]
    /// The links that join the identities.
    public var links: [Link]
    /// Links made and removed, oldest first; identities outside the citizen by hash.
    public var history: [HistoryEntry]
    /// Identities the broker thinks are the same citizen's: shown, never applied.
    public var proposals: [Proposal]
    /// With no inquiry held: when this identity's data was erased on request, if it was.
    public var erasedAt: [String]?

    enum CodingKeys: String, CodingKey {
        case status, citizen, identities, inquiries, links, history, proposals
        case erasedAt = "erased_at"
    }

    public init(citizen: String, identities: [String], inquiries: [Inquiry], links: [Link], history: [HistoryEntry], proposals: [Proposal]) {
        self.citizen = citizen
        self.identities = identities
        self.inquiries = inquiries
        self.links = links
        self.history = history
        self.proposals = proposals
    }

    public struct Inquiry: Codable, Equatable, Sendable {
        public var id: String
        public var caseNumber: String?
        public var identity: String
        public var platform: String
        public var state: String
        public var department: String
        public var resolution: String?
        public var duplicateOf: String?
        /// The case number of the inquiry it was merged into.
        public var duplicateOfCase: String?
        public var receivedAt: String

        public init(id: String, caseNumber: String?, identity: String, platform: String, state: String, department: String, resolution: String?,
                    duplicateOf: String?, receivedAt: String) {
            self.id = id
            self.caseNumber = caseNumber
            self.identity = identity
            self.platform = platform
            self.state = state
            self.department = department
            self.resolution = resolution
            self.duplicateOf = duplicateOf
            self.receivedAt = receivedAt
        }

        enum CodingKeys: String, CodingKey {
            case id, identity, platform, state, department, resolution
            case caseNumber = "case"
            case duplicateOf = "duplicate_of"
            case duplicateOfCase = "duplicate_of_case"
            case receivedAt = "received_at"
        }
    }

    public struct Link: Codable, Equatable, Sendable {
        public var a: String
        public var b: String
        public var actor: String
        public var note: String
        public var at: String

        public init(a: String, b: String, actor: String, note: String, at: String) {
            self.a = a
            self.b = b
            self.actor = actor
            self.note = note
            self.at = at
        }
    }

    public struct HistoryEntry: Codable, Equatable, Sendable {
        public var at: String
        public var actor: String
        /// `link` or `unlink`.
        public var action: String
        public var a: String
        public var b: String
        public var note: String?

        public init(at: String, actor: String, action: String, a: String, b: String, note: String?) {
            self.at = at
            self.actor = actor
            self.action = action
            self.a = a
            self.b = b
            self.note = note
        }
    }

    public struct Proposal: Codable, Equatable, Sendable {
        public var identity: String
        public var reason: String
        /// Case numbers of the inquiries the proposal rests on.
        public var cases: [String]

        public init(identity: String, reason: String, cases: [String]) {
            self.identity = identity
            self.reason = reason
            self.cases = cases
        }
    }
}

/// `sb.citizen.link` and `sb.citizen.unlink`.
public struct CitizenLinkAnswer: Codable, Equatable, Sendable {
    public var status = "ok"
    /// False when nothing changed: the two were linked already, or (unlink) were not.
    public var changed: Bool
    /// The citizen's identities after the change, from the first identity's side.
    public var identities: [String]

    public init(changed: Bool, identities: [String]) {
        self.changed = changed
        self.identities = identities
    }
}
