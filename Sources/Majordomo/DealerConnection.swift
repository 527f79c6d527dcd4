import ZeroMQ

/// Opens the DEALER socket a Majordomo client or worker talks through: no linger, so a
/// peer that gives up on the broker can close at once, and the caller's settings (CURVE
/// keys, say) applied before connecting.
func connectDealer(
    _ context: Context, _ endpoint: String, _ configure: (Socket) throws(ZMQError) -> Void
) throws(ZMQError) -> Socket {
    let socket = try Socket(context, .dealer)
    try socket.setLinger(.zero)
    try configure(socket)
    try socket.connect(endpoint)
    return socket
}
