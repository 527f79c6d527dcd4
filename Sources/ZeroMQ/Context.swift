import CZeroMQ
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A libzmq context: the I/O threads and the namespace for `inproc://` endpoints.
///
/// A context is the one ZeroMQ object that is safe to share between threads, hence
/// `Sendable`. Every ``Socket`` keeps its context alive, so the context is only
/// terminated (`zmq_ctx_term`) once the last socket created from it is gone.
public final class Context: @unchecked Sendable {
    let handle: UnsafeMutableRawPointer

    /// Creates a context with libzmq's defaults (one I/O thread).
    public init() throws(ZMQError) {
        _ = Self.seedOnce
        handle = try ZMQCall.checkPointer("zmq_ctx_new") { zmq_ctx_new() }
    }

    /// libzmq 4.3 draws the first routing id it gives anonymous ROUTER peers from C's
    /// `rand()`, which nothing seeds: every broker started with `00 6b8b4567`. Seeding it
    /// once from the system's generator makes the ids unpredictable to peers.
    private static let seedOnce: Void = {
        srand(UInt32.random(in: .min ... .max))
    }()

    /// Creates a context with `ioThreads` background I/O threads (`ZMQ_IO_THREADS`).
    public convenience init(ioThreads: Int32) throws(ZMQError) {
        try self.init()
        let context = handle
        try ZMQCall.check("zmq_ctx_set(ZMQ_IO_THREADS)") { zmq_ctx_set(context, ZMQ_IO_THREADS, ioThreads) }
    }

    /// Makes every blocking call on this context's sockets return
    /// ``ZMQError/contextTerminated(function:)``, from any thread. The owning threads
    /// then close their sockets and the context can terminate.
    public func shutdown() {
        _ = zmq_ctx_shutdown(handle)
    }

    /// Terminates the context now (`zmq_ctx_term`), once every socket made from it is
    /// closed: it returns when libzmq's I/O threads have finished, so a port a socket
    /// listened on is free again. Later calls, and the deinitializer, do nothing.
    public func terminate() {
        guard terminated.withLock({ done in defer { done = true }; return !done }) else { return }
        // Retry on EINTR; any other failure here has no one left to report to.
        while zmq_ctx_term(handle) != 0 && czmq_shim_errno() == czmq_shim_errno_eintr() {}
    }

    private let terminated = Mutex(false)

    deinit {
        terminate()
    }

    /// The libzmq version linked at run time, such as `4.3.4`.
    public static var libraryVersion: String {
        var major: Int32 = 0, minor: Int32 = 0, patch: Int32 = 0
        zmq_version(&major, &minor, &patch)
        return "\(major).\(minor).\(patch)"
    }

    /// The libzmq version whose headers this binding was compiled against.
    public static var headerVersion: Int32 { czmq_shim_version() }

    /// Whether libzmq was built with a capability, such as `"curve"`.
    public static func has(_ capability: String) -> Bool {
        zmq_has(capability) != 0
    }
}
