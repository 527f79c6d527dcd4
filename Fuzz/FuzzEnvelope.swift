/// libFuzzer entry for the envelope decoder: any bytes decode to an inquiry or an
/// IngestError, never a trap. Built by scripts/fuzz.sh with SwitchboardCore's sources.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzEnvelope(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    _ = try? EnvelopeDecoder().decode(bytes)
    _ = try? JSONValue.parse(bytes)
    return 0
}
