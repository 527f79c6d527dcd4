import CZeroMQ
#if canImport(Glibc)
import Glibc
#endif

/// A socket's connection events (`zmq_socket_monitor`), as libzmq publishes them on an
/// `inproc://` PAIR endpoint: a 6-byte frame (event, value) and the endpoint.
public struct MonitorEvent: Sendable, Equatable {
    public struct Kind: OptionSet, Sendable, Hashable {
        public let rawValue: UInt16
        public init(rawValue: UInt16) { self.rawValue = rawValue }
        /// A connection was accepted; the value is its file descriptor.
        public static let accepted = Kind(rawValue: UInt16(ZMQ_EVENT_ACCEPTED))
        /// A connection closed; the value is its file descriptor.
        public static let disconnected = Kind(rawValue: UInt16(ZMQ_EVENT_DISCONNECTED))
    }

    public var kind: Kind
    public var value: Int32
    public var endpoint: String

    /// Decodes one event message; nil if it is not one.
    public init?(_ frames: [Frame]) {
        guard frames.count == 2, frames[0].count == 6 else { return nil }
        let bytes = frames[0].bytes
        kind = Kind(rawValue: UInt16(bytes[0]) | UInt16(bytes[1]) << 8)
        value = Int32(bitPattern: UInt32(bytes[2]) | UInt32(bytes[3]) << 8 | UInt32(bytes[4]) << 16 | UInt32(bytes[5]) << 24)
        endpoint = frames[1].string ?? ""
    }
}

extension Socket {
    /// Publishes this socket's `events` on `endpoint` (an `inproc://` name) for a PAIR
    /// socket to read.
    public func monitor(_ endpoint: String, events: MonitorEvent.Kind) throws(ZMQError) {
        let socket = try open("zmq_socket_monitor")
        try ZMQCall.check("zmq_socket_monitor(\(endpoint))") { zmq_socket_monitor(socket, endpoint, Int32(events.rawValue)) }
    }

    /// How long a new connection may take to complete the ZMTP handshake before libzmq
    /// closes it (`ZMQ_HANDSHAKE_IVL`).
    public func setHandshakeInterval(_ interval: Duration) throws(ZMQError) {
        try setOption(ZMQ_HANDSHAKE_IVL, "ZMQ_HANDSHAKE_IVL", int: Socket.milliseconds(interval))
    }
}

/// The TCP connections libzmq accepted, by file descriptor. libzmq owns them: these only
/// look at one, or shut it down so that libzmq sees the peer leave and cleans up as for
/// any disconnect. The descriptor is never closed here.
public enum AcceptedConnection {
    /// The peer's IP address, or nil if the descriptor is not a connected socket.
    public static func peerAddress(_ descriptor: Int32) -> String? {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let found = withUnsafeMutablePointer(to: &storage) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { getpeername(descriptor, $0, &length) }
        }
        guard found == 0 else { return nil }
        var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        switch Int32(storage.ss_family) {
        case AF_INET:
            var address = withUnsafePointer(to: &storage) { $0.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee.sin_addr } }
            guard inet_ntop(AF_INET, &address, &text, socklen_t(text.count)) != nil else { return nil }
        case AF_INET6:
            var address = withUnsafePointer(to: &storage) { $0.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { $0.pointee.sin6_addr } }
            guard inet_ntop(AF_INET6, &address, &text, socklen_t(text.count)) != nil else { return nil }
        default:
            return nil
        }
        // inet_ntop wrote a NUL-terminated address into the buffer.
        return String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Ends the connection: both directions shut, so libzmq reads end-of-stream.
    public static func cut(_ descriptor: Int32) {
        _ = shutdown(descriptor, Int32(SHUT_RDWR))
    }
}
