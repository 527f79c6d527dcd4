/// One frame of a multipart ZeroMQ message: an owned, immutable run of bytes.
///
/// Frames are plain Swift values. Receiving copies each frame out of libzmq's buffer
/// exactly once, and the `zmq_msg_t` is closed before ``Socket/receive(_:)`` returns, so
/// no Swift value ever points into memory libzmq owns. Sending hands the bytes to
/// `zmq_send`, which copies them (frames up to 33 bytes are stored inline, without
/// any allocation).
public struct Frame: Hashable, Sendable, ExpressibleByStringInterpolation, CustomStringConvertible {
    public var bytes: [UInt8]

    public init(_ bytes: [UInt8]) { self.bytes = bytes }
    public init<S: Sequence>(bytes: S) where S.Element == UInt8 { self.bytes = Array(bytes) }
    public init(_ string: String) { self.bytes = Array(string.utf8) }
    public init(stringLiteral value: String) { self.init(value) }

    /// The empty frame, which ZeroMQ envelopes use as a delimiter.
    public static let empty = Frame([])

    public var isEmpty: Bool { bytes.isEmpty }
    public var count: Int { bytes.count }

    /// The bytes as UTF-8, or `nil` if they are not valid UTF-8.
    public var string: String? { String(validating: bytes, as: UTF8.self) }

    /// Printable text where possible, else hex: routing ids are binary.
    public var description: String {
        if let string, string.unicodeScalars.allSatisfy({ $0.value >= 0x20 && $0.value < 0x7F }) {
            return string
        }
        return "0x" + bytes.map { byte in
            let hex = String(byte, radix: 16)
            return hex.count == 1 ? "0" + hex : hex
        }.joined()
    }

    /// Hashes the bytes as one run: frames key the broker's tables of workers and
    /// clients, and the synthesised conformance fed them to the hasher one byte at a
    /// time (2% of the engine under MDP load).
    public func hash(into hasher: inout Hasher) {
        bytes.withUnsafeBytes { hasher.combine(bytes: $0) }
    }
}

/// A received multipart message, with the connection metadata libzmq attached to it.
public struct ReceivedMessage: Sendable {
    public var frames: [Frame]
    /// Metadata properties read when the message arrived, such as `User-Id`, which a
    /// ZAP handler sets to the authenticated identity of the peer.
    public var properties: [String: String]
    /// The connection's file descriptor, when asked for and known.
    public var sourceDescriptor: Int32?

    public init(frames: [Frame], properties: [String: String], sourceDescriptor: Int32? = nil) {
        self.frames = frames
        self.properties = properties
        self.sourceDescriptor = sourceDescriptor
    }
}
