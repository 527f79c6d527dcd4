import Confusables
import Foundation

/// An account handle as the registry compares it.
///
/// - `normalized`: case-folded, Unicode NFKC, without a leading `@`, separators (`_`,
///   `.`, `-`) removed; on Mastodon `user@instance`, with the instance kept (the same
///   user name on another instance is another account).
/// - `skeleton`: the UTS #39 confusable skeleton of the normalized form, lower-cased, so
///   `0`/`o`, `1`/`l`/`I` and Cyrillic `а`/Latin `a` meet.
/// - `stem`: the skeleton without the affixes impostors add (`official`, `real`, `gov`,
///   `news`, `team`, `info`, digits) and with repeated letters collapsed.
public struct ChannelHandle: Sendable, Hashable {
    public let platform: Platform
    /// As the city wrote it, for display.
    public let display: String
    /// Case-folded, NFKC, without a leading `@` (Mastodon: `user@instance`): the account
    /// itself. `Riverton_City` and `RivertonCity` are two accounts.
    public let canonical: String
    public let normalized: String
    public let skeleton: String
    public let stem: String

    public init(platform: Platform, _ handle: String) {
        self.platform = platform
        display = handle
        canonical = Self.canonicalize(handle, platform: platform)
        normalized = Self.normalize(handle, platform: platform)
        skeleton = Self.skeletonOf(normalized)
        // Affixes and digits are stripped before the skeleton is taken: the skeleton
        // spells "m" as "rn" and digits as letters, which would hide them.
        stem = Self.skeletonOf(Self.stemOf(normalized))
    }

    static func canonicalize(_ handle: String, platform: Platform) -> String {
        var text = handle.precomposedStringWithCompatibilityMapping.lowercased().trimmingCharacters(in: .whitespaces)
        while text.hasPrefix("@") { text.removeFirst() }
        return text
    }

    /// The canonical handle without separators; on Mastodon the instance is kept whole.
    static func normalize(_ handle: String, platform: Platform) -> String {
        var text = canonicalize(handle, platform: platform)
        var instance: String?
        if platform == .mastodon, let at = text.firstIndex(of: "@") {
            instance = String(text[text.index(after: at)...])
            text = String(text[..<at])
        }
        if platform == .bluesky {
            // A Bluesky handle is a domain name: its dots separate labels that matter
            // (riverton.gov is not rivertong.ov); the first label is the name.
            let labels = text.split(separator: ".", maxSplits: 1).map(String.init)
            instance = labels.count == 2 ? labels[1] : nil
            text = labels.first ?? text
        }
        text.removeAll { $0 == "_" || $0 == "." || $0 == "-" }
        return instance.map { "\(text)\(platform == .bluesky ? "." : "@")\($0)" } ?? text
    }

    static func skeletonOf(_ normalized: String) -> String {
        Confusables.skeleton(normalized).lowercased()
    }

    /// Affixes an impostor adds to a real account's name.
    static let affixes = ["official", "real", "gov", "news", "team", "info", "the", "hq"]

    static func stemOf(_ normalized: String) -> String {
        var user = normalized
        var instance = ""
        if let at = normalized.firstIndex(where: { $0 == "@" || $0 == "." }) {   // a Mastodon instance, a Bluesky domain
            user = String(normalized[..<at])
            instance = String(normalized[at...])
        }
        var changed = true
        while changed {
            changed = false
            for affix in affixes where user.count > affix.count + 3 {
                if user.hasPrefix(affix) { user.removeFirst(affix.count); changed = true }
                if user.hasSuffix(affix) { user.removeLast(affix.count); changed = true }
            }
            while let last = user.last, last.isNumber, user.count > 4 { user.removeLast(); changed = true }
            while let first = user.first, first.isNumber, user.count > 4 { user.removeFirst(); changed = true }
        }
        // Repeated letters collapse: "rivertonnn" reads as "riverton".
        var collapsed = ""
        for character in user where collapsed.last != character { collapsed.append(character) }
        return collapsed + instance
    }

    /// Parses a handle or a profile URL (`https://x.com/RivertonCity`,
    /// `https://riverton.social/@city`, `https://www.facebook.com/RivertonCityHall`).
    public static func parse(_ text: String, platform: Platform?) -> ChannelHandle? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        guard let url = URL(string: trimmed), let host = url.host?.lowercased(), url.scheme?.hasPrefix("http") == true else {
            guard let platform, !trimmed.isEmpty else { return nil }
            return ChannelHandle(platform: platform, trimmed)
        }
        let path = url.path.split(separator: "/").first.map(String.init) ?? ""
        guard !path.isEmpty else { return nil }
        let bare = host.hasPrefix("www.") ? String(host.dropFirst(4)) : host
        switch bare {
        case "x.com", "twitter.com": return ChannelHandle(platform: .x, path)
        case "facebook.com", "m.facebook.com": return ChannelHandle(platform: .facebook, path)
        case "instagram.com": return ChannelHandle(platform: .instagram, path)
        case "youtube.com": return ChannelHandle(platform: .youtube, path)
        case "bsky.app":
            // https://bsky.app/profile/riverton.bsky.social
            guard path == "profile", let handle = url.path.split(separator: "/").dropFirst().first else { return nil }
            return ChannelHandle(platform: .bluesky, String(handle))
        case "linkedin.com": return ChannelHandle(platform: .linkedin, String(url.path.split(separator: "/").dropFirst().first ?? ""))
        default:
            // Mastodon and other fediverse servers: https://instance/@user
            guard path.hasPrefix("@") else { return nil }
            return ChannelHandle(platform: .mastodon, "\(path)@\(bare)")
        }
    }

    /// Levenshtein distance between two strings, by characters.
    static func distance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        guard !a.isEmpty else { return b.count }
        guard !b.isEmpty else { return a.count }
        var previous = Array(0...b.count)
        for i in 1...a.count {
            var current = [i] + Array(repeating: 0, count: b.count)
            for j in 1...b.count {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            previous = current
        }
        return previous[b.count]
    }

    /// Why `self` looks like `other` (a different account on the same platform), or nil.
    /// Handles that differ only by separators or case are the same *normalized* handle:
    /// to register, a duplicate; as an account a message comes through, a lookalike.
    /// Edits allowed scale with length: none up to 5 characters, one up to 11, two above.
    public func resemblance(to other: ChannelHandle) -> String? {
        guard platform == other.platform, canonical != other.canonical else { return nil }
        if normalized == other.normalized { return "it differs from \(other.display) only by separators" }
        if skeleton == other.skeleton { return "it reads the same as \(other.display) (confusable characters)" }
        if stem == other.stem { return "it is \(other.display) with affixes, digits or repeated letters" }
        let length = min(skeleton.count, other.skeleton.count)
        let allowed = length <= 5 ? 0 : (length <= 11 ? 1 : 2)
        let edits = Self.distance(skeleton, other.skeleton)
        if edits <= allowed { return "it is \(edits) character\(edits == 1 ? "" : "s") away from \(other.display)" }
        return nil
    }
}
