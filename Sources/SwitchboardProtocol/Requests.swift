import Foundation

/// What clients send to the broker's own services: one JSON object, UTF-8, in one frame
/// (3/SB-CASE, 6/SB-REGISTRY, 7/SB-PRIVACY).
///
/// Every field is optional on the wire, and nil fields are left out. Which ones a service
/// needs is in its spec; the broker refuses a missing one with `missing_field`, naming
/// it. The broker reads requests with the envelope's strict parser (UTF-8 only, no
/// trailing comma, no repeated key) rather than through these models, so that a field
/// of the wrong type is refused by name instead of failing the whole decode; the tests
/// hold the two to the same field names.

/// A request to an `sb.agent.*` service: a read (list, show, timeline, resolve) or a
/// move (claim, release, renew, reply, handoff, return, request_information, close,
/// reopen).
public struct InquiryRequest: Codable, Equatable, Sendable {
    /// Who acts, and for which department. With CURVE both come from the key: a
    /// different value is refused, a missing one filled in.
    public var agent: String?
    public var department: String?
    /// The inquiry; a claim without one takes the next in the department's queue.
    public var id: String?
    /// For the timeline (release, handoff, return, request_information, close, reopen).
    public var note: String?
    /// The answer or question sent to the citizen (reply, request_information).
    public var text: String?
    /// The official account it goes out through.
    public var account: String?
    /// The client's id for a reply, so that a retried reply is answered, not sent twice.
    public var replyID: String?
    /// The client's id for any move (a fresh UUID per move): a move sent again, after a
    /// timeout or to the broker that took over, is answered as made, never made twice.
    public var requestID: String?
    /// A handoff's target department.
    public var to: String?
    /// A close's resolution: answered, duplicate, out_of_scope or spam.
    public var resolution: String?
    /// A merge: the close names the inquiry this one duplicates (resolution `duplicate`).
    public var duplicateOf: String?
    /// List filters: a state (or "all"), a priority, an owning agent; and the page.
    public var state: String?
    public var priority: String?
    public var owner: String?
    public var limit: Int?
    public var offset: Int?
    /// `sb.agent.resolve`: the start of an id, as an agent typed it.
    public var prefix: String?

    public init(agent: String? = nil, department: String? = nil, id: String? = nil, note: String? = nil, text: String? = nil,
                account: String? = nil, replyID: String? = nil, to: String? = nil, resolution: String? = nil, state: String? = nil,
                priority: String? = nil, owner: String? = nil, limit: Int? = nil, offset: Int? = nil, prefix: String? = nil,
                requestID: String? = nil) {
        self.agent = agent
        self.department = department
        self.id = id
        self.note = note
        self.text = text
        self.account = account
        self.replyID = replyID
        self.to = to
        self.resolution = resolution
        self.state = state
        self.priority = priority
        self.owner = owner
        self.limit = limit
        self.offset = offset
        self.prefix = prefix
        self.requestID = requestID
    }

    enum CodingKeys: String, CodingKey {
        case agent, department, id, note, text, account, to, resolution, state, priority, owner, limit, offset, prefix
        case replyID = "reply_id"
        case requestID = "request_id"
        case duplicateOf = "duplicate_of"
    }
}

/// A request to an `sb.citizen.*` service (see 7-data-protection.md).
public struct CitizenRequest: Codable, Equatable, Sendable {
    /// Who asks, in plain mode (with CURVE, the key's name).
    public var agent: String?
    /// `sb.citizen.show`: the identity, `PLATFORM:HANDLE`.
    public var citizen: String?
    /// `sb.citizen.link` and `sb.citizen.unlink`: the two identities, and why.
    public var a: String?
    public var b: String?
    public var note: String?

    public init(agent: String? = nil, citizen: String? = nil, a: String? = nil, b: String? = nil, note: String? = nil) {
        self.agent = agent
        self.citizen = citizen
        self.a = a
        self.b = b
        self.note = note
    }
}

/// A request to an `sb.channel.*` service: a read (list, show, history, verify), a
/// registration, or a workflow move (approve, suspend, reactivate, archive).
public struct ChannelRequest: Codable, Equatable, Sendable {
    /// Who changes the registry, for its history; with CURVE, the key's name instead.
    public var actor: String?
    /// The entry (show, history and the workflow moves).
    public var id: String?
    /// Filters (list) and the account registered or verified.
    public var platform: String?
    public var handle: String?
    public var status: String?
    /// The owning department; none for an account the front office shares.
    public var department: String?
    public var displayName: String?
    public var url: String?
    /// Who answers for the account, kept with the entry.
    public var contacts: [String]?
    /// Why a registration goes ahead although it resembles an entry.
    public var override: String?
    /// Why a department gets a second active account on a platform.
    public var exception: String?
    /// Why an entry is suspended, reactivated or archived.
    public var reason: String?

    public init(actor: String? = nil, id: String? = nil, platform: String? = nil, handle: String? = nil, status: String? = nil,
                department: String? = nil, displayName: String? = nil, url: String? = nil, contacts: [String]? = nil,
                override: String? = nil, exception: String? = nil, reason: String? = nil) {
        self.actor = actor
        self.id = id
        self.platform = platform
        self.handle = handle
        self.status = status
        self.department = department
        self.displayName = displayName
        self.url = url
        self.contacts = contacts
        self.override = override
        self.exception = exception
        self.reason = reason
    }

    enum CodingKeys: String, CodingKey {
        case actor, id, platform, handle, status, department, url, contacts, override, exception, reason
        case displayName = "display_name"
    }
}

/// `sb.admin.erase`: remove one citizen's personal data from their closed inquiries.
public struct ErasureRequest: Codable, Equatable, Sendable {
    /// PLATFORM:HANDLE, such as `x:@resident`.
    public var citizen: String
    /// Report what would be erased, and change nothing.
    public var dryRun: Bool?
    /// Who asked, for the audit; with CURVE, the key's name instead.
    public var actor: String?

    public init(citizen: String, dryRun: Bool? = nil, actor: String? = nil) {
        self.citizen = citizen
        self.dryRun = dryRun
        self.actor = actor
    }

    enum CodingKeys: String, CodingKey {
        case citizen, actor
        case dryRun = "dry_run"
    }
}

/// `sb.admin.export`: one page of the official record of closed inquiries.
public struct ExportRequest: Codable, Equatable, Sendable {
    /// A day (2026-01-31) or a time with its zone: only inquiries closed before it.
    public var closedBefore: String
    public var department: String?
    /// The page starts after this inquiry id (the previous page's `next_after`).
    public var after: String?
    public var limit: Int?
    /// Also count what remains to export (for progress), on the first page.
    public var count: Bool?

    public init(closedBefore: String, department: String? = nil, after: String? = nil, limit: Int? = nil, count: Bool? = nil) {
        self.closedBefore = closedBefore
        self.department = department
        self.after = after
        self.limit = limit
        self.count = count
    }

    enum CodingKeys: String, CodingKey {
        case department, after, limit, count
        case closedBefore = "closed_before"
    }
}

/// `sb.admin.requeue`: put a parked inquiry back in its department's queue.
public struct RequeueRequest: Codable, Equatable, Sendable {
    /// The inquiry's id or case number.
    public var id: String
    /// Who asks, for the timeline, in plain mode (with CURVE the key's name is used).
    public var actor: String?

    public init(id: String, actor: String? = nil) {
        self.id = id
        self.actor = actor
    }
}

/// `sb.outbound.status`: a platform's later word on a message a gateway posted, named by
/// the post's id on the platform, or (`delivered` and `read` only) on every message to one
/// citizen posted up to a time: Messenger's watermark.
public struct OutboundStatusRequest: Codable, Equatable, Sendable {
    public enum Status: String, Codable, Sendable {
        case delivered, read, failed
    }

    public var platform: String
    public var externalID: String?
    public var status: Status
    /// For `failed`: a code from the error registry, and the platform's reason.
    public var code: String?
    public var reason: String?
    /// Instead of `externalID`: the citizen (the message's recipient on the platform) and
    /// the time up to which every message posted to them was delivered or read.
    public var recipient: String?
    public var watermark: String?

    public init(platform: String, externalID: String, status: Status, code: String? = nil, reason: String? = nil) {
        self.platform = platform
        self.externalID = externalID
        self.status = status
        self.code = code
        self.reason = reason
    }

    /// Every message to `recipient` posted up to `watermark` (ISO 8601) was delivered or read.
    public init(platform: String, recipient: String, watermark: String, status: Status) {
        self.platform = platform
        self.recipient = recipient
        self.watermark = watermark
        self.status = status
    }

    enum CodingKeys: String, CodingKey {
        case platform, status, code, reason, recipient, watermark
        case externalID = "external_id"
    }
}

/// What `sb.outbound.status` answers: the message the post was, when it is one of the
/// broker's (`message_id` absent otherwise: the city posted it some other way).
public struct OutboundStatusAnswer: Codable, Equatable, Sendable {
    public var status: String
    public var messageID: String?

    public init(messageID: String?) {
        status = "ok"
        self.messageID = messageID
    }

    enum CodingKeys: String, CodingKey {
        case status
        case messageID = "message_id"
    }
}

/// What `sb.admin.requeue` answers: the inquiry is back in its department's queue.
public struct RequeueAnswer: Codable, Equatable, Sendable {
    public var status: String
    public var id: String
    public var department: String

    public init(id: String, department: String) {
        status = "requeued"
        self.id = id
        self.department = department
    }
}

/// `sb.gateway.accounts`: a gateway's whole list of the accounts whose token a platform
/// refused (their messages wait in the gateway for new credentials), sent when it changes
/// and again every 30 seconds; an empty list says every account posts.
public struct GatewayAccountsReport: Codable, Equatable, Sendable {
    public struct Account: Codable, Equatable, Sendable {
        public var platform: String
        public var account: String
        public var reason: String
        public var since: Date

        public init(platform: String, account: String, reason: String, since: Date) {
            self.platform = platform
            self.account = account
            self.reason = reason
            self.since = since
        }
    }

    public var needingReauthorization: [Account]

    public init(needingReauthorization: [Account]) { self.needingReauthorization = needingReauthorization }

    enum CodingKeys: String, CodingKey {
        case needingReauthorization = "needing_reauthorization"
    }

    /// Dates in ISO 8601, as every Switchboard document.
    public static var encoder: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }

    public static var decoder: JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }
}

/// What `sb.gateway.accounts` answers: the report was taken.
public struct GatewayAccountsAnswer: Codable, Equatable, Sendable {
    public var status = "ok"

    public init() {}
}
