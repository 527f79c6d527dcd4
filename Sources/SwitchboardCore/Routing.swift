import Foundation
import SwitchboardProtocol

/// A geographic rectangle, inclusive on every side.
public struct BoundingBox: Sendable, Equatable {
    public var minLat, minLon, maxLat, maxLon: Double

    public init(minLat: Double, minLon: Double, maxLat: Double, maxLon: Double) {
        (self.minLat, self.minLon, self.maxLat, self.maxLon) = (minLat, minLon, maxLat, maxLon)
    }

    public func contains(lat: Double, lon: Double) -> Bool {
        (minLat...maxLat).contains(lat) && (minLon...maxLon).contains(lon)
    }
}

/// A compiled regular expression. `NSRegularExpression` is immutable and documented as
/// safe to share between threads.
public struct RulePattern: @unchecked Sendable {
    public let source: String
    let expression: NSRegularExpression

    public init(_ source: String) throws {
        self.source = source
        expression = try NSRegularExpression(pattern: source, options: [.caseInsensitive])
    }

    func firstMatch(in text: String) -> String? {
        let range = NSRange(text.startIndex..., in: text)
        guard let match = expression.firstMatch(in: text, range: range), let found = Range(match.range, in: text) else { return nil }
        return String(text[found])
    }
}

/// What a rule looks at. Every condition that is set must hold (AND); within a list,
/// any one entry is enough (OR). A rule with no conditions matches everything.
public struct RuleConditions: Sendable {
    /// Words or phrases, matched as whole words, ignoring case and accents.
    public var keywords: [String] = [] {
        didSet { normalizedKeywords = keywords.map { NormalizedText($0).words.map(String.init) } }
    }
    /// Hashtags, with or without the `#`, ignoring case and accents.
    public var hashtags: [String] = [] {
        didSet { normalizedHashtags = hashtags.map { NormalizedText.fold($0.hasPrefix("#") ? String($0.dropFirst()) : $0) } }
    }
    /// The keywords folded and split into words once, not for every inquiry.
    private(set) var normalizedKeywords: [[String]] = []
    private(set) var normalizedHashtags: [String] = []
    public var pattern: RulePattern?
    /// The receiving official accounts, ignoring case.
    public var accounts: [String] = []
    public var platforms: [Platform] = []
    /// Language tags; `fr` also matches `fr-BE`.
    public var languages: [String] = []
    public var boundingBox: BoundingBox?

    public init() {}
}

/// One routing rule. Rules are tried in order and the first that matches decides.
public struct RoutingRule: Sendable {
    public var name: String
    public var department: String
    public var priority: Priority
    public var tags: [String]
    public var conditions: RuleConditions

    public init(name: String, department: String, priority: Priority = .normal, tags: [String] = [], conditions: RuleConditions = RuleConditions()) {
        self.name = name
        self.department = department
        self.priority = priority
        self.tags = tags
        self.conditions = conditions
    }
}

/// Where an inquiry goes and why. Stored with the inquiry, and printed by
/// `switchboard route --explain`.
public struct RoutingDecision: Codable, Sendable, Equatable {
    public var department: String
    public var priority: Priority
    public var tags: [String]
    /// The rule that matched, or nil when the inquiry fell through to the front office.
    public var rule: String?
    /// One line per rule tried, saying why it matched or not.
    public var explanation: [String]

    public init(department: String, priority: Priority, tags: [String], rule: String?, explanation: [String]) {
        self.department = department
        self.priority = priority
        self.tags = tags
        self.rule = rule
        self.explanation = explanation
    }
}

extension RoutingDecision {
    /// The decision as stored and delivered, written by hand (once per accepted
    /// inquiry). The explanation is left out: it runs to kilobytes, quotes fragments of
    /// the citizen's text, and `route --explain` gives it again from the same rules.
    public var json: String {
        var writer = JSONWriter()
        writer.add("department", department)
        writer.add("priority", priority.rawValue)
        writer.add("rule", rule)
        writer.add("tags", strings: tags)
        return writer.result
    }
}

/// Routes inquiries by ordered rules; what matches nothing goes to the front office.
public struct Router: Sendable {
    public let rules: [RoutingRule]
    public let frontOffice: String

    public init(rules: [RoutingRule], frontOffice: String) {
        self.rules = rules
        self.frontOffice = frontOffice
    }

    /// The department and priority for `inquiry`: the ingest path, which builds no
    /// explanation (its sentences were a fifth of the engine's time per inquiry).
    public func route(_ inquiry: Inquiry) -> RoutingDecision { decide(inquiry, explaining: false) }

    /// The same decision, with a sentence for every rule tried and why it matched or
    /// not (`sb.route.explain`, `switchboard route --explain`).
    public func explain(_ inquiry: Inquiry) -> RoutingDecision { decide(inquiry, explaining: true) }

    private func decide(_ inquiry: Inquiry, explaining: Bool) -> RoutingDecision {
        let text = NormalizedText(inquiry.text)
        var explanation: [String] = []
        for rule in rules {
            switch evaluate(rule.conditions, inquiry, text, explaining: explaining) {
            case .success(let reasons):
                if explaining {
                    explanation.append("rule \"\(rule.name)\" matched: \(reasons.isEmpty ? "it has no conditions" : reasons.joined(separator: "; "))")
                }
                return RoutingDecision(department: rule.department, priority: rule.priority, tags: rule.tags, rule: rule.name, explanation: explanation)
            case .failure(let miss):
                if explaining { explanation.append("rule \"\(rule.name)\" skipped: \(miss.reason)") }
            }
        }
        if explaining { explanation.append("no rule matched: sent to \(frontOffice) for triage") }
        return RoutingDecision(department: frontOffice, priority: .normal, tags: [], rule: nil, explanation: explanation)
    }

    struct Miss: Error { let reason: String }

    /// `"a", "b"`: readable in an explanation, unlike an array's debug description.
    static func list(_ items: [String]) -> String {
        items.map { "\"\($0)\"" }.joined(separator: ", ")
    }

    /// Whether `inquiry` meets every condition. The reasons (and a miss's reason) are
    /// written only when `explaining`: the checks are the same either way.
    private func evaluate(_ conditions: RuleConditions, _ inquiry: Inquiry, _ text: NormalizedText, explaining: Bool) -> Result<[String], Miss> {
        var reasons: [String] = []
        func miss(_ reason: @autoclosure () -> String) -> Result<[String], Miss> {
            .failure(Miss(reason: explaining ? reason() : ""))
        }
        func met(_ reason: @autoclosure () -> String) {
            if explaining { reasons.append(reason()) }
        }
        if !conditions.platforms.isEmpty {
            guard conditions.platforms.contains(inquiry.source.platform) else {
                return miss("platform \(inquiry.source.platform.rawValue) is not one of \(Self.list(conditions.platforms.map(\.rawValue)))")
            }
            met("platform is \(inquiry.source.platform.rawValue)")
        }
        if !conditions.accounts.isEmpty {
            let account = inquiry.source.account.lowercased()
            guard conditions.accounts.contains(where: { $0.lowercased() == account }) else {
                return miss("account \(inquiry.source.account) is not one of \(Self.list(conditions.accounts))")
            }
            met("addressed to account \(inquiry.source.account)")
        }
        if !conditions.languages.isEmpty {
            guard let language = inquiry.language?.lowercased(),
                  let wanted = conditions.languages.first(where: { language == $0.lowercased() || language.hasPrefix($0.lowercased() + "-") })
            else { return miss("language \(inquiry.language ?? "unknown") is not one of \(Self.list(conditions.languages))") }
            met("language is \(wanted)")
        }
        if let box = conditions.boundingBox {
            guard let lat = inquiry.geo?.lat, let lon = inquiry.geo?.lon, box.contains(lat: lat, lon: lon) else {
                return miss("location is not inside the rule's bounding box")
            }
            met("location \(lat),\(lon) is inside the bounding box")
        }
        if !conditions.hashtags.isEmpty {
            guard let index = conditions.normalizedHashtags.firstIndex(where: text.hashtags.contains) else {
                return miss("none of the hashtags \(Self.list(conditions.hashtags)) is present")
            }
            let tag = conditions.hashtags[index]
            met("hashtag \(tag.hasPrefix("#") ? tag : "#" + tag) is present")
        }
        if !conditions.keywords.isEmpty {
            guard let index = conditions.normalizedKeywords.firstIndex(where: text.containsWords) else {
                return miss("none of the keywords \(Self.list(conditions.keywords)) is present")
            }
            met("keyword \"\(conditions.keywords[index])\" is present")
        }
        if let pattern = conditions.pattern {
            guard let found = pattern.firstMatch(in: inquiry.text) else {
                return miss("the text does not match /\(pattern.source)/")
            }
            met("the text matches /\(pattern.source)/ at \"\(found)\"")
        }
        return .success(reasons)
    }
}

/// Text folded for matching: lower case, accents removed, split into words.
struct NormalizedText {
    let words: [Substring]
    let hashtags: Set<String>

    init(_ text: String) {
        if let ascii = Self.asciiWords(text) {
            self.init(words: ascii.words, hashtags: ascii.hashtags)
        } else {
            self.init(folding: text)
        }
    }

    init(words: [Substring], hashtags: Set<String>) {
        self.words = words
        self.hashtags = hashtags
    }

    /// The general path, through Foundation's case and accent folding.
    init(folding text: String) {
        let folded = Self.fold(text)
        var words: [Substring] = []
        var hashtags = Set<String>()
        var index = folded.startIndex
        while index < folded.endIndex {
            guard Self.isWordCharacter(folded[index]) else {
                if folded[index] == "#" {
                    let start = folded.index(after: index)
                    let end = folded[start...].firstIndex { !Self.isWordCharacter($0) } ?? folded.endIndex
                    if start < end { hashtags.insert(String(folded[start..<end])) }
                }
                index = folded.index(after: index)
                continue
            }
            let end = folded[index...].firstIndex { !Self.isWordCharacter($0) } ?? folded.endIndex
            words.append(folded[index..<end])
            index = end
        }
        self.words = words
        self.hashtags = hashtags
    }

    /// The common case, plain ASCII text, split and lower-cased byte by byte: Foundation's
    /// folding is the costliest step of routing, and ASCII has no accents to remove.
    static func asciiWords(_ text: String) -> (words: [Substring], hashtags: Set<String>)? {
        var utf8 = text.utf8
        guard utf8.allSatisfy({ $0 < 0x80 }) else { return nil }
        var lowered = [UInt8]()
        lowered.reserveCapacity(utf8.count)
        for byte in utf8 { lowered.append(byte >= 0x41 && byte <= 0x5A ? byte + 0x20 : byte) }
        let folded = String(decoding: lowered, as: UTF8.self)
        utf8 = folded.utf8
        func isWord(_ byte: UInt8) -> Bool {
            (byte >= 0x61 && byte <= 0x7A) || (byte >= 0x30 && byte <= 0x39) || byte == 0x5F || (byte >= 0x41 && byte <= 0x5A)
        }
        var words: [Substring] = []
        var hashtags = Set<String>()
        var index = utf8.startIndex
        while index < utf8.endIndex {
            let byte = utf8[index]
            guard isWord(byte) else {
                if byte == 0x23 {
                    let start = utf8.index(after: index)
                    let end = utf8[start...].firstIndex { !isWord($0) } ?? utf8.endIndex
                    if start < end { hashtags.insert(String(folded[start..<end])) }
                }
                index = utf8.index(after: index)
                continue
            }
            let end = utf8[index...].firstIndex { !isWord($0) } ?? utf8.endIndex
            words.append(folded[index..<end])
            index = end
        }
        return (words, hashtags)
    }

    static func isWordCharacter(_ character: Character) -> Bool {
        character.isLetter || character.isNumber || character == "_"
    }

    static func fold(_ text: String) -> String {
        text.folding(options: [.caseInsensitive, .diacriticInsensitive], locale: nil)
    }

    /// Whether the (already normalised) words of a phrase appear consecutively.
    func containsWords(_ target: [String]) -> Bool {
        guard !target.isEmpty, target.count <= words.count else { return false }
        for start in 0...(words.count - target.count) where words[start] == target[0] {
            if zip(words[start..<(start + target.count)], target).allSatisfy({ $0 == $1 }) { return true }
        }
        return false
    }
}

extension RouteExplanation {
    /// The answer to `sb.route.explain` for a decision made with `configuration`'s rules,
    /// by the broker or offline by the CLI.
    public init(decision: RoutingDecision, configuration: SwitchboardConfiguration) {
        self.init(department: decision.department, departmentName: configuration.department(decision.department)?.name,
                  priority: decision.priority.rawValue, tags: decision.tags, rule: decision.rule, explanation: decision.explanation)
    }
}
