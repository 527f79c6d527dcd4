import Foundation

/// Turns a gateway's JSON into a validated ``Inquiry``, or an ``IngestError`` that names
/// the field at fault. Nothing partial ever comes out: an envelope is valid as a whole
/// or rejected.
///
/// It walks the parsed JSON by hand rather than through `Codable`, because a gateway
/// developer needs `source.platform: unknown platform "tiktok"`, not a coding path.
public struct EnvelopeDecoder: Sendable {
    /// The longest `text` accepted, in characters.
    public var maxTextLength: Int

    public init(maxTextLength: Int = 5_000) {
        self.maxTextLength = maxTextLength
    }

    public func decode(_ bytes: [UInt8]) throws(IngestError) -> Inquiry {
        let object: [String: Any]
        do {
            guard let parsed = try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any] else {
                throw IngestError(.invalidJSON, field: nil, "the body must be a JSON object")
            }
            object = parsed
        } catch let error as IngestError {
            throw error
        } catch {
            throw IngestError(.invalidJSON, field: nil, "the body is not valid JSON")
        }
        var root = Fields(object, path: "")
        for field in ["id", "received_at"] where root.has(field) {
            throw IngestError(.brokerField, field: field, "\(field) is set by the broker; leave it out")
        }
        var sourceFields = try root.object("source")
        let platformName = try sourceFields.string("platform")
        guard let platform = Platform(rawValue: platformName) else {
            throw IngestError(.unknownPlatform, field: "source.platform",
                              "source.platform \"\(platformName)\" is not a known platform; expected one of \(Platform.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        let source = Inquiry.Source(
            platform: platform,
            account: try sourceFields.string("account"),
            externalID: try sourceFields.string("external_id"),
            url: try sourceFields.optionalURL("url"),
            inReplyTo: try sourceFields.optionalString("in_reply_to"),
            thread: try sourceFields.optionalString("thread")
        )
        try sourceFields.rejectUnknown()

        var authorFields = try root.object("author")
        let author = Inquiry.Author(handle: try authorFields.string("handle"), displayName: try authorFields.optionalString("display_name"))
        try authorFields.rejectUnknown()

        let text = try root.string("text")
        guard text.count <= maxTextLength else {
            throw IngestError(.textTooLong, field: "text", "text has \(text.count) characters; the limit is \(maxTextLength)")
        }
        let language = try root.optionalString("language")
        if let language, !Self.isLanguageTag(language) {
            throw IngestError(.invalidValue, field: "language", "language must be a BCP 47 tag such as \"en\" or \"fr-BE\"")
        }
        let geo = try root.optionalObject("geo").map { fields throws(IngestError) -> Geo in
            var fields = fields
            let geo = Geo(lat: try fields.optionalNumber("lat"), lon: try fields.optionalNumber("lon"), address: try fields.optionalString("address"))
            try fields.rejectUnknown()
            return try Self.validate(geo)
        }
        let media = try root.optionalStringArray("media")
        for (index, url) in (media ?? []).enumerated() where !Self.isURL(url) {
            throw IngestError(.invalidValue, field: "media[\(index)]", "media[\(index)] must be an http(s) URL")
        }
        let capturedAt = try root.string("captured_at")
        guard Self.timestamp(capturedAt) != nil else {
            throw IngestError(.invalidValue, field: "captured_at", "captured_at must be an ISO 8601 time such as 2026-11-22T09:30:00Z")
        }
        try root.rejectUnknown()
        return Inquiry(source: source, author: author, text: text, language: language, geo: geo, media: media, capturedAt: capturedAt)
    }

    static func validate(_ geo: Geo) throws(IngestError) -> Geo {
        switch (geo.lat, geo.lon) {
        case (nil, nil):
            guard geo.address != nil else { throw IngestError(.invalidValue, field: "geo", "geo needs lat and lon, or an address") }
        case (let lat?, let lon?):
            guard (-90...90).contains(lat) else { throw IngestError(.invalidValue, field: "geo.lat", "geo.lat must be between -90 and 90") }
            guard (-180...180).contains(lon) else { throw IngestError(.invalidValue, field: "geo.lon", "geo.lon must be between -180 and 180") }
        default:
            throw IngestError(.invalidValue, field: geo.lat == nil ? "geo.lat" : "geo.lon", "geo.lat and geo.lon go together")
        }
        return geo
    }

    static func isLanguageTag(_ tag: String) -> Bool {
        let parts = tag.split(separator: "-", omittingEmptySubsequences: false)
        guard let first = parts.first, (2...3).contains(first.count), first.allSatisfy({ $0.isASCII && $0.isLetter }) else { return false }
        return parts.dropFirst().allSatisfy { (1...8).contains($0.count) && $0.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber) } }
    }

    static func isURL(_ text: String) -> Bool {
        guard let url = URL(string: text), let scheme = url.scheme?.lowercased(), url.host != nil else { return false }
        return scheme == "http" || scheme == "https"
    }

    /// Parses an ISO 8601 time with or without fractional seconds.
    public static func timestamp(_ text: String) -> Date? {
        if let date = try? Date.ISO8601FormatStyle().parse(text) { return date }
        return try? Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse(text)
    }
}

/// A JSON object being read field by field; remembers which keys were read so that the
/// rest can be reported as unknown.
private struct Fields {
    let values: [String: Any]
    let path: String
    var seen: Set<String> = []

    init(_ values: [String: Any], path: String) {
        self.values = values
        self.path = path
    }

    func name(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    func has(_ key: String) -> Bool { values[key] != nil }

    /// The value, or nil when absent or JSON null.
    mutating func value(_ key: String) -> Any? {
        seen.insert(key)
        guard let value = values[key], !(value is NSNull) else { return nil }
        return value
    }

    mutating func optionalString(_ key: String) throws(IngestError) -> String? {
        guard let value = value(key) else { return nil }
        guard let string = value as? String else { throw IngestError(.invalidType, field: name(key), "\(name(key)) must be a string") }
        guard !string.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
            throw IngestError(.invalidValue, field: name(key), "\(name(key)) must not be empty")
        }
        return string
    }

    mutating func string(_ key: String) throws(IngestError) -> String {
        guard let string = try optionalString(key) else { throw IngestError(.missingField, field: name(key), "\(name(key)) is required") }
        return string
    }

    mutating func optionalURL(_ key: String) throws(IngestError) -> String? {
        guard let url = try optionalString(key) else { return nil }
        guard EnvelopeDecoder.isURL(url) else { throw IngestError(.invalidValue, field: name(key), "\(name(key)) must be an http(s) URL") }
        return url
    }

    mutating func optionalNumber(_ key: String) throws(IngestError) -> Double? {
        guard let value = value(key) else { return nil }
        // Foundation bridges JSON booleans to a boolean NSNumber subclass, and `is Bool`
        // holds for any 0 or 1, so the class name is the reliable test.
        guard let number = value as? NSNumber, !String(describing: type(of: value)).contains("Boolean") else {
            throw IngestError(.invalidType, field: name(key), "\(name(key)) must be a number")
        }
        return number.doubleValue
    }

    mutating func optionalStringArray(_ key: String) throws(IngestError) -> [String]? {
        guard let value = value(key) else { return nil }
        guard let array = value as? [Any], case let strings = array.compactMap({ $0 as? String }), strings.count == array.count else {
            throw IngestError(.invalidType, field: name(key), "\(name(key)) must be an array of strings")
        }
        return strings
    }

    mutating func optionalObject(_ key: String) throws(IngestError) -> Fields? {
        guard let value = value(key) else { return nil }
        guard let object = value as? [String: Any] else { throw IngestError(.invalidType, field: name(key), "\(name(key)) must be an object") }
        return Fields(object, path: name(key))
    }

    mutating func object(_ key: String) throws(IngestError) -> Fields {
        guard let fields = try optionalObject(key) else { throw IngestError(.missingField, field: name(key), "\(name(key)) is required") }
        return fields
    }

    func rejectUnknown() throws(IngestError) {
        if let extra = values.keys.filter({ !seen.contains($0) }).sorted().first {
            throw IngestError(.unknownField, field: name(extra), "\(name(extra)) is not an envelope field")
        }
    }
}
