/// The answers of the agent reads (`sb.agent.list`, `sb.agent.timeline`,
/// `sb.agent.resolve`; see 3-handoffs-and-events.md): the broker encodes them through
/// these models and the CLI decodes them through the same ones, so a renamed field
/// fails a build or a test, not an agent at her desk.

/// One page of `sb.agent.list`.
public struct InquiryList: Codable, Equatable, Sendable {
    public var status: String
    public var inquiries: [InquiryListItem]
    /// Inquiries matching the filter, on every page.
    public var total: Int
    public var offset: Int
    /// Where the next page starts; absent on the last.
    public var nextOffset: Int?

    public init(inquiries: [InquiryListItem], total: Int, offset: Int) {
        status = "ok"
        self.inquiries = inquiries
        self.total = total
        self.offset = offset
        nextOffset = offset + inquiries.count < total ? offset + inquiries.count : nil
    }

    enum CodingKeys: String, CodingKey {
        case status, inquiries, total, offset
        case nextOffset = "next_offset"
    }
}

/// An inquiry as a queue shows it: no personal data but a short preview of the text.
public struct InquiryListItem: Codable, Equatable, Sendable {
    public var id: String
    public var department: String
    public var state: String
    public var priority: String
    public var receivedAt: String
    public var platform: String
    /// `agent NAME`, `worker NAME` or `department NAME`; absent while queued.
    public var owner: String?
    /// The start of the citizen's text, on one line; absent once retention removed it.
    public var preview: String?
    /// The tightest SLA clock: seconds left (negative when breached) and its state.
    public var slaSecondsLeft: Double?
    public var slaState: String?
    /// The case number people quote (`R-4821`).
    public var caseNumber: String?
    /// Messages to the citizen not yet posted: they wait for their platform's gateway.
    public var unsent: Int?
    /// Why the account it came through is not official (`unregistered`, `lookalike`, …).
    public var unofficialChannel: String?

    public init(id: String, department: String, state: String, priority: String, receivedAt: String, platform: String,
                owner: String? = nil, preview: String? = nil, slaSecondsLeft: Double? = nil, slaState: String? = nil,
                caseNumber: String? = nil, unsent: Int? = nil, unofficialChannel: String? = nil) {
        self.caseNumber = caseNumber
        self.unsent = unsent
        self.unofficialChannel = unofficialChannel
        self.id = id
        self.department = department
        self.state = state
        self.priority = priority
        self.receivedAt = receivedAt
        self.platform = platform
        self.owner = owner
        self.preview = preview
        self.slaSecondsLeft = slaSecondsLeft
        self.slaState = slaState
    }

    enum CodingKeys: String, CodingKey {
        case id, department, state, priority, platform, owner, preview, unsent
        case receivedAt = "received_at"
        case slaSecondsLeft = "sla_seconds_left"
        case slaState = "sla_state"
        case caseNumber = "case"
        case unofficialChannel = "unofficial_channel"
    }
}

/// `sb.agent.timeline`: every move of one inquiry, oldest first.
public struct InquiryTimeline: Codable, Equatable, Sendable {
    public var status: String
    public var id: String
    public var department: String
    public var timeline: [TimelineItem]

    public init(id: String, department: String, timeline: [TimelineItem]) {
        status = "ok"
        self.id = id
        self.department = department
        self.timeline = timeline
    }
}

/// One move on an inquiry's timeline.
public struct TimelineItem: Codable, Equatable, Sendable {
    public var event: String
    public var at: String
    /// `agent NAME`, `worker NAME`, `department NAME` or `system`.
    public var actor: String
    public var role: String
    public var from: String?
    public var to: String
    public var department: String
    public var note: String?

    public init(event: String, at: String, actor: String, role: String, from: String?, to: String, department: String, note: String?) {
        self.event = event
        self.at = at
        self.actor = actor
        self.role = role
        self.from = from
        self.to = to
        self.department = department
        self.note = note
    }
}

/// `sb.agent.resolve`: the ids a short prefix matches (at most ten).
public struct InquiryIDs: Codable, Equatable, Sendable {
    public var status: String
    public var ids: [String]

    public init(ids: [String]) {
        status = "ok"
        self.ids = ids
    }
}

/// What every agent move answers (`claim`, `renew`, `release`, `reply`, `ask`,
/// `handoff`, `return`, `close`, `reopen`): the inquiry as the move left it, and the
/// moves the requester may make next. The broker writes it from the lifecycle; its tests
/// decode every move's answer through this model.
public struct InquiryMove: Codable, Equatable, Sendable {
    public var status: String
    public var id: String
    public var state: String
    public var department: String
    public var priority: String
    /// The moves the requesting agent may make now, as the lifecycle names them.
    public var allowed: [String]
    public var owner: String?
    /// With a claim or renew: when the claim ends unless renewed.
    public var leaseExpiresAt: String?
    /// With a claim: the envelope as stored (this model reads only its text).
    public var inquiry: EnvelopeText?
    /// The case number people quote (`R-4821`).
    public var caseNumber: String?
    /// With a reply or a question: the message it queued for the citizen, and whether a
    /// gateway is there to post it.
    public var message: QueuedMessage?

    /// A message a move queued for the platform's publishing gateway.
    public struct QueuedMessage: Codable, Equatable, Sendable {
        public var id: String
        public var platform: String
        /// `queued` (a gateway serves the platform) or `held` (none is connected: it waits).
        public var status: String
        /// For a held message, what the agent should know, in a sentence.
        public var note: String?

        public init(id: String, platform: String, status: String, note: String?) {
            self.id = id
            self.platform = platform
            self.status = status
            self.note = note
        }
    }

    /// The part of a stored envelope an agent's terminal shows after a claim.
    public struct EnvelopeText: Codable, Equatable, Sendable {
        /// Absent once retention removed the citizen's words.
        public var text: String?
    }

    enum CodingKeys: String, CodingKey {
        case status, id, state, department, priority, allowed, owner, inquiry, message
        case leaseExpiresAt = "lease_expires_at"
        case caseNumber = "case"
    }
}

/// `sb.agent.show`: everything an agent needs to work on one inquiry. The envelope and
/// the routing decision are the stored documents, as written at ingest; this model
/// reads the parts a terminal shows, and ignores the rest.
public struct InquiryDetail: Codable, Equatable, Sendable {
    public var status: String
    public var id: String
    public var state: String
    public var department: String
    public var priority: String
    public var receivedAt: String
    /// Deliveries to department workers so far (five failed ones park it).
    public var deliveries: Int
    public var owner: String?
    public var leaseExpiresAt: String?
    public var inquiry: Envelope?
    public var routing: Routing?
    public var sla: [Clock]
    public var timeline: [TimelineItem]
    /// The case number people quote (`R-4821`).
    public var caseNumber: String?
    /// The whole conversation, oldest first: the citizen's post, each answer and question
    /// from the city with who sent it and whether it was posted, each follow-up.
    public var conversation: [ConversationItem]?
    /// The same citizen's other inquiries still open (the same handle on the platform, or
    /// an identity linked to it), oldest first: so an agent sees the citizen once, not one
    /// post at a time.
    public var otherOpen: [OtherInquiry]?
    /// How it was closed (`answered`, `duplicate`, `out_of_scope`, `spam`), once closed.
    public var resolution: String?
    /// The inquiry this one was merged into, when it was closed as its duplicate, and its case.
    public var duplicateOf: String?
    public var duplicateOfCase: String?
    /// The same citizen's inquiries merged into this one (their authors wait for its answer too).
    public var mergedHere: [OtherInquiry]?

    public struct OtherInquiry: Codable, Equatable, Sendable {
        public var id: String
        public var caseNumber: String?
        public var state: String
        public var department: String

        public init(id: String, caseNumber: String?, state: String, department: String) {
            self.id = id
            self.caseNumber = caseNumber
            self.state = state
            self.department = department
        }

        enum CodingKeys: String, CodingKey {
            case id, state, department
            case caseNumber = "case"
        }
    }

    public struct Envelope: Codable, Equatable, Sendable {
        public var source: Source?
        /// Absent once retention removed the citizen's words.
        public var text: String?

        public struct Source: Codable, Equatable, Sendable {
            public var platform: String?
            public var account: String?
        }
    }

    public struct Routing: Codable, Equatable, Sendable {
        /// The rule that routed it; absent when it went to the front office by default.
        public var rule: String?
        /// Present when the post reached an account the registry does not list.
        public var unofficialChannel: Flag?

        public struct Flag: Codable, Equatable, Sendable {
            public var reason: String
        }

        enum CodingKeys: String, CodingKey {
            case rule
            case unofficialChannel = "unofficial_channel"
        }
    }

    /// One SLA clock: the department's leg or the whole inquiry's, first response or
    /// resolution.
    public struct Clock: Codable, Equatable, Sendable {
        public var clock: String
        public var targetSeconds: Double
        public var elapsedSeconds: Double
        /// running, paused, warning, breached or met.
        public var state: String
        /// While it runs: when it reaches its target, counted in its calendar's opening
        /// hours (an inquiry that arrives on Friday evening is due on Monday).
        public var dueAt: String?

        public init(clock: String, targetSeconds: Double, elapsedSeconds: Double, state: String, dueAt: String? = nil) {
            self.clock = clock
            self.targetSeconds = targetSeconds
            self.elapsedSeconds = elapsedSeconds
            self.state = state
            self.dueAt = dueAt
        }

        enum CodingKeys: String, CodingKey {
            case clock, state
            case targetSeconds = "target_seconds"
            case elapsedSeconds = "elapsed_seconds"
            case dueAt = "due_at"
        }
    }

    enum CodingKeys: String, CodingKey {
        case status, id, state, department, priority, deliveries, owner, inquiry, routing, sla, timeline, conversation
        case receivedAt = "received_at"
        case leaseExpiresAt = "lease_expires_at"
        case caseNumber = "case"
        case otherOpen = "other_open"
        case resolution
        case duplicateOf = "duplicate_of"
        case duplicateOfCase = "duplicate_of_case"
        case mergedHere = "merged_here"
    }
}

/// One message of an inquiry's conversation (`sb.agent.show`).
public struct ConversationItem: Codable, Equatable, Sendable {
    /// `in` (from the citizen) or `out` (from the city).
    public var direction: String
    /// `post` (the citizen's first), `follow_up`, `edit` (a new version of the post),
    /// `deleted` (the citizen withdrew it), `answer` or `question`.
    public var kind: String
    /// When it was written: received from the citizen, or queued by the city.
    public var at: String
    /// Absent once retention or an erasure removed it.
    public var text: String?
    /// The citizen's handle, or who in the city wrote it (`agent ana`, `worker w-…`).
    public var by: String?
    public var platform: String
    /// The official account it went out through.
    public var account: String?
    /// `received` (the citizen's), `waiting` (for the platform's gateway), `posted`,
    /// `delivered` or `read` (as the platform said later), `failed` or `cancelled`.
    public var messageStatus: String
    /// When it was posted, failed or was cancelled.
    public var statusAt: String?
    /// Why it failed or was cancelled, in words for the agent.
    public var reason: String?
    /// The failure's code, from the platform or the error registry.
    public var code: String?
    /// The platform's id of the post.
    public var externalID: String?

    public init(direction: String, kind: String, at: String, text: String?, by: String?, platform: String, account: String?,
                messageStatus: String, statusAt: String? = nil, reason: String? = nil, code: String? = nil, externalID: String? = nil) {
        self.direction = direction
        self.kind = kind
        self.at = at
        self.text = text
        self.by = by
        self.platform = platform
        self.account = account
        self.messageStatus = messageStatus
        self.statusAt = statusAt
        self.reason = reason
        self.code = code
        self.externalID = externalID
    }

    enum CodingKeys: String, CodingKey {
        case direction, kind, at, text, by, platform, account, reason, code
        case messageStatus = "message_status"
        case statusAt = "status_at"
        case externalID = "external_id"
    }
}
