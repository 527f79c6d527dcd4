import Foundation
import Testing
@testable import SwitchboardCore
import SwitchboardProtocol
import TestSupport

/// A valid envelope, as a dictionary the tests bend into each kind of bad input.
func sampleEnvelope(externalID: String = "1790000000000000001", text: String = "The bin on Elm Street was not collected") -> [String: Any] {
    [
        "source": ["platform": "x", "account": "@RivertonCity", "external_id": externalID, "url": "https://x.com/someone/status/1"],
        "author": ["handle": "@someone", "display_name": "Some One"],
        "text": text,
        "language": "en",
        "geo": ["lat": 51.51, "lon": -0.12],
        "media": ["https://example.org/photo.jpg"],
        "captured_at": "2026-11-22T09:30:00Z",
    ]
}

/// The sample envelope as fixed text: `JSONSerialization` writes keys in a different
/// order in each process, and byte offsets and seeded random cases must replay.
let sampleEnvelopeText = #"{"source": {"platform": "x", "account": "@RivertonCity", "external_id": "1790000000000000001", "url": "https://x.com/someone/status/1"}, "author": {"handle": "@someone", "display_name": "Some One"}, "text": "The bin on Elm Street was not collected", "language": "en", "geo": {"lat": 51.51, "lon": -0.12}, "media": ["https://example.org/photo.jpg"], "captured_at": "2026-11-22T09:30:00Z"}"#

func json(_ object: [String: Any]) -> [UInt8] {
    Array(try! JSONSerialization.data(withJSONObject: object))
}

func setting(_ object: [String: Any], _ path: String, _ value: Any?) -> [String: Any] {
    var object = object
    let parts = path.split(separator: ".").map(String.init)
    if parts.count == 1 {
        object[parts[0]] = value
    } else {
        object[parts[0]] = setting(object[parts[0]] as? [String: Any] ?? [:], parts.dropFirst().joined(separator: "."), value)
    }
    return object
}

@Suite struct EnvelopeDecoderTests {
    let decoder = EnvelopeDecoder(maxTextLength: 100)

    @Test func validEnvelopeDecodes() throws {
        let inquiry = try decoder.decode(json(sampleEnvelope()))
        #expect(inquiry.source.platform == .x)
        #expect(inquiry.source.externalID == "1790000000000000001")
        #expect(inquiry.author.displayName == "Some One")
        #expect(inquiry.geo == Geo(lat: 51.51, lon: -0.12))
        #expect(inquiry.id == nil && inquiry.receivedAt == nil)
    }

    @Test func optionalFieldsMayBeOmittedOrNull() throws {
        var minimal = sampleEnvelope()
        for key in ["language", "geo", "media"] { minimal[key] = nil }
        minimal = setting(minimal, "source.url", NSNull())
        minimal = setting(minimal, "author.display_name", nil)
        #expect(try decoder.decode(json(minimal)).language == nil)
    }

    @Test(arguments: [
        ("source", ErrorCode.missingField, "source"),
        ("source.platform", .missingField, "source.platform"),
        ("source.account", .missingField, "source.account"),
        ("source.external_id", .missingField, "source.external_id"),
        ("author", .missingField, "author"),
        ("author.handle", .missingField, "author.handle"),
        ("text", .missingField, "text"),
        ("captured_at", .missingField, "captured_at"),
    ])
    func missingFieldsAreNamed(_ path: String, _ code: ErrorCode, _ field: String) {
        let envelope = setting(sampleEnvelope(), path, nil)
        #expect(throws: IngestError.self) { try decoder.decode(json(envelope)) }
        do { _ = try decoder.decode(json(envelope)) } catch {
            #expect(error.code == code)
            #expect(error.field == field)
        }
    }

    /// Each case sets one field to a value given as JSON text.
    @Test(arguments: [
        ("source.platform", #""tiktok""#, ErrorCode.unknownPlatform, "source.platform"),
        ("text", "42", .invalidType, "text"),
        ("text", #""   ""#, .invalidValue, "text"),
        ("source", #""x""#, .invalidType, "source"),
        ("geo.lat", "91.0", .invalidValue, "geo.lat"),
        ("geo.lon", #""west""#, .invalidType, "geo.lon"),
        ("geo.lat", "true", .invalidType, "geo.lat"),
        ("media", #"["not a url"]"#, .invalidValue, "media[0]"),
        ("media", "[1, 2]", .invalidType, "media"),
        ("source.url", #""ftp://x.org/file""#, .invalidValue, "source.url"),
        ("language", #""english!""#, .invalidValue, "language"),
        ("captured_at", #""yesterday""#, .invalidValue, "captured_at"),
        ("colour", #""blue""#, .unknownField, "colour"),
        ("source.likes", "3", .unknownField, "source.likes"),
        ("id", #""0190e5c2-0000-7000-8000-000000000000""#, .fieldSetByBroker, "id"),
        ("received_at", #""2026-11-22T09:30:00Z""#, .fieldSetByBroker, "received_at"),
    ])
    func badValuesAreRejectedWithTheirField(_ path: String, _ valueJSON: String, _ code: ErrorCode, _ field: String) throws {
        let value = try JSONSerialization.jsonObject(with: Data(valueJSON.utf8), options: .fragmentsAllowed)
        let envelope = setting(sampleEnvelope(), path, value)
        do {
            _ = try decoder.decode(json(envelope))
            Issue.record("\(path) = \(valueJSON) was accepted")
        } catch {
            #expect(error.code == code, "\(error)")
            #expect(error.field == field)
            #expect(error.message.contains(field.split(separator: "[").first.map(String.init) ?? field))
            // Values are citizen data: no message repeats one (short ones could match by chance).
            let strings = (value as? String).map { [$0] } ?? (value as? [Any])?.compactMap { $0 as? String } ?? []
            for string in strings where string.count >= 4 {
                #expect(!error.message.contains(string), "\(error.message)")
            }
        }
    }

    /// A NUL character (`\u0000`) in any string is refused with the field's name: no
    /// platform sends one, and PostgreSQL's text columns cannot store it.
    @Test(arguments: ["source.external_id", "author.handle", "text"]) func aNULCharacterIsRefused(_ field: String) {
        let envelope = setting(sampleEnvelope(), field, "before\u{0}after")
        #expect(throws: IngestError(.invalidValue, field: field, "\(field) must not contain the NUL character (\\u0000)")) {
            try EnvelopeDecoder().decode(json(envelope))
        }
    }

    @Test func textOverTheLimitIsRejected() {
        let envelope = sampleEnvelope(text: String(repeating: "é", count: 101))
        #expect(throws: IngestError(.textTooLong, field: "text", "text has 101 characters; the limit is 100")) {
            try decoder.decode(json(envelope))
        }
        #expect((try? decoder.decode(json(sampleEnvelope(text: String(repeating: "é", count: 100))))) != nil)
    }

    @Test(arguments: [Array("not json".utf8), Array("[1,2]".utf8), Array("\"text\"".utf8), [], [0xFF, 0xFE]])
    func nonObjectsAreInvalidJSON(_ bytes: [UInt8]) {
        do {
            _ = try decoder.decode(bytes)
            Issue.record("accepted \(bytes)")
        } catch {
            #expect(error.code == .invalidJSON)
        }
    }

    @Test func theFixedSampleTextIsTheSampleEnvelope() throws {
        #expect(try decoder.decode(Array(sampleEnvelopeText.utf8)) == decoder.decode(json(sampleEnvelope())))
    }

    @Test(arguments: [
        sampleEnvelopeText.replacingOccurrences(of: #""captured_at": "2026-11-22T09:30:00Z"}"#, with: #""captured_at": "2026-11-22T09:30:00Z",}"#),
        sampleEnvelopeText.replacingOccurrences(of: "-0.12}", with: "-0.12, }"),
        sampleEnvelopeText.replacingOccurrences(of: #"photo.jpg"]"#, with: #"photo.jpg",]"#),
    ])
    func trailingCommasAreInvalidJSON(_ text: String) {
        do {
            _ = try decoder.decode(Array(text.utf8))
            Issue.record("a trailing comma was accepted")
        } catch {
            #expect(error.code == .invalidJSON)
            #expect(error.field == nil)
            #expect(error.message.hasPrefix("the body must be one UTF-8 JSON object: trailing comma at byte "), "\(error.message)")
        }
    }

    @Test func invalidJSONNamesTheByteOffsetAndNotTheContent() {
        #expect(throws: IngestError(.invalidJSON, field: nil, "the body must be one UTF-8 JSON object: trailing comma at byte 12")) {
            try decoder.decode(Array(#"{"text": "x",}"#.utf8))
        }
        do {
            _ = try decoder.decode(Array(#"{"text": "my secret words" oops}"#.utf8))
            Issue.record("accepted")
        } catch {
            #expect(error.message == "the body must be one UTF-8 JSON object: expected ',' or a closing bracket at byte 27")
        }
    }

    /// UTF-16 in either byte order, with its byte-order mark and without.
    @Test(arguments: [[UInt8](), [0xFF, 0xFE], [0xFE, 0xFF]], [false, true])
    func utf16IsInvalidJSON(_ byteOrderMark: [UInt8], _ bigEndian: Bool) {
        let units = sampleEnvelopeText.utf16.flatMap { unit in
            bigEndian ? [UInt8(unit >> 8), UInt8(truncatingIfNeeded: unit)] : [UInt8(truncatingIfNeeded: unit), UInt8(unit >> 8)]
        }
        do {
            _ = try decoder.decode(byteOrderMark + units)
            Issue.record("UTF-16 was accepted")
        } catch {
            #expect(error.code == .invalidJSON)
            #expect(error.message.contains("UTF-8"))
        }
    }

    /// One letter and 300,000 combining accents is one character but 600 kB: refused by
    /// the byte limit, by the scalar count when the byte limit is lifted, and before
    /// parsing by the envelope limit when that one is not raised.
    @Test func combiningMarksCannotStretchTheTextLimit() {
        let text = "a" + String(repeating: "\u{0301}", count: 300_000)
        #expect(text.count == 1)
        let envelope = json(sampleEnvelope(text: text))
        let byBytes = EnvelopeDecoder(maxTextLength: 5_000, maxEnvelopeBytes: 1 << 20)
        #expect(throws: IngestError(.textTooLong, field: "text", "text has 600001 bytes of UTF-8; the limit is 20000")) {
            try byBytes.decode(envelope)
        }
        let byScalars = EnvelopeDecoder(maxTextLength: 5_000, maxTextBytes: .max, maxEnvelopeBytes: 1 << 20)
        #expect(throws: IngestError(.textTooLong, field: "text", "text has 300001 Unicode scalars; the limit is 5000")) {
            try byScalars.decode(envelope)
        }
        do {
            _ = try EnvelopeDecoder().decode(envelope)
            Issue.record("accepted")
        } catch {
            #expect(error.code == .tooLarge)
        }
    }

    @Test func textIsLimitedInScalarsAndBytesAsWellAsCharacters() {
        let marks = "a" + String(repeating: "\u{0301}", count: 150)
        #expect(throws: IngestError(.textTooLong, field: "text", "text has 151 Unicode scalars; the limit is 100")) {
            try decoder.decode(json(sampleEnvelope(text: marks)))
        }
        let tight = EnvelopeDecoder(maxTextLength: 100, maxTextBytes: 150)
        #expect(tight.maxTextBytes == 150 && decoder.maxTextBytes == 400)
        #expect(throws: IngestError(.textTooLong, field: "text", "text has 160 bytes of UTF-8; the limit is 150")) {
            try tight.decode(json(sampleEnvelope(text: String(repeating: "é", count: 80))))
        }
        #expect((try? tight.decode(json(sampleEnvelope(text: String(repeating: "é", count: 75))))) != nil)
    }

    @Test func envelopesOver64KiBAreTooLarge() throws {
        let defaults = EnvelopeDecoder()
        #expect(defaults.maxEnvelopeBytes == 65_536)
        let padded = sampleEnvelopeText + String(repeating: " ", count: 65_536 - sampleEnvelopeText.utf8.count)
        #expect(try defaults.decode(Array(padded.utf8)).source.externalID == "1790000000000000001")
        #expect(throws: IngestError(.tooLarge, field: nil, "the envelope is 65537 bytes; the limit is 65536")) {
            try defaults.decode(Array((padded + " ").utf8))
        }
        #expect(throws: IngestError.self) { try defaults.decode(json(sampleEnvelope(text: String(repeating: "a", count: 70_000)))) }
    }

    @Test func anUnknownPlatformIsNamedButNotQuoted() {
        do {
            _ = try decoder.decode(json(setting(sampleEnvelope(), "source.platform", "tiktok-secret")))
            Issue.record("accepted")
        } catch {
            #expect(error.code == .unknownPlatform)
            #expect(error.field == "source.platform")
            #expect(error.message.hasPrefix("source.platform is not a known platform; expected one of facebook, x,"))
            #expect(!error.message.contains("tiktok"))
        }
    }

    /// 100,000 cases from a seeded generator, so that a failure replays: random bytes,
    /// truncations of a valid envelope, valid prefixes with a random tail, and valid
    /// envelopes with bytes changed or inserted. Typed throws already make every outcome
    /// an Inquiry or an IngestError; what is checked is that nothing traps, that every
    /// rejection carries a known code and a message, and that what is accepted is valid.
    @Test func randomisedInputIsAcceptedOrRejectedAndNeverCrashes() {
        let knownCodes: Set<ErrorCode> = [
            .invalidJSON, .missingField, .invalidType, .unknownField, .invalidValue,
            .unknownPlatform, .textTooLong, .fieldSetByBroker, .tooLarge,
        ]
        var rng = SeededGenerator(seed: 0xE17E_1095)
        let valid = Array(sampleEnvelopeText.utf8)
        var accepted = 0
        var problems: [String] = []
        for _ in 0..<100_000 {
            do {
                let inquiry = try decoder.decode(randomCase(from: valid, using: &rng))
                accepted += 1
                if inquiry.text.unicodeScalars.count > decoder.maxTextLength { problems.append("accepted an over-long text") }
            } catch {
                if !knownCodes.contains(error.code) || error.message.isEmpty { problems.append("\(error)") }
            }
        }
        #expect(problems.isEmpty, "\(problems.prefix(3))")
        #expect(accepted > 0)
    }
}

/// One randomised decoder input derived from a valid envelope.
private func randomCase(from valid: [UInt8], using rng: inout SeededGenerator) -> [UInt8] {
    /// Bytes that matter to JSON, so that random text gets past the first byte now and then.
    let jsonBytes = Array(#"{}[]":,\ 0123456789.-+eEtrufalsn"#.utf8)
    var tail: [UInt8] = []
    for _ in 0..<Int.random(in: 0..<48, using: &rng) {
        tail.append(Bool.random(using: &rng) ? UInt8.random(in: 0...255, using: &rng) : jsonBytes.randomElement(using: &rng) ?? 0)
    }
    let cut = Int.random(in: 0..<valid.count, using: &rng)
    var bytes = valid
    switch Int.random(in: 0..<5, using: &rng) {
    case 0: return tail
    case 1: return Array(valid.prefix(cut))
    case 2: return Array(valid.prefix(cut)) + tail
    case 3:
        for _ in 0..<Int.random(in: 1...4, using: &rng) {
            bytes[Int.random(in: 0..<bytes.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
        }
        return bytes
    default:
        bytes.insert(UInt8.random(in: 0...255, using: &rng), at: cut)
        return bytes
    }
}

@Suite struct InquiryIDTests {
    @Test func idsAreTimeOrderedUUIDv7() {
        var rng = SystemRandomNumberGenerator()
        let early = InquiryID.generate(milliseconds: 1_000, using: &rng)
        let late = InquiryID.generate(milliseconds: 2_000, using: &rng)
        #expect(early < late)
        let text = early.description
        #expect(text.count == 36)
        #expect(Array(text)[14] == "7")
        #expect(InquiryID(text) == early)
        #expect(InquiryID("not-a-uuid") == nil)
    }

    /// Ids of the same millisecond, past several refills of the random pool, are all
    /// different, and each is a UUIDv7 of that millisecond with RFC 9562's variant.
    @Test func idsOfOneMillisecondDrawFreshBitsAcrossRefills() {
        let at = Date(timeIntervalSince1970: 1_780_000_000.123)
        let ids = (0..<3 * RandomPool.words).map { _ in InquiryID.generate(at: at) }
        #expect(Set(ids).count == ids.count)
        #expect(Set(ids.map(\.low)).count == ids.count)
        for id in ids {
            #expect(id.high >> 16 == 1_780_000_000_123)
            #expect((id.high >> 12) & 0xF == 7)
            #expect(id.low >> 62 == 0b10)
        }
    }

    @Test func aRandomPoolGivesNoWordTwiceAcrossARefill() {
        var pool = RandomPool()
        let words = (0..<2 * RandomPool.words + 1).map { _ in pool.next() }
        #expect(Set(words).count == words.count)
    }
}
