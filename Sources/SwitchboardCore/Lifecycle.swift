import Foundation
import SwitchboardProtocol

/// Where an inquiry is in its life. Exactly one of these at a time.
public enum LifecycleState: String, Codable, Sendable, CaseIterable {
    /// Waiting in a department's (or the front office's) queue.
    case queued
    /// Held by one owner: a worker, an agent, or a department that accepted it.
    case inProgress = "in_progress"
    /// Paused until the citizen answers a request for more information.
    case awaitingCitizen = "awaiting_citizen"
    /// The citizen has been answered; closing is the next step.
    case answered
    case closed
    /// Dead-lettered: it could not be delivered. An operator requeues it.
    case parked
}

/// How an inquiry was closed.
public enum Resolution: String, Codable, Sendable, CaseIterable {
    case answered, duplicate
    case outOfScope = "out_of_scope"
    case spam
}

/// Who acted: a contact-centre agent, a department's worker process, a department as a
/// whole (a worker that accepted an inquiry without resolving it), or the broker.
public struct Actor: Codable, Sendable, Hashable, CustomStringConvertible {
    public enum Kind: String, Codable, Sendable, CaseIterable { case agent, worker, department, system }
    public var kind: Kind
    public var id: String

    public init(kind: Kind, id: String) {
        self.kind = kind
        self.id = id
    }

    public static let system = Actor(kind: .system, id: "switchboard")
    public static func agent(_ id: String) -> Actor { Actor(kind: .agent, id: id) }
    public static func worker(_ id: String) -> Actor { Actor(kind: .worker, id: id) }
    public static func department(_ id: String) -> Actor { Actor(kind: .department, id: id) }

    public var description: String { "\(kind.rawValue) \(id)" }
}

/// A move in an inquiry's life, with what it needs.
public enum LifecycleCommand: Sendable, Equatable {
    /// The broker hands a queued inquiry to a department worker.
    case deliver
    /// An agent takes a queued inquiry.
    case claim
    /// The owner (or the broker, on lease expiry or worker death) puts it back in its queue.
    case release(reason: String)
    /// A worker replied without an outcome: its department now owns the inquiry.
    case accept
    case handoff(to: String, note: String)
    case returnToFrontOffice(note: String)
    /// An answer to the citizen.
    case reply(account: String)
    case requestInformation(note: String)
    /// The citizen answered a request for information: the inquiry resumes.
    case citizenReplied
    /// With `duplicateOf`, the inquiry is merged into that one (resolution `duplicate`):
    /// it closes pointing to it, and keeps its own timeline.
    case close(Resolution, note: String?, duplicateOf: InquiryID? = nil)
    case reopen(note: String?)
    case park(reason: String)
    case requeue

    /// The name used in errors, in the timeline and as the event topic's suffix.
    public var name: String {
        switch self {
        case .deliver: "deliver"
        case .claim: "claim"
        case .release: "release"
        case .accept: "accept"
        case .handoff: "handoff"
        case .returnToFrontOffice: "return"
        case .reply: "reply"
        case .requestInformation: "request_information"
        case .citizenReplied: "citizen_replied"
        case .close: "close"
        case .reopen: "reopen"
        case .park: "park"
        case .requeue: "requeue"
        }
    }

    var note: String? {
        switch self {
        case .release(let reason), .park(let reason): reason
        case .handoff(_, let note), .returnToFrontOffice(let note), .requestInformation(let note): note
        case .close(_, let note, nil), .reopen(let note): note
        case .close(_, let note, let other?): "merged into \(other)" + (note.map { ": \($0)" } ?? "")
        case .deliver, .claim, .accept, .reply, .requeue, .citizenReplied: nil
        }
    }
}

/// Why a move was refused. Each names the current state and what is allowed, so an
/// agent's tool can say what to do instead.
public enum LifecycleError: Error, Equatable, Sendable, CustomStringConvertible {
    case invalidTransition(state: LifecycleState, command: String, allowed: [String])
    case notOwner(actor: Actor, owner: Actor?)
    /// A claim of an inquiry someone else holds: who, and until when (their lease).
    case heldBy(Actor, until: String?)
    case alreadyAnswered
    /// A handoff to a department the broker does not have; `known` names those it has.
    case unknownDepartment(String, known: [String] = [])
    case sameDepartment(String)
    case wrongDepartment(actingFor: String?, department: String)
    case unknownInquiry(InquiryID)
    /// A merge naming the inquiry itself as the one it duplicates.
    case mergeIntoItself
    /// A merge (`duplicate_of`) closes as `duplicate`, never as another resolution.
    case mergeNeedsDuplicate(Resolution)

    public var code: ErrorCode {
        switch self {
        case .invalidTransition: .invalidTransition
        case .notOwner, .heldBy: .notOwner
        case .alreadyAnswered: .alreadyAnswered
        case .unknownDepartment: .unknownDepartment
        case .sameDepartment: .sameDepartment
        case .wrongDepartment: .wrongDepartment
        case .unknownInquiry: .notFound
        case .mergeIntoItself, .mergeNeedsDuplicate: .invalidValue
        }
    }

    public var description: String {
        switch self {
        case .invalidTransition(let state, let command, let allowed):
            "cannot \(command) an inquiry that is \(state.rawValue); allowed now: \(allowed.isEmpty ? "nothing" : allowed.joined(separator: ", "))"
        case .notOwner(let actor, let owner):
            "\(actor) does not own this inquiry; \(owner.map { "\($0) does" } ?? "nobody does")"
        case .heldBy(let owner, let until):
            "\(owner) holds this inquiry" + (until.map { " until \($0) (their claim's lease)" } ?? "")
                + "; ask them to release it" + (until == nil ? "" : ", or claim it once the lease has run out")
        case .alreadyAnswered:
            "the citizen has already been answered; a second reply is refused to prevent duplicate answers"
        case .unknownDepartment(let id, let known):
            "\(id) is not a department" + (known.isEmpty ? "" : "; the departments are \(known.joined(separator: ", "))")
        case .sameDepartment(let id):
            "the inquiry is already with \(id)"
        case .unknownInquiry(let id):
            "there is no inquiry \(id)"
        case .mergeIntoItself:
            "an inquiry cannot be merged into itself; name the other inquiry the citizen wrote"
        case .mergeNeedsDuplicate(let resolution):
            "a merge closes the inquiry as duplicate, not \(resolution.rawValue); leave out the resolution or give duplicate"
        case .wrongDepartment(let actingFor, let department):
            "the inquiry is with \(department), not \(actingFor ?? "no department"); act for \(department) or ask it to hand the inquiry off"
        }
    }
}

/// One line of an inquiry's timeline: append-only, never rewritten.
public struct TimelineEntry: Codable, Sendable, Equatable {
    public var inquiry: InquiryID
    public var event: String
    public var at: Date
    public var actor: Actor
    /// `front_office`, `back_office` or `system`.
    public var role: String
    public var from: LifecycleState?
    public var to: LifecycleState
    public var department: String
    public var note: String?

    public init(inquiry: InquiryID, event: String, at: Date, actor: Actor, role: String, from: LifecycleState?, to: LifecycleState, department: String, note: String?) {
        self.inquiry = inquiry
        self.event = event
        self.at = at
        self.actor = actor
        self.role = role
        self.from = from
        self.to = to
        self.department = department
        self.note = note
    }
}

/// One inquiry's lifecycle as a pure state machine: state, department, owner, and the
/// rule that there is **exactly one owner at a time**.
public struct InquiryLifecycle: Codable, Sendable, Equatable {
    public let id: InquiryID
    public private(set) var state: LifecycleState
    public private(set) var department: String
    public private(set) var owner: Actor?
    /// Set once the citizen's latest message has been answered; a second answer to the
    /// same message is refused, so two owners can never both answer it. A reopen or a
    /// new message from the citizen starts a new round of the conversation.
    public private(set) var answered: Bool
    /// The id the client chose for the last move, when the last move was a person's
    /// request that named one (`request_id`, or a reply's `reply_id`): a request sent
    /// again (after a timeout, or to the broker that took over) is recognised as the move
    /// already made, and answered without being made twice. Any later move clears it.
    public private(set) var lastMoveID: String?
    public private(set) var resolution: Resolution?
    /// The inquiry this one was merged into (closed as `duplicate`), if it was.
    public private(set) var duplicateOf: InquiryID?

    /// A freshly routed inquiry, queued at `department`.
    public init(id: InquiryID, department: String) {
        self.id = id
        state = .queued
        self.department = department
        owner = nil
        answered = false
        lastMoveID = nil
        resolution = nil
        duplicateOf = nil
    }

    /// A lifecycle as a store recorded it: every field as it was, no rule applied (the
    /// moves that led there were checked when they were made).
    public init(restoring id: InquiryID, state: LifecycleState, department: String, owner: Actor?, answered: Bool, lastMoveID: String?,
                resolution: Resolution?, duplicateOf: InquiryID? = nil) {
        self.id = id
        self.state = state
        self.department = department
        self.owner = owner
        self.answered = answered
        self.lastMoveID = lastMoveID
        self.resolution = resolution
        self.duplicateOf = duplicateOf
    }

    public static func routedEntry(id: InquiryID, department: String, at: Date) -> TimelineEntry {
        TimelineEntry(inquiry: id, event: "inquiry.routed", at: at, actor: .system, role: "system", from: nil, to: .queued, department: department, note: nil)
    }

    /// The moves allowed in the current state, by name.
    public var allowedCommands: [String] {
        switch state {
        case .queued: ["deliver", "claim", "handoff", "park"]
        case .inProgress: ["release", "accept", "handoff", "return", "request_information", "close", "park"] + (answered ? [] : ["reply"])
        case .awaitingCitizen: ["citizen_replied", "reopen", "close"]
        case .answered: ["close", "reopen"]
        case .closed: ["reopen"]
        case .parked: ["requeue"]
        }
    }

    /// The moves `actor` may make now: the broker's own moves (deliver, accept, park,
    /// citizen_replied) are never offered to people, requeue only to the system and
    /// supervisors, and moves that need the owner only when the actor may act.
    public func allowedCommands(for actor: Actor, actingFor: String?) -> [String] {
        guard actor.kind != .system else { return allowedCommands }
        var brokerOnly: Set<String> = ["deliver", "park", "citizen_replied", "requeue"]
        if actor.kind != .worker { brokerOnly.insert("accept") }
        let neutral: Set<String> = ["claim", "reopen"]
        return allowedCommands.filter { name in
            guard !brokerOnly.contains(name) else { return false }
            if name == "claim" { return actor.kind == .agent && actingFor == department }
            return neutral.contains(name) || mayAct(actor, actingFor: actingFor)
        }
    }

    /// Applies `command` by `actor`, or explains why not. Returns the timeline entry.
    ///
    /// - Parameters:
    ///   - actingFor: the department an agent acts for; an agent may act on an inquiry
    ///     its department holds, but never on one another agent holds.
    ///   - moveID: the id the client chose for this move, remembered as ``lastMoveID``.
    public mutating func apply(
        _ command: LifecycleCommand, by actor: Actor, actingFor: String? = nil, at now: Date,
        frontOffice: String, departments: Set<String>, moveID: String? = nil
    ) throws(LifecycleError) -> TimelineEntry {
        if case .reply = command, answered { throw .alreadyAnswered }
        guard allowedCommands.contains(command.name) else {
            throw .invalidTransition(state: state, command: command.name, allowed: allowedCommands(for: actor, actingFor: actingFor))
        }
        if case .claim = command, actor.kind == .agent, actingFor != department {
            throw .wrongDepartment(actingFor: actingFor, department: department)
        }
        if requiresOwnership(command) && !mayAct(actor, actingFor: actingFor) { throw .notOwner(actor: actor, owner: owner) }

        let from = state
        let fromDepartment = department
        switch command {
        case .deliver, .claim:
            state = .inProgress
            owner = actor
        case .release, .requeue:
            state = .queued
            owner = nil
        case .accept:
            owner = .department(department)
        case .handoff(let target, _):
            guard departments.contains(target) else { throw .unknownDepartment(target, known: departments.sorted()) }
            guard target != department else { throw .sameDepartment(target) }
            state = .queued
            department = target
            owner = nil
        case .returnToFrontOffice:
            guard department != frontOffice else { throw .sameDepartment(frontOffice) }
            state = .queued
            department = frontOffice
            owner = nil
        case .reply:
            state = .answered
            answered = true
        case .citizenReplied:
            // Back to the agent or department that asked; a worker's hold ended with its
            // reply, so then (as with no owner) the inquiry goes back to its queue.
            if owner == nil || owner?.kind == .worker {
                state = .queued
                owner = nil
            } else {
                state = .inProgress
            }
            answered = false
        case .requestInformation:
            state = .awaitingCitizen
        case .close(let resolution, _, let other):
            if let other {
                guard other != id else { throw .mergeIntoItself }
                guard resolution == .duplicate else { throw .mergeNeedsDuplicate(resolution) }
            }
            state = .closed
            self.resolution = resolution
            duplicateOf = other
            owner = nil
        case .reopen:
            state = .queued
            owner = nil
            resolution = nil
            duplicateOf = nil
            answered = false
        case .park:
            state = .parked
            owner = nil
        }
        lastMoveID = moveID
        let role = actor.kind == .system ? "system" : (fromDepartment == frontOffice ? "front_office" : "back_office")
        return TimelineEntry(
            inquiry: id, event: Self.eventName(command), at: now, actor: actor, role: role,
            from: from, to: state, department: department, note: command.note
        )
    }

    /// Moves by the broker itself (lease expiry, worker death, parking) and the
    /// neutral ones anyone may make; all others need the owner.
    private func requiresOwnership(_ command: LifecycleCommand) -> Bool {
        switch command {
        case .deliver, .claim, .park, .requeue, .reopen, .citizenReplied: false
        default: true
        }
    }

    /// The owner may act, and so may the system. An agent acting for the inquiry's
    /// department may act too, unless another agent holds it: one owner at a time.
    public func mayAct(_ actor: Actor, actingFor: String?) -> Bool {
        if actor.kind == .system || actor == owner { return true }
        guard actor.kind == .agent, actingFor == department else { return false }
        return owner?.kind != .agent
    }

    static func eventName(_ command: LifecycleCommand) -> String {
        switch command {
        case .deliver: "inquiry.delivered"
        case .claim: "inquiry.claimed"
        case .release: "inquiry.released"
        case .accept: "inquiry.accepted"
        case .handoff: "inquiry.handoff"
        case .returnToFrontOffice: "inquiry.returned"
        case .reply: "inquiry.answered"
        case .requestInformation: "inquiry.awaiting_citizen"
        case .close: "inquiry.closed"
        case .reopen: "inquiry.reopened"
        case .park: "inquiry.parked"
        case .requeue: "inquiry.requeued"
        case .citizenReplied: "inquiry.citizen_replied"
        }
    }
}
