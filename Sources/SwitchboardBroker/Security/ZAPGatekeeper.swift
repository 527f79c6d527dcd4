import ZeroMQ

/// The broker's own ZAP handler (RFC 27/ZAP), as a pure decision: a ZAP request in, the
/// reply out. The engine binds its REP socket on `inproc://zeromq.zap.01` before the
/// ROUTER socket binds, and sets a ZAP domain with `ZMQ_ZAP_ENFORCE_DOMAIN`, so libzmq
/// asks it about every new peer, in plain (NULL) mode too, and lets no peer in while it
/// does not answer (fail closed).
///
/// In plain mode it admits NULL-mechanism peers only. With CURVE it admits a client
/// whose public key is in the authorised keys, and gives it the key itself as the
/// `User-Id` every message from it then carries (the engine looks the key up each time); NULL and unknown keys are refused. It
/// cannot see the routing id a peer chose: libzmq's ZAP request carries the server
/// socket's own id.
struct ZAPGatekeeper {
    /// The authorised keys, or nil in plain mode.
    let keys: KeyRing?

    /// The ZAP domain the broker's ROUTER socket asks about.
    static let domain = "switchboard"
    static let endpoint = "inproc://zeromq.zap.01"

    enum Verdict: Equatable {
        case allow(userID: String)
        case deny(code: String, reason: String)
    }

    /// Decides on one request: version, request id, domain, address, identity (the
    /// peer's chosen routing id), mechanism, then credentials.
    func decide(_ request: [Frame]) -> Verdict {
        guard request.count >= 6, request[0] == "1.0" else { return .deny(code: "500", reason: "malformed ZAP request") }
        guard request[2].string == Self.domain else { return .deny(code: "400", reason: "unknown ZAP domain") }
        switch (request[5].string, keys) {
        case ("NULL", nil):
            return .allow(userID: "anonymous")
        case ("CURVE", let keys?):
            guard request.count >= 7, request[6].count == 32, let key = try? Z85.encode(request[6].bytes) else {
                return .deny(code: "400", reason: "malformed CURVE credentials")
            }
            guard keys.holder(publicKey: key) != nil else { return .deny(code: "400", reason: "unknown key") }
            return .allow(userID: key)
        default:
            return .deny(code: "400", reason: "mechanism not allowed")
        }
    }

    /// The reply frames for `request` (the REP socket adds the envelope).
    func reply(to request: [Frame]) -> [Frame] {
        let requestID = request.count > 1 ? request[1] : .empty
        switch decide(request) {
        case .allow(let userID): return ["1.0", requestID, "200", "OK", Frame(userID), .empty]
        case .deny(let code, let reason): return ["1.0", requestID, Frame(code), Frame(reason), .empty, .empty]
        }
    }
}
