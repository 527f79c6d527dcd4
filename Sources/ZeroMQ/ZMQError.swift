import CZeroMQ

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An errno value as libzmq reports it, with its symbolic name.
///
/// A struct rather than an enum so that codes we have not named still round-trip,
/// and so that a `catch ZMQErrno.hostUnreachable` pattern reads like the C it replaces.
public struct ZMQErrno: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: Int32
    public init(rawValue: Int32) { self.rawValue = rawValue }

    public static let interrupted = ZMQErrno(rawValue: czmq_shim_errno_eintr())
    public static let wouldBlock = ZMQErrno(rawValue: czmq_shim_errno_eagain())
    public static let invalidArgument = ZMQErrno(rawValue: EINVAL)
    public static let fault = ZMQErrno(rawValue: EFAULT)
    public static let noMemory = ZMQErrno(rawValue: ENOMEM)
    public static let noDevice = ZMQErrno(rawValue: ENODEV)
    public static let noEntry = ZMQErrno(rawValue: ENOENT)
    public static let addressInUse = ZMQErrno(rawValue: EADDRINUSE)
    public static let addressNotAvailable = ZMQErrno(rawValue: EADDRNOTAVAIL)
    public static let connectionRefused = ZMQErrno(rawValue: ECONNREFUSED)
    public static let hostUnreachable = ZMQErrno(rawValue: czmq_shim_errno_ehostunreach())
    public static let notSupported = ZMQErrno(rawValue: ENOTSUP)
    public static let protocolNotSupported = ZMQErrno(rawValue: EPROTONOSUPPORT)
    public static let notSocket = ZMQErrno(rawValue: ENOTSOCK)
    public static let messageTooLarge = ZMQErrno(rawValue: EMSGSIZE)
    public static let terminated = ZMQErrno(rawValue: czmq_shim_errno_eterm())
    public static let finiteStateMachine = ZMQErrno(rawValue: czmq_shim_errno_efsm())
    public static let incompatibleProtocol = ZMQErrno(rawValue: czmq_shim_errno_enocompatproto())
    public static let noThread = ZMQErrno(rawValue: czmq_shim_errno_emthread())

    /// The C macro name, such as `EHOSTUNREACH`; `errno <n>` for codes we have not named.
    public var name: String {
        switch self {
        case .interrupted: "EINTR"
        case .wouldBlock: "EAGAIN"
        case .invalidArgument: "EINVAL"
        case .fault: "EFAULT"
        case .noMemory: "ENOMEM"
        case .noDevice: "ENODEV"
        case .noEntry: "ENOENT"
        case .addressInUse: "EADDRINUSE"
        case .addressNotAvailable: "EADDRNOTAVAIL"
        case .connectionRefused: "ECONNREFUSED"
        case .hostUnreachable: "EHOSTUNREACH"
        case .notSupported: "ENOTSUP"
        case .protocolNotSupported: "EPROTONOSUPPORT"
        case .notSocket: "ENOTSOCK"
        case .messageTooLarge: "EMSGSIZE"
        case .terminated: "ETERM"
        case .finiteStateMachine: "EFSM"
        case .incompatibleProtocol: "ENOCOMPATPROTO"
        case .noThread: "EMTHREAD"
        default: "errno \(rawValue)"
        }
    }

    /// libzmq's own explanation (`zmq_strerror`).
    public var message: String { String(cString: zmq_strerror(rawValue)) }

    public var description: String { "\(name) (\(message))" }

    /// Lets a `catch ZMQErrno.hostUnreachable` clause match a thrown `ZMQError`.
    public static func ~= (pattern: ZMQErrno, error: any Error) -> Bool {
        (error as? ZMQError)?.errno == pattern
    }
}

/// A failed libzmq call: which function failed, and the errno it left behind.
///
/// A terminated context is its own case because it is not a failure to report but the
/// normal signal to stop: every blocking call on every socket returns it once
/// ``Context/shutdown()`` runs, and an owning thread should leave its loop quietly.
public enum ZMQError: Error, Equatable, Sendable, CustomStringConvertible {
    case contextTerminated(function: String)
    case failed(function: String, errno: ZMQErrno)

    init(function: String, errno: ZMQErrno) {
        self = errno == .terminated
            ? .contextTerminated(function: function)
            : .failed(function: function, errno: errno)
    }

    public var errno: ZMQErrno {
        switch self {
        case .contextTerminated: .terminated
        case .failed(_, let errno): errno
        }
    }

    public var function: String {
        switch self {
        case .contextTerminated(let function), .failed(let function, _): function
        }
    }

    public var description: String {
        switch self {
        case .contextTerminated(let function):
            "\(function): the ZeroMQ context was terminated; stop using its sockets"
        case .failed(let function, let errno):
            "\(function) failed: \(errno)"
        }
    }
}

/// The one place where libzmq is called.
///
/// Every `zmq_*` call goes through ``check(_:_:)`` or ``checkPointer(_:_:)``: they read
/// `zmq_errno()` immediately (before any other call can clobber it), retry on `EINTR`
/// so that a signal never surfaces as an error, and turn everything else into a
/// ``ZMQError`` naming the function.
enum ZMQCall {
    @discardableResult
    static func check(_ function: @autoclosure () -> String, _ body: () -> Int32) throws(ZMQError) -> Int32 {
        while true {
            let rc = body()
            if rc >= 0 { return rc }
            let errno = ZMQErrno(rawValue: czmq_shim_errno())
            if errno == .interrupted { continue }
            throw ZMQError(function: function(), errno: errno)
        }
    }

    static func checkPointer<T>(_ function: @autoclosure () -> String, _ body: () -> T?) throws(ZMQError) -> T {
        while true {
            if let value = body() { return value }
            let errno = ZMQErrno(rawValue: czmq_shim_errno())
            if errno == .interrupted { continue }
            throw ZMQError(function: function(), errno: errno)
        }
    }
}
