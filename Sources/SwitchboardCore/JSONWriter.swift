/// Writes one flat-ish JSON object, for documents written on every operation (events,
/// ingest replies, the lifecycle column, timeline rows) where Foundation's encoders
/// cost more than the work being recorded. Keys are written in the order they are
/// added.
///
/// It appends UTF-8 bytes to one buffer: a profile of the broker under durable load
/// showed Swift `String` appends (capacity checks, re-counting, scalar-by-scalar
/// escaping) as its largest cost.
public struct JSONWriter {
    private var buffer: [UInt8]
    private var first = true

    public init(capacity: Int = 128) {
        buffer = []
        buffer.reserveCapacity(capacity)
        buffer.append(UInt8(ascii: "{"))
    }

    private mutating func key(_ name: String) {
        if !first { buffer.append(UInt8(ascii: ",")) }
        first = false
        Self.appendQuoted(name, to: &buffer)
        buffer.append(UInt8(ascii: ":"))
    }

    public mutating func add(_ name: String, _ value: String?) {
        guard let value else { return }
        key(name)
        Self.appendQuoted(value, to: &buffer)
    }

    public mutating func add(_ name: String, _ value: Double) {
        key(name)
        if value.isFinite, value == value.rounded(), abs(value) < 1e15 {
            appendDigits(Int64(value))
        } else {
            // Swift's description of a Double is the shortest text that reads back exactly.
            buffer.append(contentsOf: (value.isFinite ? value.description : "null").utf8)
        }
    }

    /// Writes an integer's digits straight into the buffer: no String in between (the
    /// lifecycle column holds a dozen numbers and is written on every move).
    private mutating func appendDigits(_ value: Int64) {
        if value < 0 { buffer.append(UInt8(ascii: "-")) }
        var magnitude = value.magnitude
        var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                     UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var count = 0
        withUnsafeMutableBytes(of: &digits) { bytes in
            repeat {
                bytes[19 - count] = UInt8(ascii: "0") + UInt8(magnitude % 10)
                magnitude /= 10
                count += 1
            } while magnitude > 0
            buffer.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[(20 - count)...]))
        }
    }

    public mutating func addBool(_ name: String, _ value: Bool) {
        key(name)
        buffer.append(contentsOf: value ? Self.trueBytes : Self.falseBytes)
    }

    public mutating func add(_ name: String, _ value: Int) {
        key(name)
        appendDigits(Int64(value))
    }

    /// Adds an array of strings.
    public mutating func add(_ name: String, strings: [String]) {
        key(name)
        buffer.append(UInt8(ascii: "["))
        for (index, value) in strings.enumerated() {
            if index > 0 { buffer.append(UInt8(ascii: ",")) }
            Self.appendQuoted(value, to: &buffer)
        }
        buffer.append(UInt8(ascii: "]"))
    }

    /// Adds a nested object, written in place by `body`.
    public mutating func object(_ name: String, _ body: (inout JSONWriter) -> Void) {
        key(name)
        buffer.append(UInt8(ascii: "{"))
        first = true
        body(&self)
        buffer.append(UInt8(ascii: "}"))
        first = false
    }

    /// Adds a value that is already JSON text (a stored document), as it is.
    public mutating func add(_ name: String, raw json: String) {
        key(name)
        buffer.append(contentsOf: json.utf8)
    }

    /// The document's UTF-8 bytes.
    public var bytes: [UInt8] {
        var bytes = buffer
        bytes.append(UInt8(ascii: "}"))
        return bytes
    }

    public var result: String { String(decoding: bytes, as: UTF8.self) }

    private static let trueBytes = Array("true".utf8)
    private static let falseBytes = Array("false".utf8)
    private static let hex = Array("0123456789abcdef".utf8)

    /// Appends `value` as a JSON string, escaping quotes, backslashes and control
    /// characters; everything else (all of non-ASCII UTF-8 too) is copied as it is.
    public static func appendQuoted(_ value: String, to buffer: inout [UInt8]) {
        buffer.append(UInt8(ascii: "\""))
        var value = value
        value.withUTF8 { utf8 in
            var start = 0
            for index in utf8.indices {
                let byte = utf8[index]
                guard byte < 0x20 || byte == 0x22 || byte == 0x5C else { continue }
                buffer.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[start..<index]))
                start = index + 1
                switch byte {
                case 0x22: buffer.append(contentsOf: [0x5C, 0x22])
                case 0x5C: buffer.append(contentsOf: [0x5C, 0x5C])
                case 0x0A: buffer.append(contentsOf: [0x5C, UInt8(ascii: "n")])
                case 0x0D: buffer.append(contentsOf: [0x5C, UInt8(ascii: "r")])
                case 0x09: buffer.append(contentsOf: [0x5C, UInt8(ascii: "t")])
                default:
                    buffer.append(contentsOf: [0x5C, UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0"),
                                               hex[Int(byte >> 4)], hex[Int(byte & 0x0F)]])
                }
            }
            buffer.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[start..<utf8.count]))
        }
        buffer.append(UInt8(ascii: "\""))
    }
}
