import Foundation
import Testing
@testable import SwitchboardCore

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
        ("source", IngestError.Code.missingField, "source"),
        ("source.platform", .missingField, "source.platform"),
        ("source.account", .missingField, "source.account"),
        ("source.external_id", .missingField, "source.external_id"),
        ("author", .missingField, "author"),
        ("author.handle", .missingField, "author.handle"),
        ("text", .missingField, "text"),
        ("captured_at", .missingField, "captured_at"),
    ])
    func missingFieldsAreNamed(_ path: String, _ code: IngestError.Code, _ field: String) {
        let envelope = setting(sampleEnvelope(), path, nil)
        #expect(throws: IngestError.self) { try decoder.decode(json(envelope)) }
        do { _ = try decoder.decode(json(envelope)) } catch {
            #expect(error.code == code)
            #expect(error.field == field)
        }
    }

    /// Each case sets one field to a value given as JSON text.
    @Test(arguments: [
        ("source.platform", #""tiktok""#, IngestError.Code.unknownPlatform, "source.platform"),
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
        ("id", #""0190e5c2-0000-7000-8000-000000000000""#, .brokerField, "id"),
        ("received_at", #""2026-11-22T09:30:00Z""#, .brokerField, "received_at"),
    ])
    func badValuesAreRejectedWithTheirField(_ path: String, _ valueJSON: String, _ code: IngestError.Code, _ field: String) throws {
        let value = try JSONSerialization.jsonObject(with: Data(valueJSON.utf8), options: .fragmentsAllowed)
        let envelope = setting(sampleEnvelope(), path, value)
        do {
            _ = try decoder.decode(json(envelope))
            Issue.record("\(path) = \(valueJSON) was accepted")
        } catch {
            #expect(error.code == code, "\(error)")
            #expect(error.field == field)
            #expect(error.message.contains(field.split(separator: "[").first.map(String.init) ?? field))
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

    @Test func randomBytesNeverCrashTheDecoder() {
        var rng = SystemRandomNumberGenerator()
        let valid = json(sampleEnvelope())
        for _ in 0..<2_000 {
            var bytes = valid
            // Truncate, flip or splice random bytes.
            switch rng.next() % 3 {
            case 0: bytes = Array(bytes.prefix(Int(rng.next() % UInt64(bytes.count))))
            case 1: for _ in 0..<4 { bytes[Int(rng.next() % UInt64(bytes.count))] = UInt8.random(in: 0...255, using: &rng) }
            default: bytes.insert(UInt8.random(in: 0...255, using: &rng), at: Int(rng.next() % UInt64(bytes.count)))
            }
            _ = try? decoder.decode(bytes)
        }
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
}
