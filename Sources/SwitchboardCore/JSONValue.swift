/// A JSON value read by ``JSONValue/parse(_:maxDepth:)``, a strict RFC 8259 parser
/// over UTF-8 bytes.
///
/// Switchboard reads gateways' envelopes with it rather than Foundation's
/// `JSONSerialization`, which costs more than the rest of ingest, accepts trailing commas
/// and UTF-16, and bridges booleans to numbers. Strictness is the point: every gateway
/// must send the same thing, so that what one broker accepts, any other tool reading
/// the spec accepts too.
public enum JSONValue: Sendable, Equatable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    /// Members in document order. Keys are unique: the parser refuses an object that
    /// repeats one, because two readers could each pick a different copy.
    case object([(key: String, value: JSONValue)])

    /// Objects are equal when they have the same members in the same order.
    public static func == (a: JSONValue, b: JSONValue) -> Bool {
        switch (a, b) {
        case (.null, .null): true
        case let (.bool(x), .bool(y)): x == y
        case let (.number(x), .number(y)): x == y
        case let (.string(x), .string(y)): x == y
        case let (.array(x), .array(y)): x == y
        case let (.object(x), .object(y)): x.elementsEqual(y) { $0.key == $1.key && $0.value == $1.value }
        default: false
        }
    }
}

// MARK: - Parsing

extension JSONValue {
    /// How deeply arrays and objects may nest unless the caller says otherwise: far more
    /// than any envelope needs, and shallow enough that the recursive parser's stack
    /// stays small whatever the input.
    public static let defaultMaxDepth = 32

    /// Parses one JSON text: a single value, optionally surrounded by whitespace.
    ///
    /// The input must be UTF-8 without a byte-order mark. Refused, each with the byte
    /// offset where it was found: trailing commas, comments, `NaN` and `Infinity`,
    /// numbers with leading zeros or beyond `Double`'s range, raw control characters in
    /// strings, unknown escapes, unpaired surrogates in `\u` escapes, invalid UTF-8,
    /// NUL bytes (UTF-16 or UTF-32 input), repeated keys, nesting deeper than
    /// `maxDepth`, and anything after the value.
    public static func parse(_ bytes: some Collection<UInt8>, maxDepth: Int = defaultMaxDepth) throws(JSONParseError) -> JSONValue {
        var parser = JSONParser(bytes: Array(bytes), maxDepth: maxDepth)
        return try parser.parseText()
    }
}

/// Why a JSON text was refused, and where. The reason never quotes the input, so the
/// error can be shown to whoever sent it, or logged, without leaking what it held.
public struct JSONParseError: Error, Equatable, Sendable, CustomStringConvertible {
    public enum Reason: String, Sendable, CaseIterable {
        case unexpectedEnd = "unexpected end of input"
        case expectedValue = "expected a JSON value"
        case expectedKey = "expected a string key"
        case expectedColon = "expected ':' after a key"
        case expectedCommaOrEnd = "expected ',' or a closing bracket"
        case trailingComma = "trailing comma"
        case trailingData = "data after the JSON value"
        case invalidLiteral = "invalid literal; expected true, false or null"
        case invalidNumber = "invalid number"
        case leadingZero = "number with a leading zero"
        case numberOutOfRange = "number out of range"
        case unterminatedString = "unterminated string"
        case controlCharacter = "unescaped control character in a string"
        case invalidEscape = "invalid escape sequence"
        case invalidUnicodeEscape = "invalid \\u escape; expected four hex digits"
        case loneSurrogate = "unpaired UTF-16 surrogate in a \\u escape"
        case invalidUTF8 = "invalid UTF-8"
        case byteOrderMark = "byte-order mark; the input must be UTF-8 without one"
        case nulByte = "NUL byte; the input must be UTF-8, not UTF-16 or UTF-32"
        case tooDeep = "arrays and objects nested too deeply"
        case duplicateKey = "duplicate key"
    }

    public let reason: Reason
    /// Where the problem was found, counted in bytes from the start of the input.
    public let offset: Int

    public init(_ reason: Reason, offset: Int) {
        self.reason = reason
        self.offset = offset
    }

    public var description: String { "\(reason.rawValue) at byte \(offset)" }
}

/// A recursive-descent parser over an array of bytes. Safe indexing throughout: the
/// input is hostile by assumption, and a bounds check is cheaper than a crash.
private struct JSONParser {
    private let bytes: [UInt8]
    private let maxDepth: Int
    private var index = 0
    private var depth = 0

    init(bytes: [UInt8], maxDepth: Int) {
        self.bytes = bytes
        self.maxDepth = maxDepth
    }

    mutating func parseText() throws(JSONParseError) -> JSONValue {
        try rejectByteOrderMark()
        skipWhitespace()
        let value = try parseValue()
        skipWhitespace()
        guard index == bytes.count else { throw unexpected(.trailingData) }
        return value
    }

    // MARK: Values

    private mutating func parseValue() throws(JSONParseError) -> JSONValue {
        switch peek() {
        case .openBrace?: return try parseObject()
        case .openBracket?: return try parseArray()
        case .quote?: return .string(try parseString())
        case .letterT?: return try parseLiteral("true", .bool(true))
        case .letterF?: return try parseLiteral("false", .bool(false))
        case .letterN?: return try parseLiteral("null", .null)
        case let byte? where byte == .minus || byte.isDigit: return .number(try parseNumber())
        default: throw unexpected(.expectedValue)
        }
    }

    private mutating func parseLiteral(_ literal: StaticString, _ value: JSONValue) throws(JSONParseError) -> JSONValue {
        let start = index
        let matches = literal.withUTF8Buffer { expected in
            bytes.count - start >= expected.count && bytes[start..<start + expected.count].elementsEqual(expected)
        }
        guard matches else { throw JSONParseError(.invalidLiteral, offset: start) }
        index += literal.utf8CodeUnitCount
        return value
    }

    private mutating func parseArray() throws(JSONParseError) -> JSONValue {
        try enterContainer()
        var items: [JSONValue] = []
        while try nextElement(closer: .closeBracket, isFirst: items.isEmpty) {
            items.append(try parseValue())
        }
        depth -= 1
        return .array(items)
    }

    private mutating func parseObject() throws(JSONParseError) -> JSONValue {
        try enterContainer()
        var members: [(key: String, value: JSONValue)] = []
        var keys = KeyTracker()
        while try nextElement(closer: .closeBrace, isFirst: members.isEmpty) {
            guard peek() == .quote else { throw unexpected(.expectedKey) }
            let keyOffset = index
            let key = try parseString()
            guard keys.insert(key, into: members) else { throw JSONParseError(.duplicateKey, offset: keyOffset) }
            skipWhitespace()
            guard peek() == .colon else { throw unexpected(.expectedColon) }
            index += 1
            skipWhitespace()
            members.append((key, try parseValue()))
        }
        depth -= 1
        return .object(members)
    }

    /// Steps over the opening bracket or brace, counting the depth.
    private mutating func enterContainer() throws(JSONParseError) {
        depth += 1
        guard depth <= maxDepth else { throw JSONParseError(.tooDeep, offset: index) }
        index += 1
    }

    /// Moves to the next element of an array or object: true when one follows (the
    /// index is then at it), false when the container ended (the index is then past
    /// its closer). This is the one place that separators are read, so a trailing comma
    /// is caught here for both kinds of container.
    private mutating func nextElement(closer: UInt8, isFirst: Bool) throws(JSONParseError) -> Bool {
        skipWhitespace()
        if peek() == closer {
            index += 1
            return false
        }
        if isFirst { return true }
        guard peek() == .comma else { throw unexpected(.expectedCommaOrEnd) }
        let comma = index
        index += 1
        skipWhitespace()
        guard peek() != closer else { throw JSONParseError(.trailingComma, offset: comma) }
        return true
    }

    // MARK: Numbers

    /// Reads `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?` and nothing looser.
    private mutating func parseNumber() throws(JSONParseError) -> Double {
        let start = index
        let isNegative = peek() == .minus
        if isNegative { index += 1 }
        guard let first = peek(), first.isDigit else { throw unexpected(.invalidNumber) }
        index += 1
        if first == .digitZero {
            if peek()?.isDigit == true { throw JSONParseError(.leadingZero, offset: start) }
        } else {
            skipDigits()
        }
        let integerEnd = index
        if peek() == .dot {
            index += 1
            try requireDigits()
        }
        if peek() == .letterE || peek() == .capitalE {
            index += 1
            if peek() == .plus || peek() == .minus { index += 1 }
            try requireDigits()
        }
        return try numberValue(start: start, isNegative: isNegative, integerEnd: integerEnd)
    }

    /// Whole numbers of up to 15 digits, the usual case, are exact in a `Double` and are
    /// converted without going through text; the rest go through the standard library's
    /// correctly rounded conversion.
    private func numberValue(start: Int, isNegative: Bool, integerEnd: Int) throws(JSONParseError) -> Double {
        let digitsStart = isNegative ? start + 1 : start
        if index == integerEnd, integerEnd - digitsStart <= 15 {
            let magnitude = bytes[digitsStart..<integerEnd].reduce(0) { $0 * 10 + Int($1 - .digitZero) }
            return isNegative ? -Double(magnitude) : Double(magnitude)
        }
        guard let value = Double(String(decoding: bytes[start..<index], as: UTF8.self)), value.isFinite else {
            throw JSONParseError(.numberOutOfRange, offset: start)
        }
        return value
    }

    private mutating func requireDigits() throws(JSONParseError) {
        guard peek()?.isDigit == true else { throw unexpected(.invalidNumber) }
        skipDigits()
    }

    private mutating func skipDigits() {
        while peek()?.isDigit == true { index += 1 }
    }

    // MARK: Strings

    /// Reads a string whose opening quote is at the index. A string without escapes,
    /// the usual case, becomes a `String` of its slice of the input in one step; only
    /// strings with escapes are assembled in a buffer.
    private mutating func parseString() throws(JSONParseError) -> String {
        let opening = index
        index += 1
        var runStart = index
        var unescaped: [UInt8] = []
        var hasEscapes = false
        while let byte = peek() {
            switch byte {
            case .quote:
                let run = bytes[runStart..<index]
                index += 1
                guard hasEscapes else { return String(decoding: run, as: UTF8.self) }
                unescaped.append(contentsOf: run)
                return String(decoding: unescaped, as: UTF8.self)
            case .backslash:
                unescaped.append(contentsOf: bytes[runStart..<index])
                try appendEscape(to: &unescaped)
                hasEscapes = true
                runStart = index
            case 0:
                throw JSONParseError(.nulByte, offset: index)
            case ..<0x20:
                throw JSONParseError(.controlCharacter, offset: index)
            case ..<0x80:
                index += 1
            default:
                index += try validUTF8SequenceLength()
            }
        }
        throw JSONParseError(.unterminatedString, offset: opening)
    }

    /// Reads the escape at the index (a backslash) and appends what it stands for.
    private mutating func appendEscape(to buffer: inout [UInt8]) throws(JSONParseError) {
        let escape = index
        index += 1
        guard let letter = peek() else { throw unexpected(.invalidEscape) }
        index += 1
        switch letter {
        case .quote, .backslash, .slash: buffer.append(letter)
        case .letterB: buffer.append(0x08)
        case .letterF: buffer.append(0x0C)
        case .letterN: buffer.append(0x0A)
        case .letterR: buffer.append(0x0D)
        case .letterT: buffer.append(0x09)
        case .letterU: buffer.append(contentsOf: try unicodeEscape(startingAt: escape).utf8)
        default: throw JSONParseError(.invalidEscape, offset: escape)
        }
    }

    /// Reads the four hex digits after `\u`, and a second `\uXXXX` when the first is a
    /// high surrogate; a surrogate without its partner is refused rather than replaced,
    /// so that no text changes silently between gateway and broker.
    private mutating func unicodeEscape(startingAt escape: Int) throws(JSONParseError) -> Unicode.Scalar {
        let first = try hexQuad()
        var value = first
        switch first {
        case 0xD800...0xDBFF:
            guard peek() == .backslash, peek(at: index + 1) == .letterU else { throw JSONParseError(.loneSurrogate, offset: escape) }
            index += 2
            let second = try hexQuad()
            guard (0xDC00...0xDFFF).contains(second) else { throw JSONParseError(.loneSurrogate, offset: escape) }
            value = 0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00)
        case 0xDC00...0xDFFF:
            throw JSONParseError(.loneSurrogate, offset: escape)
        default:
            break
        }
        guard let scalar = Unicode.Scalar(value) else { throw JSONParseError(.loneSurrogate, offset: escape) }
        return scalar
    }

    private mutating func hexQuad() throws(JSONParseError) -> UInt32 {
        var value: UInt32 = 0
        for _ in 0..<4 {
            guard let digit = peek()?.hexDigitValue else { throw unexpected(.invalidUnicodeEscape) }
            value = value << 4 | digit
            index += 1
        }
        return value
    }

    /// The length of the multi-byte UTF-8 sequence at the index, checked against the
    /// Unicode Standard's table of well-formed sequences (Table 3-7): no overlong
    /// forms, no encoded surrogates, nothing beyond U+10FFFF.
    private func validUTF8SequenceLength() throws(JSONParseError) -> Int {
        let length: Int
        var second: ClosedRange<UInt8> = 0x80...0xBF
        switch bytes[index] {
        case 0xC2...0xDF: length = 2
        case 0xE0: length = 3; second = 0xA0...0xBF
        case 0xE1...0xEC, 0xEE...0xEF: length = 3
        case 0xED: length = 3; second = 0x80...0x9F
        case 0xF0: length = 4; second = 0x90...0xBF
        case 0xF1...0xF3: length = 4
        case 0xF4: length = 4; second = 0x80...0x8F
        default: throw JSONParseError(.invalidUTF8, offset: index)
        }
        for position in index + 1..<index + length {
            let allowed = position == index + 1 ? second : 0x80...0xBF
            guard let byte = peek(at: position), allowed.contains(byte) else { throw JSONParseError(.invalidUTF8, offset: index) }
        }
        return length
    }

    // MARK: Bytes

    /// A byte-order mark is refused by name, UTF-8's included, since RFC 8259 forbids
    /// sending one; UTF-16 or UTF-32 without a mark is caught by its NUL bytes.
    private func rejectByteOrderMark() throws(JSONParseError) {
        if Self.byteOrderMarks.contains(where: { bytes.starts(with: $0) }) { throw JSONParseError(.byteOrderMark, offset: 0) }
    }

    /// UTF-8's, then UTF-16's in both orders (the little-endian one also begins
    /// UTF-32LE's), then UTF-32BE's.
    private static let byteOrderMarks: [[UInt8]] = [[0xEF, 0xBB, 0xBF], [0xFE, 0xFF], [0xFF, 0xFE], [0x00, 0x00, 0xFE, 0xFF]]

    private mutating func skipWhitespace() {
        while let byte = peek(), byte == .space || byte == .newline || byte == .carriageReturn || byte == .tab {
            index += 1
        }
    }

    private func peek() -> UInt8? { peek(at: index) }

    private func peek(at position: Int) -> UInt8? { position < bytes.count ? bytes[position] : nil }

    /// The error for finding something other than `expected` at the index, unless the
    /// input ended there or holds a NUL byte, which say more.
    private func unexpected(_ expected: JSONParseError.Reason) -> JSONParseError {
        switch peek() {
        case nil: JSONParseError(.unexpectedEnd, offset: index)
        case 0?: JSONParseError(.nulByte, offset: index)
        default: JSONParseError(expected, offset: index)
        }
    }
}

/// Tells whether a key is new to its object. Small objects, which is what envelopes
/// are, are searched directly; past a few keys a hash set takes over, so that a hostile
/// object with thousands of keys costs linear time rather than quadratic.
///
/// Keys compare as Swift strings do, by canonical equivalence: `"é"` and `"e\u0301"`
/// count as the same key, as they would for any lookup by name afterwards.
private struct KeyTracker {
    private static let linearLimit = 16
    private var seen: Set<String>?

    mutating func insert(_ key: String, into members: [(key: String, value: JSONValue)]) -> Bool {
        if seen == nil, members.count >= Self.linearLimit { seen = Set(members.lazy.map(\.key)) }
        if let inserted = seen?.insert(key).inserted { return inserted }
        return !members.contains { $0.key == key }
    }
}

// MARK: - Accessors

extension JSONValue {
    /// The value of the member named `key`, or nil when absent or when this is not an
    /// object.
    public subscript(key: String) -> JSONValue? {
        guard case .object(let members) = self else { return nil }
        return members.first { $0.key == key }?.value
    }

    /// The element at `index`, or nil when out of range or when this is not an array.
    public subscript(index: Int) -> JSONValue? {
        guard case .array(let items) = self, items.indices.contains(index) else { return nil }
        return items[index]
    }

    public var isNull: Bool {
        if case .null = self { true } else { false }
    }

    public var boolValue: Bool? {
        if case .bool(let value) = self { value } else { nil }
    }

    public var doubleValue: Double? {
        if case .number(let value) = self { value } else { nil }
    }

    public var stringValue: String? {
        if case .string(let value) = self { value } else { nil }
    }

    public var arrayValue: [JSONValue]? {
        if case .array(let items) = self { items } else { nil }
    }

    public var objectValue: [(key: String, value: JSONValue)]? {
        if case .object(let members) = self { members } else { nil }
    }
}

// MARK: - ASCII

private extension UInt8 {
    static let tab: UInt8 = 0x09
    static let newline: UInt8 = 0x0A
    static let carriageReturn: UInt8 = 0x0D
    static let space: UInt8 = 0x20
    static let quote: UInt8 = 0x22 // "
    static let plus: UInt8 = 0x2B // +
    static let comma: UInt8 = 0x2C // ,
    static let minus: UInt8 = 0x2D // -
    static let dot: UInt8 = 0x2E // .
    static let slash: UInt8 = 0x2F // /
    static let digitZero: UInt8 = 0x30 // 0
    static let colon: UInt8 = 0x3A // :
    static let capitalE: UInt8 = 0x45 // E
    static let openBracket: UInt8 = 0x5B // [
    static let backslash: UInt8 = 0x5C // \
    static let closeBracket: UInt8 = 0x5D // ]
    static let letterB: UInt8 = 0x62 // b
    static let letterE: UInt8 = 0x65 // e
    static let letterF: UInt8 = 0x66 // f
    static let letterN: UInt8 = 0x6E // n
    static let letterR: UInt8 = 0x72 // r
    static let letterT: UInt8 = 0x74 // t
    static let letterU: UInt8 = 0x75 // u
    static let openBrace: UInt8 = 0x7B // {
    static let closeBrace: UInt8 = 0x7D // }

    var isDigit: Bool { (0x30...0x39).contains(self) }

    var hexDigitValue: UInt32? {
        switch self {
        case 0x30...0x39: UInt32(self - 0x30)
        case 0x41...0x46: UInt32(self - 0x41 + 10)
        case 0x61...0x66: UInt32(self - 0x61 + 10)
        default: nil
        }
    }
}
