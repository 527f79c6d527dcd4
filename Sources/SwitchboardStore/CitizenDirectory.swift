import Foundation
import SwitchboardCore

/// The links between a citizen's identities, their audit, and the reads that show one
/// citizen across platforms (see Protocols/7-data-protection.md, "One citizen across
/// channels"). Links are an agent's decision, not an inquiry's event: they are written
/// here directly, each with its audit entry in the same transaction, never through the
/// journal.
public protocol CitizenDirectory: Sendable {
    /// Every link with one end among `identities`.
    func links(touching identities: [CitizenIdentity]) throws(StoreError) -> [CitizenLink]
    /// Makes the link and writes its audit entry, in one transaction; false (and nothing
    /// written) when the two are linked already.
    func link(_ link: CitizenLink, audit: CitizenLinkAudit) throws(StoreError) -> Bool
    /// Removes the link between `a` and `b` and writes the audit entry, in one
    /// transaction; false (and nothing written) when there is none.
    func unlink(_ a: CitizenIdentity, _ b: CitizenIdentity, audit: CitizenLinkAudit) throws(StoreError) -> Bool
    /// The audit entries naming any of these hashes: the newest `limit`, oldest first.
    func linkAudit(hashes: [String], limit: Int) throws(StoreError) -> [CitizenLinkAudit]
    /// The inquiries `identities` wrote, newest first (at most `limit`).
    func citizenInquiries(_ identities: [CitizenIdentity], limit: Int) throws(StoreError) -> [CitizenInquiry]
    /// Identities whose inquiries received since `from` (a timestamp as the store writes
    /// them) carry `hint` in their text (an e-mail address, a telephone number; a WhatsApp
    /// author whose number ends with it too) or, for a platform, whose author on it has
    /// `name` as display name. At most `limit`, newest first.
    func identities(mentioning hint: ContactHint, name: String?, receivedFrom from: String, limit: Int) throws(StoreError) -> [(identity: CitizenIdentity, inquiry: InquiryID)]
}

/// One inquiry as a citizen's listing shows it: where it stands, never another
/// department's words; its text and author's name are read for link proposals only.
public struct CitizenInquiry: Equatable, Sendable {
    public var id: InquiryID
    public var caseNumber: Int
    public var identity: CitizenIdentity
    public var state: LifecycleState
    public var department: String
    public var resolution: Resolution?
    public var duplicateOf: InquiryID?
    public var receivedAt: String
    /// The citizen's words (nil once anonymised).
    public var text: String?
    /// The display name the platform gave the author.
    public var authorName: String?

    public init(id: InquiryID, caseNumber: Int, identity: CitizenIdentity, state: LifecycleState, department: String, resolution: Resolution?,
                duplicateOf: InquiryID?, receivedAt: String, text: String?, authorName: String?) {
        self.id = id
        self.caseNumber = caseNumber
        self.identity = identity
        self.state = state
        self.department = department
        self.resolution = resolution
        self.duplicateOf = duplicateOf
        self.receivedAt = receivedAt
        self.text = text
        self.authorName = authorName
    }
}

extension StoredRows {
    /// A row of `citizenInquiries`: id, seq, platform, author, state, department,
    /// received_at, resolution, duplicate_of, text, author_name.
    static func citizenInquiry(_ row: some StoredRow) -> CitizenInquiry? {
        guard let id = row.string("id").flatMap(InquiryID.init), let platform = row.string("platform").flatMap(Platform.init(rawValue:)),
              let author = row.string("author"), let state = row.string("state").flatMap(LifecycleState.init(rawValue:)) else { return nil }
        return CitizenInquiry(id: id, caseNumber: row.int("seq") ?? 0, identity: CitizenIdentity(platform: platform, normalizedHandle: author), state: state,
                              department: row.string("department") ?? "", resolution: row.string("resolution").flatMap(Resolution.init(rawValue:)),
                              duplicateOf: row.string("duplicate_of").flatMap(InquiryID.init), receivedAt: row.string("received_at") ?? "",
                              text: row.string("text"), authorName: row.string("author_name"))
    }

    /// A row of the link table: a_platform, a_handle, b_platform, b_handle, actor, note, at.
    static func citizenLink(_ row: some StoredRow) -> CitizenLink? {
        guard let aPlatform = row.string("a_platform").flatMap(Platform.init(rawValue:)), let aHandle = row.string("a_handle"),
              let bPlatform = row.string("b_platform").flatMap(Platform.init(rawValue:)), let bHandle = row.string("b_handle") else { return nil }
        return CitizenLink(CitizenIdentity(platform: aPlatform, normalizedHandle: aHandle), CitizenIdentity(platform: bPlatform, normalizedHandle: bHandle),
                           actor: row.string("actor") ?? "", note: row.string("note") ?? "", at: Date(timeIntervalSince1970: row.double("at") ?? 0))
    }

    /// A row of the link audit: at, actor, action, a_hash, b_hash, note.
    static func linkAudit(_ row: some StoredRow) -> CitizenLinkAudit? {
        guard let action = row.string("action").flatMap(CitizenLinkAudit.Action.init(rawValue:)) else { return nil }
        return CitizenLinkAudit(at: Date(timeIntervalSince1970: row.double("at") ?? 0), actor: row.string("actor") ?? "", action: action,
                                aHash: row.string("a_hash") ?? "", bHash: row.string("b_hash") ?? "", note: row.string("note"))
    }
}
