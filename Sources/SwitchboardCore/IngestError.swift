import SwitchboardProtocol

/// Why an ingest request was rejected. The codes are the registry's (``ErrorCode``,
/// `Protocols/errors.json`); gateways may switch on them.
public struct IngestError: Error, Equatable, Sendable, CustomStringConvertible {
    public let code: ErrorCode
    /// The dotted path of the offending field, such as `source.platform`.
    public let field: String?
    public let message: String

    public init(_ code: ErrorCode, field: String?, _ message: String) {
        self.code = code
        self.field = field
        self.message = message
    }

    public var description: String { "\(code.rawValue): \(message)" }
}
