import Foundation

/// What `sb.ingest` answers: one JSON object in one frame (see 2-inquiry-envelope.md).
///
/// The broker writes it by hand on the hot path (Foundation's encoder once took a fifth
/// of its time); this is the model clients decode, and the broker's tests decode every
/// answer it writes through it, so the two cannot drift.
public struct IngestAnswer: Codable, Equatable, Sendable {
    public enum Status: String, Codable, Sendable {
        /// Stored and routed (or, with `thread_of`, joined to an earlier conversation).
        case accepted
        /// Seen before: `duplicate_of` names the inquiry it became; nothing was stored.
        case duplicate
        /// Refused for what it is: `error` says why; sending it again will not help.
        case rejected
        /// Not handled now (the store could not be written): send it again later.
        case error
    }

    public var status: Status
    /// The inquiry the envelope became, joined or duplicated.
    public var id: String?
    public var duplicateOf: String?
    public var threadOf: String?
    /// With an edit or deletion (`change` in the envelope): the inquiry it changed.
    public var changeOf: String?
    public var department: String?
    public var priority: String?
    public var platform: String?
    public var externalID: String?
    public var error: ErrorDetail?

    public init(status: Status, id: String? = nil, duplicateOf: String? = nil, threadOf: String? = nil, department: String? = nil,
                priority: String? = nil, platform: String? = nil, externalID: String? = nil, error: ErrorDetail? = nil) {
        self.status = status
        self.id = id
        self.duplicateOf = duplicateOf
        self.threadOf = threadOf
        self.department = department
        self.priority = priority
        self.platform = platform
        self.externalID = externalID
        self.error = error
    }

    enum CodingKeys: String, CodingKey {
        case status, id, department, priority, platform, error
        case duplicateOf = "duplicate_of"
        case threadOf = "thread_of"
        case changeOf = "change_of"
        case externalID = "external_id"
    }
}

/// Why a request was refused, as every service writes it under `error`.
public struct ErrorDetail: Codable, Equatable, Sendable {
    public var code: ErrorCode
    /// Says what was wrong and what to do next; never echoes a citizen's words.
    public var message: String
    /// The envelope field at fault (ingest).
    public var field: String?
    /// For `invalid_transition`: the inquiry's state, and the moves the requester may make.
    public var state: String?
    public var allowed: [String]?

    public init(code: ErrorCode, message: String, field: String? = nil, state: String? = nil, allowed: [String]? = nil) {
        self.code = code
        self.message = message
        self.field = field
        self.state = state
        self.allowed = allowed
    }
}

/// A refusal from any service but `sb.ingest`: `{"status": "error", "error": {…}}`.
public struct ErrorAnswer: Codable, Equatable, Sendable {
    public var status: String
    public var error: ErrorDetail

    /// Whether `body` is a standby broker's answer (`not_active`, 9/SB-HA): the request
    /// was not carried out, and goes to the next broker the client knows.
    public static func isNotActive(_ body: [UInt8]) -> Bool {
        // Only an answer naming the code is decoded: the others pass at the cost of a search.
        guard body.count < 4_096, String(decoding: body, as: UTF8.self).contains(#""not_active""#) else { return false }
        return (try? JSONDecoder().decode(ErrorAnswer.self, from: Data(body)))?.error.code == .notActive
    }

    public init(_ error: ErrorDetail) {
        status = "error"
        self.error = error
    }
}
