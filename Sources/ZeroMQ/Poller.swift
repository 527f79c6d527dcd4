import CZeroMQ

/// Waits on several sockets at once (`zmq_poll`).
///
/// Build it on the thread that owns the sockets; it holds their raw handles, so it must
/// not outlive them.
public struct Poller {
    private var items: [zmq_pollitem_t]

    public init(_ sockets: [Socket]) {
        items = sockets.map { socket in
            zmq_pollitem_t(socket: socket.rawHandle, fd: 0, events: Int16(ZMQ_POLLIN), revents: 0)
        }
    }

    /// Waits until at least one socket is readable or `timeout` runs out (`nil` waits
    /// forever). Returns, for each socket in order, whether it has a message to read.
    public mutating func poll(timeout: Duration?) throws(ZMQError) -> [Bool] {
        let ms = timeout.map { Int(Socket.milliseconds($0)) } ?? -1
        let count = Int32(items.count)
        try ZMQCall.check("zmq_poll") {
            items.withUnsafeMutableBufferPointer { zmq_poll($0.baseAddress, count, ms) }
        }
        return items.map { $0.revents & Int16(ZMQ_POLLIN) != 0 }
    }

    static func wait(readable socket: Socket, timeout: Duration) throws(ZMQError) -> Bool {
        var poller = Poller([socket])
        return try poller.poll(timeout: timeout)[0]
    }
}

/// A built-in libzmq device that shuttles messages between two sockets.
public enum Proxy {
    /// Runs `zmq_proxy(frontend, backend)` on the calling thread until the context is
    /// shut down, which ends it with ``ZMQError/contextTerminated(function:)``.
    public static func run(frontend: Socket, backend: Socket) throws(ZMQError) {
        let front = try frontend.open("zmq_proxy")
        let back = try backend.open("zmq_proxy")
        try ZMQCall.check("zmq_proxy") { zmq_proxy(front, back, nil) }
    }
}
