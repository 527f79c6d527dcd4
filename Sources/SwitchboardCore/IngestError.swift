/// Why an ingest request was rejected. The codes are stable and listed in
/// `Protocols/2-inquiry-envelope.md`; gateways may switch on them.
public struct IngestError: Error, Equatable, Sendable, CustomStringConvertible {
    public struct Code: RawRepresentable, Hashable, Sendable, Codable {
        public let rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }

        /// The body is not one frame holding a JSON object.
        public static let invalidJSON = Code(rawValue: "invalid_json")
        /// A required field is absent (or null).
        public static let missingField = Code(rawValue: "missing_field")
        /// A field has the wrong JSON type.
        public static let invalidType = Code(rawValue: "invalid_type")
        /// A field the envelope does not define: usually a typo.
        public static let unknownField = Code(rawValue: "unknown_field")
        /// A field's value is out of range or badly formed.
        public static let invalidValue = Code(rawValue: "invalid_value")
        /// `source.platform` is not one Switchboard knows.
        public static let unknownPlatform = Code(rawValue: "unknown_platform")
        /// `text` is longer than the configured limit.
        public static let textTooLong = Code(rawValue: "text_too_long")
        /// The gateway set a field only the broker may set (`id`, `received_at`).
        public static let brokerField = Code(rawValue: "field_set_by_broker")
        /// The envelope is larger than the broker accepts (64 KiB by default); it was
        /// not parsed.
        public static let tooLarge = Code(rawValue: "too_large")

        /// Every code, so that statistics can show each from the start.
        public static let all: [Code] = [
            .invalidJSON, .missingField, .invalidType, .unknownField, .invalidValue, .unknownPlatform, .textTooLong, .brokerField, .tooLarge,
        ]
    }

    public let code: Code
    /// The dotted path of the offending field, such as `source.platform`.
    public let field: String?
    public let message: String

    public init(_ code: Code, field: String?, _ message: String) {
        self.code = code
        self.field = field
        self.message = message
    }

    public var description: String { "\(code.rawValue): \(message)" }
}
