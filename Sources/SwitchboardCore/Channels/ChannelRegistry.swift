import Foundation
import SwitchboardProtocol

/// Where an account stands in the registry's workflow (after the U.S. Digital
/// Registry's under_review → published → archived, with suspension added).
public enum ChannelStatus: String, Codable, Sendable, CaseIterable {
    case underReview = "under_review"
    case active, suspended, archived
}

/// One change to an entry, kept for ever: who, what, why, when.
public struct ChannelChange: Codable, Sendable, Equatable {
    public var action: String
    public var actor: String
    public var reason: String?
    public var at: Date
    public var status: ChannelStatus
}

/// One official account of the city.
public struct ChannelEntry: Codable, Sendable, Equatable, Identifiable {
    public var id: String
    public var platform: Platform
    /// As registered, for display.
    public var handle: String
    public var normalized: String
    public var displayName: String?
    public var url: String?
    /// The owning department; nil when the front office shares it for the whole city.
    public var department: String?
    public var status: ChannelStatus
    public var contacts: [String]
    public var verifiedAt: Date?
    public var reviewDue: Date?
    public var history: [ChannelChange]

    public init(id: String, platform: Platform, handle: String, normalized: String, displayName: String?, url: String?,
                department: String?, status: ChannelStatus, contacts: [String], verifiedAt: Date?, reviewDue: Date?,
                history: [ChannelChange]) {
        self.id = id
        self.platform = platform
        self.handle = handle
        self.normalized = normalized
        self.displayName = displayName
        self.url = url
        self.department = department
        self.status = status
        self.contacts = contacts
        self.verifiedAt = verifiedAt
        self.reviewDue = reviewDue
        self.history = history
    }

    var parsed: ChannelHandle { ChannelHandle(platform: platform, handle) }
}

/// Why a registry request was refused. Each names the entry involved.
public enum ChannelError: Error, Equatable, Sendable, CustomStringConvertible {
    case duplicate(of: ChannelEntry)
    case lookalike(of: ChannelEntry, why: String)
    case secondAccount(existing: ChannelEntry)
    case invalidTransition(ChannelStatus, action: String)
    case notFound(String)
    case reasonRequired(String)
    /// A short id that starts more than one entry's id.
    case ambiguous(String, matches: [String])

    public var code: ErrorCode {
        switch self {
        case .duplicate: .duplicateChannel
        case .lookalike: .lookalikeOf
        case .secondAccount: .departmentHasAccount
        case .invalidTransition: .invalidTransition
        case .notFound: .notFound
        case .reasonRequired: .missingField
        case .ambiguous: .invalidValue
        }
    }

    public var description: String {
        switch self {
        case .duplicate(let entry): "\(entry.platform.rawValue) account \(entry.handle) is registered already (entry \(entry.id))"
        case .lookalike(let entry, let why):
            "the handle looks like \(entry.platform.rawValue) account \(entry.handle) (entry \(entry.id)): \(why); a registry administrator may override with a written reason"
        case .secondAccount(let existing):
            "\(existing.department ?? "the front office") already has an active \(existing.platform.rawValue) account, \(existing.handle) (entry \(existing.id)); a second needs an exception with a reason"
        case .invalidTransition(let status, let action): "cannot \(action) an entry that is \(status.rawValue)"
        case .notFound(let id): "there is no registry entry \(id)"
        case .reasonRequired(let what): "\(what) needs a reason"
        case .ambiguous(let prefix, let matches):
            "\(prefix) starts more than one registry entry (\(matches.joined(separator: ", "))); give more characters"
        }
    }
}

/// What the registry says of an account an inquiry came through, or a handle asked about.
public enum ChannelVerdict: Equatable, Sendable {
    case official(ChannelEntry)
    /// Registered but not active (under review, suspended, archived).
    case inactive(ChannelEntry)
    case lookalike(of: ChannelEntry, why: String)
    case unknown
}

/// The central registry of the city's official accounts, as a pure value: every rule
/// of 11's issue is a check here, and every change leaves a history entry.
public struct ChannelRegistry: Sendable, Equatable {
    public private(set) var entries: [ChannelEntry]
    /// How long a verification holds before a review falls due.
    public static let reviewInterval: TimeInterval = 182 * 86_400

    public init(entries: [ChannelEntry] = []) {
        self.entries = entries
    }

    public func entry(_ id: String) -> ChannelEntry? { entries.first { $0.id == id } }

    /// The entry's full id for an id or a unique prefix of one (as `channels list` shows
    /// ids, cut to 8 characters).
    public func resolve(_ typed: String) throws(ChannelError) -> String {
        let wanted = typed.lowercased()
        if entries.contains(where: { $0.id == wanted }) { return wanted }
        let matches = wanted.count >= 4 ? entries.filter { $0.id.hasPrefix(wanted) }.map(\.id) : []
        guard let only = matches.first else { throw .notFound(typed) }
        guard matches.count == 1 else { throw .ambiguous(typed, matches: matches) }
        return only
    }

    /// Registers an account, under review. Refused if it repeats or resembles a live
    /// entry on the platform (unless `override` gives a reason), or if the department
    /// has an active account there already (unless `exception` gives one).
    public mutating func register(
        platform: Platform, handle: String, displayName: String? = nil, url: String? = nil, department: String?,
        contacts: [String] = [], actor: String, override: String? = nil, exception: String? = nil, now: Date,
        id: String = UUID().uuidString.lowercased()
    ) throws(ChannelError) -> ChannelEntry {
        let candidate = ChannelHandle(platform: platform, handle)
        for existing in entries where existing.platform == platform && existing.status != .archived {
            let other = existing.parsed
            if other.normalized == candidate.normalized { throw .duplicate(of: existing) }
            if let why = candidate.resemblance(to: other), override?.isEmpty ?? true { throw .lookalike(of: existing, why: why) }
        }
        if exception?.isEmpty ?? true,
           let existing = entries.first(where: { $0.platform == platform && $0.department == department && $0.status == .active }) {
            throw .secondAccount(existing: existing)
        }
        var reasons: [String] = []
        if let override, !override.isEmpty { reasons.append("lookalike override: \(override)") }
        if let exception, !exception.isEmpty { reasons.append("second-account exception: \(exception)") }
        let entry = ChannelEntry(
            id: id, platform: platform, handle: handle, normalized: candidate.normalized, displayName: displayName, url: url,
            department: department, status: .underReview, contacts: contacts, verifiedAt: nil, reviewDue: nil,
            history: [ChannelChange(action: "register", actor: actor, reason: reasons.isEmpty ? nil : reasons.joined(separator: "; "),
                                    at: now, status: .underReview)]
        )
        entries.append(entry)
        return entry
    }

    public enum Action: String, Sendable, CaseIterable {
        case approve, suspend, reactivate, archive
    }

    /// Moves an entry through the workflow. Approving verifies it and sets the next
    /// review; suspending and archiving need a reason.
    public mutating func apply(_ action: Action, to typed: String, actor: String, reason: String?, now: Date) throws(ChannelError) -> ChannelEntry {
        let id = try resolve(typed)
        guard let index = entries.firstIndex(where: { $0.id == id }) else { throw .notFound(id) }
        var entry = entries[index]
        let allowed: [ChannelStatus]
        let target: ChannelStatus
        switch action {
        case .approve: (allowed, target) = ([.underReview], .active)
        case .suspend: (allowed, target) = ([.active, .underReview], .suspended)
        case .reactivate: (allowed, target) = ([.suspended], .active)
        case .archive: (allowed, target) = ([.underReview, .active, .suspended], .archived)
        }
        guard allowed.contains(entry.status) else { throw .invalidTransition(entry.status, action: action.rawValue) }
        if action == .suspend || action == .archive, reason?.isEmpty ?? true { throw .reasonRequired(action.rawValue) }
        if target == .active, let other = entries.first(where: {
            $0.id != id && $0.platform == entry.platform && $0.department == entry.department && $0.status == .active
        }), !(entry.history.contains { $0.reason?.contains("second-account exception") == true }) {
            throw .secondAccount(existing: other)
        }
        entry.status = target
        if target == .active {
            entry.verifiedAt = now
            entry.reviewDue = now.addingTimeInterval(Self.reviewInterval)
        }
        entry.history.append(ChannelChange(action: action.rawValue, actor: actor, reason: reason, at: now, status: target))
        entries[index] = entry
        return entry
    }

    /// Whether a handle (or profile URL) is one of the city's accounts.
    public func verify(_ handle: ChannelHandle) -> ChannelVerdict {
        let live = entries.filter { $0.platform == handle.platform && $0.status != .archived }
        if let match = live.first(where: { $0.parsed.canonical == handle.canonical }) {
            return match.status == .active ? .official(match) : .inactive(match)
        }
        for entry in live {
            if let why = handle.resemblance(to: entry.parsed) { return .lookalike(of: entry, why: why) }
        }
        return .unknown
    }

    /// The accounts a department may reply through on a platform: its own active ones,
    /// and those the front office shares.
    public func replyAccounts(platform: Platform, department: String) -> [ChannelEntry] {
        entries.filter { $0.platform == platform && $0.status == .active && ($0.department == department || $0.department == nil) }
    }

    /// Entries whose review falls due within `warning` (due) or has passed (overdue).
    public func reviews(at now: Date, warning: TimeInterval = 14 * 86_400) -> [(entry: ChannelEntry, overdue: Bool)] {
        entries.compactMap { entry in
            guard entry.status == .active, let due = entry.reviewDue, due.addingTimeInterval(-warning) <= now else { return nil }
            return (entry, due <= now)
        }
    }
}
