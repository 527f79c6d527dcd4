import ZeroMQ

/// Frames and constants of the Majordomo Protocol, 7/MDP (MDP/0.1).
///
/// Everything here is pure: it turns frames into typed commands and back, and it
/// never touches a socket. The ROUTER routing-id frame is not part of these messages;
/// the broker strips it before decoding and prepends it when sending.
public enum MDP {
    /// Frame 1 of every client message: MDP/Client v0.1.
    public static let clientProtocol: Frame = "MDPC01"
    /// Frame 1 of every worker message: MDP/Worker v0.1.
    public static let workerProtocol: Frame = "MDPW01"

    /// The largest credit a worker may announce in READY.
    public static let maxCredit = 1_000

    /// Longest service name accepted, in UTF-8 bytes.
    public static let maxServiceNameLength = 255

    /// Services the broker answers itself (8/MMI), which no worker may register.
    public static let mmiPrefix = "mmi."

    /// Checks a service name frame: printable UTF-8, 1 to 255 bytes.
    static func serviceName(_ frame: Frame) throws(MDPError) -> String {
        guard (1...maxServiceNameLength).contains(frame.count),
              let name = frame.string,
              name.unicodeScalars.allSatisfy({ $0.value >= 0x20 && $0.value != 0x7F })
        else { throw .invalidServiceName }
        return name
    }
}

/// The five commands of MDP/Worker.
public enum WorkerCommand: Equatable, Sendable {
    /// READY. `credit` is Switchboard's backward-compatible extension (see
    /// `Protocols/4-worker-credit.md`): a worker that can hold more than one request at a
    /// time says so in an optional fifth frame; a plain 7/MDP worker sends four frames
    /// and keeps a credit of 1.
    case ready(service: String, credit: Int = 1)
    case request(client: Frame, body: [Frame])
    case reply(client: Frame, body: [Frame])
    case heartbeat
    case disconnect

    public var code: UInt8 {
        switch self {
        case .ready: 0x01
        case .request: 0x02
        case .reply: 0x03
        case .heartbeat: 0x04
        case .disconnect: 0x05
        }
    }

    public var name: String {
        switch self {
        case .ready: "READY"
        case .request: "REQUEST"
        case .reply: "REPLY"
        case .heartbeat: "HEARTBEAT"
        case .disconnect: "DISCONNECT"
        }
    }

    /// The command on the wire, starting with the empty frame.
    public var frames: [Frame] {
        let head: [Frame] = [.empty, MDP.workerProtocol, Frame([code])]
        switch self {
        case .ready(let service, let credit):
            return head + [Frame(service)] + (credit == 1 ? [] : [Frame("\(credit)")])
        case .request(let client, let body), .reply(let client, let body): return head + [client, .empty] + body
        case .heartbeat, .disconnect: return head
        }
    }

    /// Decodes a worker command from frames starting with the empty frame.
    public init(frames: [Frame]) throws(MDPError) {
        guard frames.count >= 3 else { throw .tooFewFrames(frames.count, needed: 3) }
        guard frames[0].isEmpty else { throw .missingEmptyFrame }
        guard frames[1] == MDP.workerProtocol else { throw .unknownProtocol(frames[1]) }
        guard frames[2].count == 1 else { throw .unknownCommand(frames[2]) }
        switch frames[2].bytes[0] {
        case 0x01:
            guard frames.count == 4 || frames.count == 5 else {
                throw .wrongFrameCount(frames.count, command: "READY", expected: "4 (or 5 with a credit)")
            }
            var credit = 1
            if frames.count == 5 {
                guard let text = frames[4].string, text.count <= 4, let value = Int(text), (1...MDP.maxCredit).contains(value) else {
                    throw .invalidCredit(frames[4])
                }
                credit = value
            }
            self = .ready(service: try MDP.serviceName(frames[3]), credit: credit)
        case let code where code == 0x02 || code == 0x03:
            let name = code == 0x02 ? "REQUEST" : "REPLY"
            guard frames.count >= 5 else { throw .wrongFrameCount(frames.count, command: name, expected: "5 or more") }
            guard frames[4].isEmpty else { throw .missingEnvelopeDelimiter }
            let body = Array(frames[5...])
            self = code == 0x02 ? .request(client: frames[3], body: body) : .reply(client: frames[3], body: body)
        case 0x04:
            guard frames.count == 3 else { throw .wrongFrameCount(frames.count, command: "HEARTBEAT", expected: "3") }
            self = .heartbeat
        case 0x05:
            guard frames.count == 3 else { throw .wrongFrameCount(frames.count, command: "DISCONNECT", expected: "3") }
            self = .disconnect
        default:
            throw .unknownCommand(frames[2])
        }
    }
}

/// An MDP/Client message: a REQUEST from a client, or the broker's REPLY to it. Both
/// carry the same frames: empty, `MDPC01`, service, body.
public struct ClientMessage: Equatable, Sendable {
    public var service: String
    public var body: [Frame]

    public init(service: String, body: [Frame]) {
        self.service = service
        self.body = body
    }

    /// The message on the wire, starting with the empty frame (a REQ socket adds and
    /// strips that frame itself; a DEALER sends and receives it).
    public var frames: [Frame] { [.empty, MDP.clientProtocol, Frame(service)] + body }

    public init(frames: [Frame]) throws(MDPError) {
        guard frames.count >= 3 else { throw .tooFewFrames(frames.count, needed: 3) }
        guard frames[0].isEmpty else { throw .missingEmptyFrame }
        guard frames[1] == MDP.clientProtocol else { throw .unknownProtocol(frames[1]) }
        service = try MDP.serviceName(frames[2])
        body = Array(frames[3...])
    }
}

/// What a broker can receive on its ROUTER socket, after the routing id.
public enum BrokerInbound: Equatable, Sendable {
    case client(ClientMessage)
    case worker(WorkerCommand)

    public init(frames: [Frame]) throws(MDPError) {
        guard frames.count >= 2 else { throw .tooFewFrames(frames.count, needed: 3) }
        switch frames[1] {
        case MDP.clientProtocol: self = .client(try ClientMessage(frames: frames))
        case MDP.workerProtocol: self = .worker(try WorkerCommand(frames: frames))
        default:
            guard frames[0].isEmpty else { throw .missingEmptyFrame }
            throw .unknownProtocol(frames[1])
        }
    }
}

/// Why a message is not valid MDP. Each case names what was wrong, so a log line or a
/// test failure points at the frame to fix.
public enum MDPError: Error, Equatable, Sendable, CustomStringConvertible {
    case tooFewFrames(Int, needed: Int)
    case wrongFrameCount(Int, command: String, expected: String)
    case missingEmptyFrame
    case unknownProtocol(Frame)
    case unknownCommand(Frame)
    case missingEnvelopeDelimiter
    case invalidServiceName
    case invalidCredit(Frame)

    public var description: String {
        switch self {
        case .tooFewFrames(let count, let needed):
            "message has \(count) frames; MDP needs at least \(needed)"
        case .wrongFrameCount(let count, let command, let expected):
            "\(command) has \(count) frames; it must have \(expected)"
        case .missingEmptyFrame:
            "frame 0 must be empty (a DEALER client must send the empty frame itself)"
        case .unknownProtocol(let frame):
            "frame 1 (\(frame.summary)) is not MDPC01 (client) or MDPW01 (worker)"
        case .unknownCommand(let frame):
            "unknown worker command (\(frame.summary)); expected one byte from 0x01 to 0x05"
        case .missingEnvelopeDelimiter:
            "the client address frame must be followed by an empty frame"
        case .invalidServiceName:
            "the service name must be 1 to 255 bytes of printable UTF-8"
        case .invalidCredit(let frame):
            "READY's credit frame (\(frame.summary)) must be a decimal number from 1 to \(MDP.maxCredit)"
        }
    }
}

extension Frame {
    /// How a frame a peer sent is named in errors and logs: its size, and its bytes in hex
    /// only when it is as short as a protocol header or command (a wrong "MDPC02" shows);
    /// a longer frame may be a citizen's message and shows nothing of its contents.
    public var summary: String {
        switch bytes.count {
        case 0: "0 bytes"
        case ...8: "\(bytes.count) bytes: \(hexPrefix(8))"
        default: "\(bytes.count) bytes"
        }
    }

    /// The first `count` bytes as lowercase hex.
    func hexPrefix(_ count: Int) -> String {
        bytes.prefix(count).map { byte in
            let hex = String(byte, radix: 16)
            return hex.count == 1 ? "0" + hex : hex
        }.joined()
    }
}

extension MDP {
    /// A service name as it may be logged: as it is when it looks like one (at most 64
    /// bytes of letters, digits and `.-_:`), else summarised like any frame.
    public static func loggable(_ service: String) -> String {
        let allowed = service.utf8.count <= 64 && service.utf8.allSatisfy { byte in
            (0x30...0x39).contains(byte) || (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte)
                || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "_") || byte == UInt8(ascii: ":")
        }
        return allowed ? service : Frame(service).summary
    }

    /// A routing id as it may be logged: printable ids up to 32 bytes as they are, else
    /// hex (up to 32 bytes).
    public static func loggable(peer: Frame) -> String {
        if peer.count <= 32, let text = peer.string, text.unicodeScalars.allSatisfy({ $0.value >= 0x21 && $0.value < 0x7F }) {
            return text
        }
        return "0x" + peer.hexPrefix(32)
    }
}
