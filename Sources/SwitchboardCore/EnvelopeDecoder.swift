import Foundation

/// Turns a gateway's JSON into a validated ``Inquiry``, or an ``IngestError`` that names
/// the field at fault. Nothing partial ever comes out: an envelope is valid as a whole
/// or rejected.
///
/// It walks the parsed ``JSONValue`` by hand rather than through `Codable`, because a
/// gateway developer needs `source.platform is not a known platform`, not a coding path.
/// Rejection messages name fields and never repeat their values: the values are a
/// citizen's words and handle, and a rejection may end up in a gateway's logs.
public struct EnvelopeDecoder: Sendable {
    /// The longest `text` accepted, in characters and also in Unicode scalars: a letter
    /// followed by thousands of combining marks is one character, and counting scalars
    /// keeps such a text from slipping past the limit.
    public var maxTextLength: Int
    /// The longest `text` accepted, in bytes of UTF-8. By default 4 × `maxTextLength`:
    /// no scalar takes more than four bytes, so the default never refuses a text that
    /// the scalar limit accepts, and it is checked first because it costs nothing.
    public var maxTextBytes: Int
    /// The largest envelope accepted, in bytes, checked before any parsing so that an
    /// oversized body costs the broker nothing.
    public var maxEnvelopeBytes: Int

    public init(maxTextLength: Int = 5_000, maxTextBytes: Int? = nil, maxEnvelopeBytes: Int = 65_536) {
        self.maxTextLength = maxTextLength
        self.maxTextBytes = maxTextBytes ?? 4 * maxTextLength
        self.maxEnvelopeBytes = maxEnvelopeBytes
    }

    public func decode(_ bytes: [UInt8]) throws(IngestError) -> Inquiry {
        var root = Fields(try envelopeMembers(bytes), path: "")
        for field in ["id", "received_at"] where root.has(field) {
            throw IngestError(.fieldSetByBroker, field: field, "\(field) is set by the broker; leave it out")
        }
        var sourceFields = try root.object("source")
        let platformName = try sourceFields.string("platform")
        guard let platform = Platform(rawValue: platformName) else {
            throw IngestError(.unknownPlatform, field: "source.platform",
                              "source.platform is not a known platform; expected one of \(Platform.allCases.map(\.rawValue).joined(separator: ", "))")
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
        try checkLength(of: text)
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
        let change = try root.optionalObject("change").map { fields throws(IngestError) -> Inquiry.Change in
            var fields = fields
            let kindName = try fields.string("kind")
            guard let kind = Inquiry.Change.Kind(rawValue: kindName) else {
                throw IngestError(.invalidValue, field: "change.kind", "change.kind must be edited or deleted")
            }
            let change = Inquiry.Change(kind: kind, revision: try fields.string("revision"))
            try fields.rejectUnknown()
            return change
        }
        try root.rejectUnknown()
        return Inquiry(source: source, author: author, text: text, language: language, geo: geo, media: media, capturedAt: capturedAt,
                       change: change)
    }

    /// The members of the envelope's top-level object. The size is checked before
    /// parsing; a parse error reports its byte offset and reason, never the input.
    private func envelopeMembers(_ bytes: [UInt8]) throws(IngestError) -> [(key: String, value: JSONValue)] {
        guard bytes.count <= maxEnvelopeBytes else {
            throw IngestError(.tooLarge, field: nil, "the envelope is \(bytes.count) bytes; the limit is \(maxEnvelopeBytes)")
        }
        let value: JSONValue
        do {
            value = try JSONValue.parse(bytes)
        } catch {
            throw IngestError(.invalidJSON, field: nil, "the body must be one UTF-8 JSON object: \(error)")
        }
        guard case .object(let members) = value else {
            throw IngestError(.invalidJSON, field: nil, "the body must be one UTF-8 JSON object")
        }
        return members
    }

    /// Checks `text` against the byte limit, then the scalar limit. A text within the
    /// scalar limit is within the character limit too (every character is one scalar
    /// or more), so characters, the costly count, are counted only to word a rejection.
    private func checkLength(of text: String) throws(IngestError) {
        let byteCount = text.utf8.count
        guard byteCount <= maxTextBytes else {
            throw IngestError(.textTooLong, field: "text", "text has \(byteCount) bytes of UTF-8; the limit is \(maxTextBytes)")
        }
        let scalarCount = text.unicodeScalars.count
        guard scalarCount > maxTextLength else { return }
        let characterCount = text.count
        guard characterCount <= maxTextLength else {
            throw IngestError(.textTooLong, field: "text", "text has \(characterCount) characters; the limit is \(maxTextLength)")
        }
        throw IngestError(.textTooLong, field: "text", "text has \(scalarCount) Unicode scalars; the limit is \(maxTextLength)")
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

/// A JSON object being read field by field; remembers which members were read so that
/// the rest can be reported as unknown.
private struct Fields {
    let members: [(key: String, value: JSONValue)]
    let path: String
    /// Parallel to `members`: whether each has been read.
    var read: [Bool]

    init(_ members: [(key: String, value: JSONValue)], path: String) {
        self.members = members
        self.path = path
        self.read = Array(repeating: false, count: members.count)
    }

    func name(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    /// Whether the key is present, even as null.
    func has(_ key: String) -> Bool { members.contains { $0.key == key } }

    /// The value, or nil when absent or JSON null.
    mutating func value(_ key: String) -> JSONValue? {
        guard let position = members.firstIndex(where: { $0.key == key }) else { return nil }
        read[position] = true
        let value = members[position].value
        return value.isNull ? nil : value
    }

    mutating func optionalString(_ key: String) throws(IngestError) -> String? {
        guard let value = value(key) else { return nil }
        guard let string = value.stringValue else { throw IngestError(.invalidType, field: name(key), "\(name(key)) must be a string") }
        // Stops at the first visible character rather than trimming a copy of the text.
        guard !string.unicodeScalars.allSatisfy(CharacterSet.whitespacesAndNewlines.contains) else {
            throw IngestError(.invalidValue, field: name(key), "\(name(key)) must not be empty")
        }
        // No platform sends it, and a database text column (PostgreSQL's) cannot hold it:
        // refused here, not stored somewhere and refused later in a retry loop.
        guard !string.utf8.contains(0) else {
            throw IngestError(.invalidValue, field: name(key), "\(name(key)) must not contain the NUL character (\\u0000)")
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
        guard let number = value.doubleValue else { throw IngestError(.invalidType, field: name(key), "\(name(key)) must be a number") }
        return number
    }

    mutating func optionalStringArray(_ key: String) throws(IngestError) -> [String]? {
        guard let value = value(key) else { return nil }
        guard let items = value.arrayValue, case let strings = items.compactMap(\.stringValue), strings.count == items.count else {
            throw IngestError(.invalidType, field: name(key), "\(name(key)) must be an array of strings")
        }
        return strings
    }

    mutating func optionalObject(_ key: String) throws(IngestError) -> Fields? {
        guard let value = value(key) else { return nil }
        guard let members = value.objectValue else { throw IngestError(.invalidType, field: name(key), "\(name(key)) must be an object") }
        return Fields(members, path: name(key))
    }

    mutating func object(_ key: String) throws(IngestError) -> Fields {
        guard let fields = try optionalObject(key) else { throw IngestError(.missingField, field: name(key), "\(name(key)) is required") }
        return fields
    }

    /// Reports the first member, in document order, that was never read.
    func rejectUnknown() throws(IngestError) {
        if let position = read.firstIndex(of: false) {
            let field = name(members[position].key)
            throw IngestError(.unknownField, field: field, "\(field) is not an envelope field")
        }
    }
}
