import Foundation

/// The social platforms an inquiry can come from.
public enum Platform: String, CaseIterable, Codable, Sendable {
    case facebook, x, instagram, mastodon, youtube, linkedin, whatsapp, web, email, bluesky
}

/// How urgent an inquiry is; the department queue serves higher priorities first.
public enum Priority: String, CaseIterable, Codable, Sendable, Comparable {
    case urgent, high, normal, low

    /// 0 is served first.
    public var rank: Int {
        switch self {
        case .urgent: 0
        case .high: 1
        case .normal: 2
        case .low: 3
        }
    }

    public init?(rank: Int) {
        guard let match = Self.allCases.first(where: { $0.rank == rank }) else { return nil }
        self = match
    }

    public static func < (a: Priority, b: Priority) -> Bool { a.rank > b.rank }
}

/// Where a geographic point or place is: coordinates, an address, or both.
public struct Geo: Codable, Sendable, Equatable {
    public var lat: Double?
    public var lon: Double?
    public var address: String?

    public init(lat: Double? = nil, lon: Double? = nil, address: String? = nil) {
        self.lat = lat
        self.lon = lon
        self.address = address
    }
}

/// The inquiry envelope (see `Protocols/2-inquiry-envelope.md`): what a capture gateway
/// submits to `sb.ingest`, plus the two fields the broker sets, `id` and `received_at`.
public struct Inquiry: Codable, Sendable, Equatable {
    public struct Source: Codable, Sendable, Equatable {
        public var platform: Platform
        /// The official account the post was addressed to or posted under.
        public var account: String
        /// The platform's own id for the post or message: with `platform`, the
        /// deduplication key.
        public var externalID: String
        public var url: String?
        public var inReplyTo: String?
        public var thread: String?

        enum CodingKeys: String, CodingKey {
            case platform, account, url, thread
            case externalID = "external_id"
            case inReplyTo = "in_reply_to"
        }

        public init(platform: Platform, account: String, externalID: String, url: String? = nil, inReplyTo: String? = nil, thread: String? = nil) {
            self.platform = platform
            self.account = account
            self.externalID = externalID
            self.url = url
            self.inReplyTo = inReplyTo
            self.thread = thread
        }
    }

    public struct Author: Codable, Sendable, Equatable {
        public var handle: String
        public var displayName: String?

        enum CodingKeys: String, CodingKey {
            case handle
            case displayName = "display_name"
        }

        public init(handle: String, displayName: String? = nil) {
            self.handle = handle
            self.displayName = displayName
        }
    }

    /// A citizen who edits or deletes a post: the envelope names the post
    /// (`source.external_id`) and changes the inquiry it became; it is never a new one.
    public struct Change: Codable, Sendable, Equatable {
        public enum Kind: String, Codable, Sendable {
            case edited, deleted
        }

        public var kind: Kind
        /// Which edit this is (the platform's edit count or time): the same edit sent
        /// twice is recorded once.
        public var revision: String

        public init(kind: Kind, revision: String) {
            self.kind = kind
            self.revision = revision
        }
    }

    public var id: InquiryID?
    public var source: Source
    /// Present when the envelope edits or deletes a post already sent.
    public var change: Change?
    public var author: Author
    public var text: String
    public var language: String?
    public var geo: Geo?
    public var media: [String]?
    /// When the capture gateway saw the post (ISO 8601).
    public var capturedAt: String
    /// When the broker accepted it (ISO 8601), set by the broker.
    public var receivedAt: String?

    enum CodingKeys: String, CodingKey {
        case id, source, author, text, language, geo, media, change
        case capturedAt = "captured_at"
        case receivedAt = "received_at"
    }

    public init(
        id: InquiryID? = nil, source: Source, author: Author, text: String, language: String? = nil,
        geo: Geo? = nil, media: [String]? = nil, capturedAt: String, receivedAt: String? = nil, change: Change? = nil
    ) {
        self.change = change
        self.id = id
        self.source = source
        self.author = author
        self.text = text
        self.language = language
        self.geo = geo
        self.media = media
        self.capturedAt = capturedAt
        self.receivedAt = receivedAt
    }

    /// The deduplication key: the same post seen twice has the same key.
    public var deduplicationKey: DeduplicationKey {
        DeduplicationKey(platform: source.platform, externalID: source.externalID)
    }
}

public struct DeduplicationKey: Hashable, Sendable {
    public var platform: Platform
    public var externalID: String

    public init(platform: Platform, externalID: String) {
        self.platform = platform
        self.externalID = externalID
    }
}
