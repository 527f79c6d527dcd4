import Foundation
import SwitchboardProtocol

/// A message to a citizen (an answer or a question), queued for the platform's
/// publishing gateway. An inquiry's conversation may hold several.
public struct OutboundMessage: Sendable, Equatable {
    public enum Kind: String, Sendable, Equatable {
        case answer, question
    }

    /// The message's own id: what the gateway's queue entry and REPLY name.
    public var id: InquiryID
    public var inquiry: InquiryID
    public var kind: Kind
    public var platform: Platform
    public var account: String
    /// The post being answered (the inquiry's `source.external_id`).
    public var inReplyTo: String
    public var text: String
    public var sent: Bool
    /// Who wrote it (`agent ana`, `worker w-…`), for the conversation an agent reads.
    public var author: String?
    /// The citizen a direct message goes to (their handle or platform id), and the
    /// platform's conversation id when the inquiry came as a direct message.
    public var recipient: String?
    public var thread: String?

    public init(id: InquiryID, inquiry: InquiryID, kind: Kind, platform: Platform, account: String, inReplyTo: String, text: String,
                sent: Bool = false, author: String? = nil, recipient: String? = nil, thread: String? = nil) {
        self.id = id
        self.inquiry = inquiry
        self.kind = kind
        self.platform = platform
        self.account = account
        self.inReplyTo = inReplyTo
        self.text = text
        self.sent = sent
        self.author = author
        self.recipient = recipient
        self.thread = thread
    }

    /// When it was queued: its id is a UUIDv7 made at that moment.
    public var queuedAt: Date { id.createdAt }

    /// The MDP service of the platform's publishing gateway.
    public var service: String { ServiceName.outbound(platform.rawValue) }
}

/// Where an outgoing message stands. Waiting until its publishing gateway answers;
/// then posted, or failed with the platform's reason; a question the conversation
/// overtook (the inquiry closed, or the citizen wrote first) is cancelled, never posted.
public enum MessageStatus: String, Sendable, Equatable {
    case waiting, posted, failed, cancelled
}

/// One message of an inquiry's conversation as stored: a citizen's follow-up, or the
/// city's answer or question with its state.
public struct ConversationMessage: Sendable, Equatable {
    public var id: InquiryID
    /// `in` (the citizen's) or `out` (the city's).
    public var direction: String
    /// `citizen`, `answer` or `question`.
    public var kind: String
    public var platform: Platform
    public var account: String?
    public var author: String?
    public var text: String
    public var status: MessageStatus
    /// What the platform said since it was posted: `delivered` or `read`.
    public var delivery: String?
    /// When it was posted, failed or was cancelled.
    public var statusAt: String?
    /// Why it failed or was cancelled.
    public var reason: String?
    /// The platform's code for a failure.
    public var failureCode: String?
    /// The platform's id of the post.
    public var externalID: String?

    public init(id: InquiryID, direction: String, kind: String, platform: Platform, account: String?, author: String?, text: String,
                status: MessageStatus, statusAt: String?, reason: String?, failureCode: String?, externalID: String?) {
        self.id = id
        self.direction = direction
        self.kind = kind
        self.platform = platform
        self.account = account
        self.author = author
        self.text = text
        self.status = status
        self.statusAt = statusAt
        self.reason = reason
        self.failureCode = failureCode
        self.externalID = externalID
    }
}

/// A citizen's follow-up post, threaded into the inquiry it answers.
public struct InboundMessage: Sendable, Equatable {
    public var id: InquiryID
    public var inquiry: InquiryID
    public var key: DeduplicationKey
    public var inReplyTo: String
    public var text: String
    /// `citizen` (a follow-up), `edit` (a new version of the post `inReplyTo` names) or
    /// `deleted` (the citizen deleted it).
    public var kind: String

    public init(id: InquiryID, inquiry: InquiryID, key: DeduplicationKey, inReplyTo: String, text: String, kind: String = "citizen") {
        self.id = id
        self.inquiry = inquiry
        self.key = key
        self.inReplyTo = inReplyTo
        self.text = text
        self.kind = kind
    }
}

/// The posts a citizen may answer to continue a conversation that waits for them.
public struct ThreadKey: Sendable, Equatable {
    public var key: DeduplicationKey
    public var inquiry: InquiryID

    public init(key: DeduplicationKey, inquiry: InquiryID) {
        self.key = key
        self.inquiry = inquiry
    }
}
