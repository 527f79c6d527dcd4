import Foundation
import Testing
@testable import SwitchboardCore
import TestSupport

private func parse(_ text: String, maxDepth: Int = JSONValue.defaultMaxDepth) throws(JSONParseError) -> JSONValue {
    try JSONValue.parse(Array(text.utf8), maxDepth: maxDepth)
}

/// The error parsing `bytes` raises, or nil when they parse.
private func parseError(_ bytes: [UInt8]) -> JSONParseError? {
    do {
        _ = try JSONValue.parse(bytes)
        return nil
    } catch {
        return error
    }
}

private func parseError(_ text: String) -> JSONParseError? { parseError(Array(text.utf8)) }

/// Writes a value back as JSON text, escaping every string character that is not
/// printable ASCII, so that the round trip also exercises the `\u` escapes.
private func jsonText(_ value: JSONValue) -> String {
    switch value {
    case .null: return "null"
    case .bool(let value): return value ? "true" : "false"
    case .number(let value): return "\(value)"
    case .string(let value): return quoted(value)
    case .array(let items): return "[" + items.map(jsonText).joined(separator: ",") + "]"
    case .object(let members): return "{" + members.map { quoted($0.key) + ":" + jsonText($0.value) }.joined(separator: ",") + "}"
    }
}

private func quoted(_ string: String) -> String {
    let escaped = string.utf16.map { unit in
        (0x20..<0x7F).contains(unit) && unit != 0x22 && unit != 0x5C
            ? String(UnicodeScalar(UInt8(unit))) : String(format: "\\u%04x", unit)
    }
    return "\"" + escaped.joined() + "\""
}

/// Documents every rule accepts, from the trivial to every kind of value nested.
private let validDocuments = [
    "0", "-0", "1.5", "-2.5E+2", "1e-2", "true", "false", "null", #""""#, "[]", "{}",
    " \t\r\n[ 1 , 2 ]\n",
    #"{"a": {"b": [true, false, null, {"c": "d"}]}, "e": -0.000001}"#,
    #"{"escapes": "\" \\ \/ \b \f \n \r \t \u0041\u00e9\u20ac\ud83d\ude00", "raw": "é€😀"}"#,
    #"{"source": {"platform": "x"}, "text": "Streetlights are OUT", "geo": {"lat": 51.51, "lon": -0.12}}"#,
]

@Suite struct JSONValueTests {
    @Test func readsEveryKindOfValueKeepingKeyOrder() throws {
        let value = try parse(#"{"z": null, "yes": true, "no": false, "int": -12, "real": 2.5e-3, "text": "a\"b", "list": [1, [], {}]}"#)
        let expected: JSONValue = .object([
            ("z", .null), ("yes", .bool(true)), ("no", .bool(false)), ("int", .number(-12)), ("real", .number(0.0025)),
            ("text", .string("a\"b")), ("list", .array([.number(1), .array([]), .object([])])),
        ])
        #expect(value == expected)
    }

    @Test func accessorsReadValuesAndAnswerNilOtherwise() throws {
        let value = try parse(#"{"name": "Ana", "age": 41, "tags": ["a", "b"], "ok": true, "none": null}"#)
        #expect(value["name"]?.stringValue == "Ana")
        #expect(value["age"]?.doubleValue == 41)
        #expect(value["tags"]?[1]?.stringValue == "b")
        #expect(value["tags"]?[2] == nil)
        #expect(value["ok"]?.boolValue == true)
        #expect(value["none"]?.isNull == true)
        #expect(value["missing"] == nil)
        #expect(value["age"]?.stringValue == nil && value["name"]?.doubleValue == nil && value["ok"]?.doubleValue == nil)
        #expect(value.objectValue?.map(\.key) == ["name", "age", "tags", "ok", "none"])
        #expect(value["tags"]?.arrayValue?.count == 2)
        #expect(JSONValue.string("x")["name"] == nil && JSONValue.string("x")[0] == nil)
    }

    @Test(arguments: [
        ("0", 0.0), ("-0", -0.0), ("12345", 12345), ("-987654321012345", -987_654_321_012_345), ("1.5", 1.5),
        ("-2.5E+2", -250), ("1e-2", 0.01), ("123456789012345678901", 1.2345678901234568e20), ("1e-400", 0),
    ])
    func numbersReadAsDoubles(_ text: String, _ expected: Double) throws {
        #expect(try parse(text) == .number(expected))
    }

    @Test func stringsDecodeEscapesAndUTF8() throws {
        #expect(try parse(#""\" \\ \/ \b \f \n \r \t""#) == .string("\" \\ / \u{08} \u{0C} \n \r \t"))
        #expect(try parse(#""\u0041\u00e9\u20AC""#) == .string("Aé€"))
        #expect(try parse(#""\ud83d\ude00 and \uD83D\uDE00""#) == .string("😀 and 😀"))
        #expect(try parse(#""\u0000""#) == .string("\u{0}"))
        #expect(try parse("\"é€😀\"") == .string("é€😀"))
        #expect(try parse(#""before \n after é""#) == .string("before \n after é"))
    }

    /// Parse, write back with every non-ASCII character escaped, parse again: the same
    /// value. Foundation's reading of the written text must agree, too.
    @Test(arguments: validDocuments)
    func validDocumentsRoundTrip(_ document: String) throws {
        let value = try parse(document)
        let written = jsonText(value)
        #expect(try parse(written) == value)
        let ours = try JSONSerialization.jsonObject(with: Data(written.utf8), options: .fragmentsAllowed) as? NSObject
        let foundations = try JSONSerialization.jsonObject(with: Data(document.utf8), options: .fragmentsAllowed) as? NSObject
        #expect(ours != nil && ours == foundations, "\(written)")
    }

    /// Each case is a document, the rule it breaks, and the byte offset reported.
    @Test(arguments: [
        ("[1,2,]", JSONParseError.Reason.trailingComma, 4),
        (#"{"a": 1,}"#, .trailingComma, 7),
        ("[1,\n]", .trailingComma, 2),
        ("[,1]", .expectedValue, 1),
        ("[1 2]", .expectedCommaOrEnd, 3),
        (#"{"a" 1}"#, .expectedColon, 5),
        ("{1: 2}", .expectedKey, 1),
        ("{'a': 2}", .expectedKey, 1),
        ("[1] // note", .trailingData, 4),
        ("/* note */ 1", .expectedValue, 0),
        ("NaN", .expectedValue, 0),
        ("Infinity", .expectedValue, 0),
        ("-Infinity", .invalidNumber, 1),
        ("012", .leadingZero, 0),
        ("-01", .leadingZero, 0),
        ("1.e3", .invalidNumber, 2),
        (".5", .expectedValue, 0),
        ("+1", .expectedValue, 0),
        ("1e", .unexpectedEnd, 2),
        ("0x10", .trailingData, 1),
        ("1e400", .numberOutOfRange, 0),
        ("-1e400", .numberOutOfRange, 0),
        ("tru", .invalidLiteral, 0),
        ("nulls", .trailingData, 4),
        ("True", .expectedValue, 0),
        ("\"a\tb\"", .controlCharacter, 2),
        ("\"a\nb\"", .controlCharacter, 2),
        (#""\x""#, .invalidEscape, 1),
        (#""\'""#, .invalidEscape, 1),
        (#""\u12G4""#, .invalidUnicodeEscape, 5),
        (#""\u12""#, .invalidUnicodeEscape, 5),
        ("\"abc", .unterminatedString, 0),
        (#"["a", "b]"#, .unterminatedString, 6),
        ("", .unexpectedEnd, 0),
        ("  ", .unexpectedEnd, 2),
        ("[1,", .unexpectedEnd, 3),
        ("[1] [2]", .trailingData, 4),
        (#"{"a": 1}x"#, .trailingData, 8),
        (#"{"a": 1, "a": 2}"#, .duplicateKey, 9),
        (#"{"a": 1, "\u0061": 2}"#, .duplicateKey, 9),
    ])
    func strictnessRulesAreEnforced(_ document: String, _ reason: JSONParseError.Reason, _ offset: Int) {
        #expect(parseError(document) == JSONParseError(reason, offset: offset), "\(document.debugDescription)")
    }

    @Test(arguments: [
        (#""\ud83d""#, 1), (#""\ude00""#, 1), (#""\ude00\ud83d""#, 1), (#""x\ud83d\u0041""#, 2),
        (#""\ud83dx""#, 1), (#""\ud83d\n""#, 1), (#""\ud83d\ud83d""#, 1),
    ])
    func loneSurrogatesAreRefused(_ document: String, _ offset: Int) {
        #expect(parseError(document) == JSONParseError(.loneSurrogate, offset: offset), "\(document)")
    }

    @Test(arguments: [
        [0xEF, 0xBB, 0xBF, 0x31] as [UInt8], [0xFF, 0xFE, 0x31, 0x00], [0xFE, 0xFF, 0x00, 0x31],
        [0x00, 0x00, 0xFE, 0xFF, 0x00, 0x00, 0x00, 0x31], [0xFF, 0xFE, 0x00, 0x00, 0x31, 0x00, 0x00, 0x00],
    ])
    func byteOrderMarksAreRefused(_ bytes: [UInt8]) {
        #expect(parseError(bytes) == JSONParseError(.byteOrderMark, offset: 0))
    }

    @Test func utf16AndNULBytesAreRefused() {
        let document = #"{"a": "b"}"#
        let littleEndian = document.utf16.flatMap { [UInt8(truncatingIfNeeded: $0), UInt8($0 >> 8)] }
        let bigEndian = document.utf16.flatMap { [UInt8($0 >> 8), UInt8(truncatingIfNeeded: $0)] }
        #expect(parseError(littleEndian) == JSONParseError(.nulByte, offset: 1))
        #expect(parseError(bigEndian) == JSONParseError(.nulByte, offset: 0))
        #expect(parseError([0x22, 0x61, 0x00, 0x22]) == JSONParseError(.nulByte, offset: 2))
        #expect(parseError([0x31, 0x00]) == JSONParseError(.nulByte, offset: 1))
    }

    /// Around the edges of Unicode's table of well-formed UTF-8: the smallest and
    /// largest of each length, and the surrogate gap.
    @Test(arguments: [
        [0xC2, 0x80] as [UInt8], [0xDF, 0xBF], [0xE0, 0xA0, 0x80], [0xED, 0x9F, 0xBF], [0xEE, 0x80, 0x80],
        [0xEF, 0xBF, 0xBF], [0xF0, 0x90, 0x80, 0x80], [0xF4, 0x8F, 0xBF, 0xBF],
    ])
    func wellFormedUTF8IsAccepted(_ sequence: [UInt8]) throws {
        let value = try JSONValue.parse([0x22] + sequence + [0x22])
        #expect(value == .string(String(decoding: sequence, as: UTF8.self)))
    }

    @Test(arguments: [
        [0x80] as [UInt8], [0xBF], [0xC0, 0x80], [0xC1, 0xBF], [0xE0, 0x9F, 0xBF], [0xED, 0xA0, 0x80], [0xED, 0xBF, 0xBF],
        [0xF0, 0x8F, 0xBF, 0xBF], [0xF4, 0x90, 0x80, 0x80], [0xF5, 0x80, 0x80, 0x80], [0xFF], [0xE2, 0x82], [0xC3, 0x41],
    ])
    func malformedUTF8IsRefused(_ sequence: [UInt8]) {
        #expect(parseError([0x22] + sequence + [0x22]) == JSONParseError(.invalidUTF8, offset: 1))
    }

    @Test func nestingDeeperThanTheLimitIsRefused() throws {
        let deepest = String(repeating: "[", count: 32) + String(repeating: "]", count: 32)
        #expect(try parse(deepest) != .null)
        #expect(parseError("[" + deepest + "]") == JSONParseError(.tooDeep, offset: 32))
        #expect(parseError(String(repeating: #"{"a":"#, count: 33) + "1" + String(repeating: "}", count: 33)) == JSONParseError(.tooDeep, offset: 160))
        #expect(throws: JSONParseError(.tooDeep, offset: 2)) { try parse("[[[]]]", maxDepth: 2) }
        // Far deeper than any stack would survive if the limit were not checked.
        #expect(parseError(String(repeating: "[", count: 1_000_000)) == JSONParseError(.tooDeep, offset: 32))
    }

    @Test func aDuplicateAmongManyKeysIsFound() {
        let members = (0..<20_000).map { "\"k\($0)\": \($0)" }.joined(separator: ", ")
        let document = "{" + members + #", "k19999": 0}"#
        #expect(parseError(document) == JSONParseError(.duplicateKey, offset: document.utf8.count - 12))
    }

    @Test func errorsNeverQuoteTheInput() {
        let error = parseError(#"{"secret": "hunter2", }"#)
        let description = error.map(String.init(describing:)) ?? ""
        #expect(description == "trailing comma at byte 20")
    }

    /// Mutated documents, from a seeded generator so that a failure replays: the parser
    /// never traps, and it accepts nothing that Foundation's more lenient parser refuses.
    @Test func mutatedDocumentsAcceptedAreAcceptedByFoundationToo() throws {
        var rng = SeededGenerator(seed: 0x75_0B1E)
        let base = Array(try #require(validDocuments.last).utf8)
        var acceptedOnlyByUs: [[UInt8]] = []
        for _ in 0..<20_000 {
            var bytes = base
            for _ in 0..<Int.random(in: 1...3, using: &rng) {
                let position = Int.random(in: 0..<bytes.count, using: &rng)
                if Bool.random(using: &rng) {
                    bytes[position] = UInt8.random(in: 0...255, using: &rng)
                } else {
                    bytes.insert(UInt8.random(in: 0...127, using: &rng), at: position)
                }
            }
            if (try? JSONValue.parse(bytes)) != nil, (try? JSONSerialization.jsonObject(with: Data(bytes), options: .fragmentsAllowed)) == nil {
                acceptedOnlyByUs.append(bytes)
            }
        }
        #expect(acceptedOnlyByUs.isEmpty, "\(acceptedOnlyByUs.prefix(3).map { String(decoding: $0, as: UTF8.self) })")
    }
}
