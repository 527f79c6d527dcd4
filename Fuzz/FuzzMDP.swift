import ZeroMQ

/// libFuzzer entry for the 7/MDP codec: any bytes, split into frames, decode or throw.
/// Built by scripts/fuzz.sh together with Sources/ZeroMQ/Frame.swift and
/// Sources/Majordomo/MDP.swift (the `import ZeroMQ` there is satisfied by one module).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzMDP(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    // The first byte says where frames end: every byte equal to it is a boundary.
    guard let separator = bytes.first else { return 0 }
    let frames = bytes.dropFirst().split(separator: separator, omittingEmptySubsequences: false).map { Frame(Array($0)) }
    _ = try? BrokerInbound(frames: frames)
    _ = try? WorkerCommand(frames: frames)
    _ = try? ClientMessage(frames: frames)
    return 0
}
