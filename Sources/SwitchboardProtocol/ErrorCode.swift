/// Every error code the broker sends, in one place: `Protocols/errors.json` is the
/// registry that gateways, agents' tools and the specs read, and this enum must list
/// exactly its codes (a test holds the two together). Clients switch on these.
public enum ErrorCode: String, CaseIterable, Codable, Sendable {
    // Ingest: the envelope (see 2-inquiry-envelope.md).
    case invalidJSON = "invalid_json"
    case tooLarge = "too_large"
    case missingField = "missing_field"
    case invalidType = "invalid_type"
    case unknownField = "unknown_field"
    case invalidValue = "invalid_value"
    case unknownPlatform = "unknown_platform"
    case textTooLong = "text_too_long"
    case fieldSetByBroker = "field_set_by_broker"
    // Agents and operators (see 3-handoffs-and-events.md, 7-data-protection.md).
    case notFound = "not_found"
    case unknownDepartment = "unknown_department"
    case queueEmpty = "queue_empty"
    case notParked = "not_parked"
    case openInquiries = "open_inquiries"
    case invalidTransition = "invalid_transition"
    case notOwner = "not_owner"
    case wrongDepartment = "wrong_department"
    case sameDepartment = "same_department"
    case alreadyAnswered = "already_answered"
    case unofficialAccount = "unofficial_account"
    case forbidden
    // The channel registry (see 6-channel-registry.md).
    case duplicateChannel = "duplicate_channel"
    case lookalikeOf = "lookalike_of"
    case departmentHasAccount = "department_has_account"
    // A publishing gateway's failure document (see 8-gateways.md): why a message to a
    // citizen was not posted.
    case messagingWindowClosed = "messaging_window_closed"
    case postUnavailable = "post_unavailable"
    case rejectedByPlatform = "rejected_by_platform"
    case deliveryUncertain = "delivery_uncertain"
    // Any service.
    case storeUnavailable = "store_unavailable"
    /// A standby broker answers every request so (see 9-high-availability.md): the
    /// client sends the same request to the next broker it knows, at once.
    case notActive = "not_active"

    /// The codes an ingest can be rejected with, so statistics show each from the start.
    public static let ingest: [ErrorCode] = [
        .invalidJSON, .missingField, .invalidType, .unknownField, .invalidValue, .unknownPlatform, .textTooLong, .fieldSetByBroker, .tooLarge,
    ]

    /// The codes a publishing gateway's failure document may carry.
    public static let publishing: [ErrorCode] = [.messagingWindowClosed, .postUnavailable, .rejectedByPlatform, .deliveryUncertain, .textTooLong]
}
