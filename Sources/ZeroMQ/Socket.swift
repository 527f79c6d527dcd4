import CZeroMQ

/// The socket patterns this binding supports.
public enum SocketType: Sendable, CustomStringConvertible {
    case router, dealer, pub, sub, pair, req, rep
    /// A publisher that also reads its subscribers' subscriptions: a message whose first
    /// byte is 1 (subscribe) or 0 (unsubscribe), then the topic prefix. libzmq passes on
    /// only a prefix's first subscription and its last unsubscription.
    case xpub

    var rawValue: Int32 {
        switch self {
        case .router: ZMQ_ROUTER
        case .dealer: ZMQ_DEALER
        case .pub: ZMQ_PUB
        case .sub: ZMQ_SUB
        case .pair: ZMQ_PAIR
        case .req: ZMQ_REQ
        case .rep: ZMQ_REP
        case .xpub: ZMQ_XPUB
        }
    }

    public var description: String {
        switch self {
        case .router: "ROUTER"
        case .dealer: "DEALER"
        case .pub: "PUB"
        case .sub: "SUB"
        case .pair: "PAIR"
        case .req: "REQ"
        case .rep: "REP"
        case .xpub: "XPUB"
        }
    }
}

/// How long a receive may wait.
public enum ReceiveWait: Sendable {
    /// Wait until a message arrives (or the context terminates).
    case blocking
    /// Return `nil` at once if no message is queued.
    case nonBlocking
    /// Wait at most this long, then return `nil`.
    case timeout(Duration)
}

/// A ZeroMQ socket.
///
/// **Thread rules.** A socket belongs to the thread that uses it; libzmq sockets are
/// not thread-safe, so `Socket` is deliberately not `Sendable`. Create it on its owning
/// thread and reach it from elsewhere through an `inproc://` PAIR pipe. Once
/// ``close()`` has run, every call fails with `ENOTSOCK` instead of touching freed
/// memory.
///
/// New sockets get a linger of one second rather than libzmq's infinite default, so
/// that closing a socket with undeliverable messages can never hang shutdown.
public final class Socket {
    public let type: SocketType
    private var handle: UnsafeMutableRawPointer?
    private let context: Context   // keeps the context alive while the socket is open

    public init(_ context: Context, _ type: SocketType) throws(ZMQError) {
        self.context = context
        self.type = type
        handle = try ZMQCall.checkPointer("zmq_socket(\(type))") { zmq_socket(context.handle, type.rawValue) }
        try setLinger(.seconds(1))
    }

    deinit { close() }

    /// Closes the socket. Safe to call more than once.
    public func close() {
        if let handle {
            _ = zmq_close(handle)
            self.handle = nil
        }
    }

    public var isClosed: Bool { handle == nil }

    func open(_ function: String) throws(ZMQError) -> UnsafeMutableRawPointer {
        guard let handle else { throw .failed(function: function, errno: .notSocket) }
        return handle
    }

    /// The raw handle, for ``Poller``.
    var rawHandle: UnsafeMutableRawPointer? { handle }

    // MARK: Endpoints

    /// Binds to `endpoint` and returns the endpoint the socket actually got, so that
    /// `tcp://127.0.0.1:*` comes back with its ephemeral port filled in.
    @discardableResult
    public func bind(_ endpoint: String) throws(ZMQError) -> String {
        let socket = try open("zmq_bind")
        try ZMQCall.check("zmq_bind(\(endpoint))") { zmq_bind(socket, endpoint) }
        return try lastEndpoint()
    }

    public func connect(_ endpoint: String) throws(ZMQError) {
        let socket = try open("zmq_connect")
        try ZMQCall.check("zmq_connect(\(endpoint))") { zmq_connect(socket, endpoint) }
    }

    public func disconnect(_ endpoint: String) throws(ZMQError) {
        let socket = try open("zmq_disconnect")
        try ZMQCall.check("zmq_disconnect(\(endpoint))") { zmq_disconnect(socket, endpoint) }
    }

    public func unbind(_ endpoint: String) throws(ZMQError) {
        let socket = try open("zmq_unbind")
        try ZMQCall.check("zmq_unbind(\(endpoint))") { zmq_unbind(socket, endpoint) }
    }

    /// The endpoint most recently bound or connected (`ZMQ_LAST_ENDPOINT`).
    public func lastEndpoint() throws(ZMQError) -> String {
        try stringOption(ZMQ_LAST_ENDPOINT, "ZMQ_LAST_ENDPOINT")
    }

    // MARK: Sending

    /// Sends a multipart message atomically: libzmq delivers all frames or none.
    ///
    /// With `dontWait`, a full queue fails with `EAGAIN` instead of blocking. On a ROUTER
    /// with ``setRouterMandatory(_:)``, an unknown peer fails with `EHOSTUNREACH`.
    public func send(_ frames: [Frame], dontWait: Bool = false) throws(ZMQError) {
        let socket = try open("zmq_send")
        precondition(!frames.isEmpty, "a ZeroMQ message has at least one frame")
        let base: Int32 = dontWait ? ZMQ_DONTWAIT : 0
        for (index, frame) in frames.enumerated() {
            let flags = index < frames.count - 1 ? base | ZMQ_SNDMORE : base
            try ZMQCall.check("zmq_send") {
                frame.bytes.withUnsafeBytes { zmq_send(socket, $0.baseAddress, $0.count, flags) }
            }
        }
    }

    /// Sends a single-frame message.
    public func send(_ frame: Frame, dontWait: Bool = false) throws(ZMQError) {
        try send([frame], dontWait: dontWait)
    }

    // MARK: Receiving

    /// Receives one multipart message, or `nil` if `wait` ran out first.
    public func receive(_ wait: ReceiveWait = .blocking) throws(ZMQError) -> [Frame]? {
        try receiveMessage(wait, properties: [])?.frames
    }

    /// Receives one multipart message and reads metadata `properties` (such as
    /// `"User-Id"`) from it while libzmq still holds them.
    /// With `wantsDescriptor`, also the file descriptor of the connection it came in on
    /// (`ZMQ_SRCFD`), to tie messages to the connection events of ``monitor(_:events:)``.
    public func receiveMessage(_ wait: ReceiveWait = .blocking, properties: [String], wantsDescriptor: Bool = false) throws(ZMQError) -> ReceivedMessage? {
        let socket = try open("zmq_msg_recv")
        var flags: Int32 = 0
        switch wait {
        case .blocking: break
        case .nonBlocking: flags = ZMQ_DONTWAIT
        case .timeout(let duration):
            guard try Poller.wait(readable: self, timeout: duration) else { return nil }
            flags = ZMQ_DONTWAIT
        }
        var frames: [Frame] = []
        var found: [String: String] = [:]
        var descriptor: Int32?
        while true {
            var message = zmq_msg_t()
            zmq_msg_init(&message)
            defer { zmq_msg_close(&message) }
            do {
                try ZMQCall.check("zmq_msg_recv") { zmq_msg_recv(&message, socket, frames.isEmpty ? flags : 0) }
            } catch {
                if frames.isEmpty && error.errno == .wouldBlock { return nil }
                throw error
            }
            let size = zmq_msg_size(&message)
            let data = zmq_msg_data(&message)
            frames.append(Frame(size == 0 ? [] : Array(UnsafeRawBufferPointer(start: data, count: size))))
            // A ROUTER's routing-id frame is made locally and carries no metadata, so
            // each property is read from the first frame that has it.
            for name in properties where found[name] == nil {
                if let value = zmq_msg_gets(&message, name) { found[name] = String(cString: value) }
            }
            if descriptor == nil, wantsDescriptor {
                let fd = zmq_msg_get(&message, ZMQ_SRCFD)
                if fd >= 0 { descriptor = fd }
            }
            if zmq_msg_more(&message) == 0 { break }
        }
        return ReceivedMessage(frames: frames, properties: found, sourceDescriptor: descriptor)
    }

    // MARK: Options

    func setOption(_ option: Int32, _ name: String, int value: Int32) throws(ZMQError) {
        let socket = try open("zmq_setsockopt(\(name))")
        var value = value
        try ZMQCall.check("zmq_setsockopt(\(name))") {
            zmq_setsockopt(socket, option, &value, MemoryLayout<Int32>.size)
        }
    }

    func setOption(_ option: Int32, _ name: String, int64 value: Int64) throws(ZMQError) {
        let socket = try open("zmq_setsockopt(\(name))")
        var value = value
        try ZMQCall.check("zmq_setsockopt(\(name))") {
            zmq_setsockopt(socket, option, &value, MemoryLayout<Int64>.size)
        }
    }

    func setOption(_ option: Int32, _ name: String, bytes: [UInt8]) throws(ZMQError) {
        let socket = try open("zmq_setsockopt(\(name))")
        try ZMQCall.check("zmq_setsockopt(\(name))") {
            bytes.withUnsafeBytes { zmq_setsockopt(socket, option, $0.baseAddress, $0.count) }
        }
    }

    func intOption(_ option: Int32, _ name: String) throws(ZMQError) -> Int32 {
        let socket = try open("zmq_getsockopt(\(name))")
        var value: Int32 = 0
        var size = MemoryLayout<Int32>.size
        try ZMQCall.check("zmq_getsockopt(\(name))") { zmq_getsockopt(socket, option, &value, &size) }
        return value
    }

    func bytesOption(_ option: Int32, _ name: String, capacity: Int = 256) throws(ZMQError) -> [UInt8] {
        let socket = try open("zmq_getsockopt(\(name))")
        var buffer = [UInt8](repeating: 0, count: capacity)
        var size = capacity
        try ZMQCall.check("zmq_getsockopt(\(name))") {
            buffer.withUnsafeMutableBytes { zmq_getsockopt(socket, option, $0.baseAddress, &size) }
        }
        return Array(buffer.prefix(size))
    }

    func stringOption(_ option: Int32, _ name: String) throws(ZMQError) -> String {
        var bytes = try bytesOption(option, name)
        while bytes.last == 0 { bytes.removeLast() }   // libzmq includes the C terminator
        return String(decoding: bytes, as: UTF8.self)
    }
}
