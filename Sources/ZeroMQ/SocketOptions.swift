import CZeroMQ

/// Typed setters for the socket options Switchboard uses. Each one names the libzmq
/// option it sets, so a failure reads as `zmq_setsockopt(ZMQ_LINGER) failed: …`.
extension Socket {
    /// How long `close` may keep undelivered messages (`ZMQ_LINGER`); `nil` waits forever.
    public func setLinger(_ linger: Duration?) throws(ZMQError) {
        try setOption(ZMQ_LINGER, "ZMQ_LINGER", int: linger.map(Self.milliseconds) ?? -1)
    }

    /// Messages queued per peer before sends block or drop (`ZMQ_SNDHWM`); 0 is unlimited.
    public func setSendHighWaterMark(_ messages: Int32) throws(ZMQError) {
        try setOption(ZMQ_SNDHWM, "ZMQ_SNDHWM", int: messages)
    }

    /// Messages queued per peer on receipt (`ZMQ_RCVHWM`); 0 is unlimited.
    public func setReceiveHighWaterMark(_ messages: Int32) throws(ZMQError) {
        try setOption(ZMQ_RCVHWM, "ZMQ_RCVHWM", int: messages)
    }

    /// The largest inbound message accepted (`ZMQ_MAXMSGSIZE`); a peer that sends a
    /// larger one is disconnected and the message is dropped. `nil` removes the limit.
    public func setMaxMessageSize(_ bytes: Int64?) throws(ZMQError) {
        try setOption(ZMQ_MAXMSGSIZE, "ZMQ_MAXMSGSIZE", int64: bytes ?? -1)
    }

    /// Makes a ROUTER fail a send to an unknown peer with `EHOSTUNREACH` instead of
    /// dropping it silently (`ZMQ_ROUTER_MANDATORY`).
    public func setRouterMandatory(_ enabled: Bool) throws(ZMQError) {
        try setOption(ZMQ_ROUTER_MANDATORY, "ZMQ_ROUTER_MANDATORY", int: enabled ? 1 : 0)
    }

    /// The identity this socket presents to a ROUTER peer (`ZMQ_ROUTING_ID`).
    public func setRoutingID(_ id: Frame) throws(ZMQError) {
        try setOption(ZMQ_ROUTING_ID, "ZMQ_ROUTING_ID", bytes: id.bytes)
    }

    public func routingID() throws(ZMQError) -> Frame {
        Frame(try bytesOption(ZMQ_ROUTING_ID, "ZMQ_ROUTING_ID"))
    }

    /// ZMTP-level heartbeats (`ZMQ_HEARTBEAT_IVL`, `_TTL`, `_TIMEOUT`): libzmq pings the
    /// connection and drops it when the peer stops answering.
    public func setHeartbeat(interval: Duration, ttl: Duration? = nil, timeout: Duration? = nil) throws(ZMQError) {
        try setOption(ZMQ_HEARTBEAT_IVL, "ZMQ_HEARTBEAT_IVL", int: Self.milliseconds(interval))
        if let ttl { try setOption(ZMQ_HEARTBEAT_TTL, "ZMQ_HEARTBEAT_TTL", int: Self.milliseconds(ttl)) }
        if let timeout { try setOption(ZMQ_HEARTBEAT_TIMEOUT, "ZMQ_HEARTBEAT_TIMEOUT", int: Self.milliseconds(timeout)) }
    }

    /// On a SUB socket, receive messages whose first frame starts with `prefix`.
    public func subscribe(_ prefix: Frame = .empty) throws(ZMQError) {
        try setOption(ZMQ_SUBSCRIBE, "ZMQ_SUBSCRIBE", bytes: prefix.bytes)
    }

    public func unsubscribe(_ prefix: Frame = .empty) throws(ZMQError) {
        try setOption(ZMQ_UNSUBSCRIBE, "ZMQ_UNSUBSCRIBE", bytes: prefix.bytes)
    }

    /// Makes this socket a CURVE server holding `secretKey` (Z85, 40 characters).
    /// Set before `bind`.
    public func setCurveServer(secretKey: String) throws(ZMQError) {
        try setOption(ZMQ_CURVE_SERVER, "ZMQ_CURVE_SERVER", int: 1)
        try setOption(ZMQ_CURVE_SECRETKEY, "ZMQ_CURVE_SECRETKEY", bytes: Array(secretKey.utf8))
    }

    /// Makes this socket a CURVE client of the server whose public key is `serverKey`.
    /// Set before `connect`.
    public func setCurveClient(serverKey: String, keyPair: CurveKeyPair) throws(ZMQError) {
        try setOption(ZMQ_CURVE_SERVERKEY, "ZMQ_CURVE_SERVERKEY", bytes: Array(serverKey.utf8))
        try setOption(ZMQ_CURVE_PUBLICKEY, "ZMQ_CURVE_PUBLICKEY", bytes: Array(keyPair.publicKey.utf8))
        try setOption(ZMQ_CURVE_SECRETKEY, "ZMQ_CURVE_SECRETKEY", bytes: Array(keyPair.secretKey.utf8))
    }

    /// The ZAP domain passed to the authentication handler (`ZMQ_ZAP_DOMAIN`).
    public func setZAPDomain(_ domain: String) throws(ZMQError) {
        try setOption(ZMQ_ZAP_DOMAIN, "ZMQ_ZAP_DOMAIN", bytes: Array(domain.utf8))
    }

    /// With `true`, a missing ZAP handler fails the handshake instead of letting every
    /// peer in (`ZMQ_ZAP_ENFORCE_DOMAIN`): the safe setting for a server.
    public func setZAPEnforceDomain(_ enforce: Bool) throws(ZMQError) {
        try setOption(czmq_shim_zap_enforce_domain(), "ZMQ_ZAP_ENFORCE_DOMAIN", int: enforce ? 1 : 0)
    }

    /// libzmq counts timeouts in whole milliseconds. A part of one rounds up: a wait of
    /// 0.4 ms truncated to 0 returns at once, and a caller that polls until a deadline
    /// less than a millisecond away spins a core instead of sleeping (the benchmark's
    /// open-loop generator did, beside the broker it measured).
    static func milliseconds(_ duration: Duration) -> Int32 {
        // A deadline already passed waits for nothing (a negative count is "forever").
        guard duration > .zero else { return 0 }
        let (seconds, attoseconds) = duration.components
        let whole = seconds * 1_000 + attoseconds / 1_000_000_000_000_000
        let part = attoseconds % 1_000_000_000_000_000
        return Int32(clamping: whole + (part > 0 ? 1 : 0))
    }
}
