import Foundation

/// Something in a citizen's words that may name another identity of theirs: the ground a
/// link proposal stands on. The broker proposes; only a person links (see
/// Protocols/7-data-protection.md).
public enum ContactHint: Hashable, Sendable {
    /// An e-mail address, lower-cased.
    case email(String)
    /// A telephone number: its last nine digits, so `+34 600 12 34 56` and `600123456` meet.
    case phone(String)
    /// An identity the citizen names: `facebook:1234`, "I also wrote on Facebook as ana.ruiz".
    case identity(CitizenIdentity)
    /// "I also wrote on Facebook", with no handle: matched on the author's display name.
    case platform(Platform)

    /// Why an agent is shown the proposal, in words.
    public var reason: String {
        switch self {
        // The address or number itself is not repeated: the agent opens the cases to see it.
        case .email: "the same e-mail address in both conversations"
        case .phone: "the same telephone number in both conversations"
        case .identity(let identity): "the citizen named \(identity) as theirs"
        case .platform(let platform): "the citizen wrote that they also wrote on \(platform.rawValue), under the same name"
        }
    }
}

/// Reads ``ContactHint``s out of a text: e-mail addresses, telephone numbers, identities
/// written `platform:handle`, and sentences such as "I also wrote on Facebook (as ana.ruiz)".
/// Pure, and forgiving: a text with none gives none.
public enum ContactHints {
    /// Digits a telephone number has at least (and at most): dates and case numbers are shorter.
    static let phoneDigits = 9...15

    /// Platform names as people write them.
    static let platformNames: [String: Platform] = [
        "facebook": .facebook, "messenger": .facebook, "instagram": .instagram, "whatsapp": .whatsapp, "mastodon": .mastodon,
        "bluesky": .bluesky, "twitter": .x, "x": .x, "linkedin": .linkedin, "youtube": .youtube, "email": .email, "e-mail": .email,
    ]

    /// Words that say the citizen wrote somewhere else too.
    static let wroteElsewhere: Set<String> = ["also", "wrote", "posted", "messaged", "sent", "contacted", "reported", "asked", "complained"]

    public static func extract(_ text: String) -> [ContactHint] {
        var hints: [ContactHint] = []
        func add(_ hint: ContactHint) { if !hints.contains(hint) { hints.append(hint) } }
        let tokens = text.split(whereSeparator: { $0.isWhitespace }).map(String.init)
        for token in tokens {
            let trimmed = token.trimmingCharacters(in: CharacterSet(charactersIn: ",;:!?\"'()<>[]{}").union(.whitespaces))
                .trimmingCharacters(in: CharacterSet(charactersIn: "."))
            if let address = email(trimmed) { add(.email(address)) } else if let identity = namedIdentity(trimmed) { add(.identity(identity)) }
        }
        for number in phoneNumbers(text) { add(.phone(number)) }
        for hint in mentions(tokens) { add(hint) }
        return hints
    }

    /// `local@domain.tld`, lower-cased; nil for a handle (`@ana_r`) or anything else.
    public static func email(_ token: String) -> String? {
        let parts = token.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, parts[0].first != ".", parts[1].contains("."),
              parts[1].split(separator: ".").allSatisfy({ !$0.isEmpty && $0.allSatisfy { $0.isLetter || $0.isNumber || $0 == "-" } }),
              parts[0].allSatisfy({ $0.isLetter || $0.isNumber || "._%+-".contains($0) }) else { return nil }
        return token.lowercased()
    }

    /// `facebook:1234`, `x:@ana_r`: a known platform, a colon, and a handle right after it.
    static func namedIdentity(_ token: String) -> CitizenIdentity? {
        guard let colon = token.firstIndex(of: ":"), let platform = Platform(rawValue: token[..<colon].lowercased()) else { return nil }
        let handle = token[token.index(after: colon)...]
        guard !handle.isEmpty, !handle.hasPrefix("//"), handle.allSatisfy({ $0.isLetter || $0.isNumber || "@._-+".contains($0) }) else { return nil }
        let identity = CitizenIdentity(platform: platform, handle: String(handle))
        return identity.handle.isEmpty ? nil : identity
    }

    /// Runs of digits with the separators people write numbers with (spaces, dashes,
    /// dots, brackets, a leading `+`), nine to fifteen digits long: their last nine digits.
    /// A date (`2026-11-22`) is not one.
    public static func phoneNumbers(_ text: String) -> [String] {
        var found: [String] = [], run = "", digits = "", separators = 0
        func flush() {
            if phoneDigits.contains(digits.count), run.range(of: #"[0-9]{4}[-./][0-9]{1,2}[-./][0-9]{1,2}"#, options: .regularExpression) == nil {
                found.append(String(digits.suffix(9)))
            }
            run = ""
            digits = ""
            separators = 0
        }
        for character in text {
            if character.isASCII, character.isNumber {
                digits.append(character)
                run.append(character)
                separators = 0
            } else if " -.()".contains(character), !digits.isEmpty, separators < 2 {
                run.append(character)
                separators += 1
            } else if "+(".contains(character), digits.isEmpty {
                run.append(character)
            } else {
                flush()
            }
        }
        flush()
        return found
    }

    /// "… also wrote on Facebook (as ana.ruiz)": a platform after `on`, `via` or
    /// `through`, in a sentence that says the citizen wrote there too.
    static func mentions(_ tokens: [String]) -> [ContactHint] {
        let words = tokens.map { $0.lowercased().trimmingCharacters(in: CharacterSet(charactersIn: ",;:!?\"'()<>[]{}.")) }
        var hints: [ContactHint] = []
        for index in words.indices.dropLast() where ["on", "via", "through", "in"].contains(words[index]) {
            guard let platform = platformNames[words[index + 1]] else { continue }
            let before = words[max(0, index - 6)..<index]
            guard before.contains(where: wroteElsewhere.contains) else { continue }
            var handle: String?
            if index + 3 < words.count, words[index + 2] == "as" {
                handle = words[index + 3]
            } else if index + 2 < words.count, words[index + 2].hasPrefix("@") {
                handle = words[index + 2]
            }
            if let handle, !CitizenHandle.normalized(handle).isEmpty {
                hints.append(.identity(CitizenIdentity(platform: platform, handle: handle)))
            } else {
                hints.append(.platform(platform))
            }
        }
        return hints
    }
}
