import Foundation

/// The normalised form of a citizen's handle that erasure requests are matched on:
/// case-folded, without a leading `@`.
public enum CitizenHandle {
    public static func normalized(_ handle: String) -> String {
        var handle = handle
        // Nearly every handle is ASCII: trimmed and lowered byte by byte, as the v7
        // migration's SQL (trim, ltrim '@', lower) does, at a tenth of the cost.
        if let ascii = handle.withUTF8({ bytes -> String? in
            guard bytes.allSatisfy({ $0 < 0x80 }) else { return nil }
            var start = bytes.startIndex, end = bytes.endIndex
            while start < end, bytes[start] == 0x20 || bytes[start] == 0x09 { start += 1 }
            while end > start, bytes[end - 1] == 0x20 || bytes[end - 1] == 0x09 { end -= 1 }
            while start < end, bytes[start] == UInt8(ascii: "@") { start += 1 }
            return String(decoding: bytes[start..<end].map { (0x41...0x5A).contains($0) ? $0 | 0x20 : $0 }, as: UTF8.self)
        }) {
            return ascii
        }
        return String(handle.trimmingCharacters(in: .whitespaces).drop { $0 == "@" }).lowercased()
    }
}

/// One identity a citizen writes from: a platform and a handle there, normalised (`x:@Ana_R`
/// and `x:ana_r` are one). Linked identities are one citizen (see
/// Protocols/7-data-protection.md, "One citizen across channels").
public struct CitizenIdentity: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let platform: Platform
    /// Normalised by ``CitizenHandle/normalized(_:)``.
    public let handle: String

    public init(platform: Platform, handle: String) {
        self.platform = platform
        // A WhatsApp author is their number as the platform sends it, digits only
        // (`34600123456`): `+34 600 123 456` is the same person.
        let normalized = CitizenHandle.normalized(handle)
        self.handle = platform == .whatsapp && normalized.contains(where: \.isNumber) ? normalized.filter(\.isNumber) : normalized
    }

    /// An identity as a store holds it, normalised when it was written: normalising
    /// again could change it (`@ ana` is ` ana` once, `ana` twice).
    public init(platform: Platform, normalizedHandle: String) {
        self.platform = platform
        handle = normalizedHandle
    }

    /// `PLATFORM:HANDLE`, as agents type it (`x:@ana_r`, `facebook:1234`); the reason when
    /// it is not one.
    public static func parse(_ text: String) -> Result<CitizenIdentity, CitizenIdentityError> {
        guard let colon = text.firstIndex(of: ":") else { return .failure(.init("must be PLATFORM:HANDLE, such as x:@resident")) }
        guard let platform = Platform(rawValue: String(text[..<colon]).lowercased()) else {
            return .failure(.init("the platform is not one of \(Platform.allCases.map(\.rawValue).joined(separator: ", "))"))
        }
        let identity = CitizenIdentity(platform: platform, handle: String(text[text.index(after: colon)...]))
        guard !identity.handle.isEmpty else { return .failure(.init("the handle is empty")) }
        guard !identity.handle.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            return .failure(.init("the handle holds a control character; copy it as the platform shows it"))
        }
        return .success(identity)
    }

    public var description: String { "\(platform.rawValue):\(handle)" }

    public static func < (a: CitizenIdentity, b: CitizenIdentity) -> Bool {
        (a.platform.rawValue, a.handle) < (b.platform.rawValue, b.handle)
    }
}

public struct CitizenIdentityError: Error, Equatable, Sendable, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// A link between two identities of one citizen, as an agent made it: who, when, why.
public struct CitizenLink: Equatable, Sendable {
    /// The pair in order (`a < b`): a link is undirected and stored once.
    public let a: CitizenIdentity
    public let b: CitizenIdentity
    public var actor: String
    public var note: String
    public var at: Date

    public init(_ first: CitizenIdentity, _ second: CitizenIdentity, actor: String, note: String, at: Date) {
        (a, b) = first < second ? (first, second) : (second, first)
        self.actor = actor
        self.note = note
        self.at = at
    }
}

/// One entry of the link audit: a link made or removed. It names the identities by the
/// installation's keyed hash only (see ``CitizenLinkAudit/aHash``), so that an erasure
/// leaves it as it is but for the note, which it removes.
public struct CitizenLinkAudit: Equatable, Sendable {
    public enum Action: String, Sendable, CaseIterable { case link, unlink }
    public var at: Date
    public var actor: String
    public var action: Action
    public var aHash: String
    public var bHash: String
    /// The agent's reason; nil once an erasure of either identity removed it.
    public var note: String?

    public init(at: Date, actor: String, action: Action, aHash: String, bHash: String, note: String?) {
        self.at = at
        self.actor = actor
        self.action = action
        self.aHash = aHash
        self.bHash = bHash
        self.note = note
    }
}

/// The groups identities form through their links: what one citizen is. Pure, so the
/// store only reads links and the grouping is tested without one.
public enum CitizenGroup {
    /// Every identity `start` reaches through `links` (itself included), in order.
    public static func members(from start: CitizenIdentity, links: [(CitizenIdentity, CitizenIdentity)]) -> [CitizenIdentity] {
        var neighbours: [CitizenIdentity: [CitizenIdentity]] = [:]
        for (a, b) in links {
            neighbours[a, default: []].append(b)
            neighbours[b, default: []].append(a)
        }
        var seen: Set<CitizenIdentity> = [start], frontier = [start]
        while let next = frontier.popLast() {
            for other in neighbours[next] ?? [] where seen.insert(other).inserted { frontier.append(other) }
        }
        return seen.sorted()
    }
}
