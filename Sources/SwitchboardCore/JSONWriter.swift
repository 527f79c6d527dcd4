/// Writes one flat-ish JSON object as text, for messages sent on every operation
/// (events, ingest replies) where Foundation's JSONSerialization costs more than the
/// work being reported. Keys are written in the order they are added.
public struct JSONWriter {
    private var text = "{"
    private var first = true

    public init() {}

    private mutating func key(_ name: String) {
        if !first { text += "," }
        first = false
        Self.appendQuoted(name, to: &text)
        text += ":"
    }

    public mutating func add(_ name: String, _ value: String?) {
        guard let value else { return }
        key(name)
        Self.appendQuoted(value, to: &text)
    }

    public mutating func add(_ name: String, _ value: Double) {
        key(name)
        // Swift's description of a Double is the shortest text that reads back exactly.
        text += value.isFinite ? (value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : "\(value)") : "null"
    }

    public mutating func addBool(_ name: String, _ value: Bool) {
        key(name)
        text += value ? "true" : "false"
    }

    public mutating func add(_ name: String, _ value: Int) {
        key(name)
        text += String(value)
    }

    /// Adds an array of strings.
    public mutating func add(_ name: String, strings: [String]) {
        key(name)
        text += "["
        for (index, value) in strings.enumerated() {
            if index > 0 { text += "," }
            Self.appendQuoted(value, to: &text)
        }
        text += "]"
    }

    /// Adds a nested object written by another writer.
    public mutating func add(_ name: String, object: JSONWriter) {
        key(name)
        text += object.result
    }

    public var result: String { text + "}" }

    /// Appends `value` as a JSON string, escaping quotes, backslashes and control
    /// characters.
    static func appendQuoted(_ value: String, to text: inout String) {
        // Most values need no escaping: append them whole.
        if !value.utf8.contains(where: { $0 < 0x20 || $0 == 0x22 || $0 == 0x5C }) {
            text += "\""
            text += value
            text += "\""
            return
        }
        text += "\""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": text += "\\\""
            case "\\": text += "\\\\"
            case "\n": text += "\\n"
            case "\r": text += "\\r"
            case "\t": text += "\\t"
            case let c where c.value < 0x20:
                let hex = String(c.value, radix: 16)
                text += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default:
                text.unicodeScalars.append(scalar)
            }
        }
        text += "\""
    }
}
