import Foundation
import SwitchboardCore
import SwitchboardProtocol
import SwitchboardStore

/// `sb.citizen.*`: one citizen across platforms. Answered off the engine thread (the read
/// lane), from the store: links are written there with their audit, in one transaction,
/// and never through the journal (they are a person's decision about identities, not an
/// inquiry's event). Proposals are computed when asked and never applied: only an agent
/// links (see Protocols/7-data-protection.md, "One citizen across channels").
struct CitizenDesk {
    let store: any InquiryStore
    let configuration: SwitchboardConfiguration
    let hash: CitizenHash
    let now: Date
    /// The caller's role with CURVE: an agent's proposals come from their department's inquiries.
    var role: Role? = nil

    /// The most identities one citizen may have: a link that would join more is refused
    /// (a chain longer than a person has accounts is an agent's mistake).
    static let maxIdentities = 25
    /// How far a group is followed when it is erased: every identity, whatever the cap
    /// said when the links were made.
    static let erasureReach = 10_000
    /// Inquiries listed (newest first).
    static let listed = 200
    /// How far back proposals look for the same e-mail address, number or name.
    static let proposalWindow: TimeInterval = 90 * 86_400
    /// Hints (addresses, numbers, platforms) looked up per listing, from the newest inquiries.
    static let hintsLookedUp = 8

    func answer(_ service: CitizenService, _ request: AgentRequest, actor: String) -> InquiryReply {
        do {
            switch service {
            case .show: return .model(try show(request))
            case .link, .unlink: return .model(try change(service, request, actor: actor))
            }
        } catch let error as AgentError {
            return .agentError(error)
        } catch {
            return .unavailable
        }
    }

    /// Every identity `start` is linked to, through any number of links, itself included,
    /// in order; followed until `reach` identities are known.
    static func group(of start: CitizenIdentity, in store: any InquiryStore, reach: Int = maxIdentities) throws(StoreError) -> [CitizenIdentity] {
        var members: [CitizenIdentity] = [start], links: [(CitizenIdentity, CitizenIdentity)] = [], asked: Set<CitizenIdentity> = []
        while members.count <= reach {
            let fresh = members.filter { !asked.contains($0) }
            guard !fresh.isEmpty else { break }
            asked.formUnion(fresh)
            links += try store.links(touching: fresh).map { ($0.a, $0.b) }
            members = CitizenGroup.members(from: start, links: links)
        }
        guard members.count > reach else { return members }
        // The one asked about stays whatever the cut.
        return ([start] + members.filter { $0 != start }.prefix(reach - 1)).sorted()
    }

    static func identity(_ request: AgentRequest, _ field: String) throws(AgentError) -> CitizenIdentity {
        switch CitizenIdentity.parse(try request.string(field)) {
        case .success(let identity): return identity
        case .failure(let reason): throw .invalid(field: field, reason.description)
        }
    }

    private func show(_ request: AgentRequest) throws -> CitizenAnswer {
        let citizen = try Self.identity(request, "citizen")
        let identities = try Self.group(of: citizen, in: store)
        let inquiries = try store.citizenInquiries(identities, limit: Self.listed)
        let links = try store.links(touching: identities)
        // The audit names identities by hash: those of this citizen are named again here.
        let names = Dictionary(identities.map { (hash(platform: $0.platform, handle: $0.handle), $0.description) }, uniquingKeysWith: { a, _ in a })
        let history = try store.linkAudit(hashes: Array(names.keys), limit: 200).map { entry in
            CitizenAnswer.HistoryEntry(at: Timestamp.format(entry.at), actor: entry.actor, action: entry.action.rawValue,
                                       a: names[entry.aHash] ?? "hash:" + entry.aHash.prefix(12), b: names[entry.bHash] ?? "hash:" + entry.bHash.prefix(12),
                                       note: entry.note)
        }
        let numbering = configuration.caseNumbering
        var answer = CitizenAnswer(
            citizen: citizen.description, identities: identities.map(\.description),
            inquiries: try inquiries.map { inquiry in
                var item = CitizenAnswer.Inquiry(id: inquiry.id.description, caseNumber: numbering.format(inquiry.caseNumber),
                                                 identity: inquiry.identity.description, platform: inquiry.identity.platform.rawValue,
                                                 state: inquiry.state.rawValue, department: inquiry.department, resolution: inquiry.resolution?.rawValue,
                                                 duplicateOf: inquiry.duplicateOf?.description, receivedAt: inquiry.receivedAt)
                item.duplicateOfCase = try inquiry.duplicateOf.flatMap { other in try caseNumber(of: other, among: inquiries) }
                return item
            },
            links: links.map { CitizenAnswer.Link(a: $0.a.description, b: $0.b.description, actor: $0.actor, note: $0.note, at: Timestamp.format($0.at)) },
            history: history, proposals: try proposals(for: Set(identities), inquiries: readable(inquiries)))
        // Nothing held, but erased on request: say so, rather than "never wrote".
        let erased = try store.erasures(citizenHash: hash(platform: citizen.platform, handle: citizen.handle))
        if inquiries.isEmpty, !erased.isEmpty { answer.erasedAt = erased.map(Timestamp.format) }
        return answer
    }

    /// The case number of `id`, from the listing or the store.
    private func caseNumber(of id: InquiryID, among inquiries: [CitizenInquiry]) throws -> String? {
        let number = try inquiries.first { $0.id == id }?.caseNumber ?? store.record(id)?.caseNumber
        return number.map(configuration.caseNumbering.format)
    }

    /// The inquiries whose words may ground a proposal: for an agent or a supervisor, those
    /// their department holds (none: no proposal, so the listing cannot be used to search
    /// other departments' words for an address); for operations and in plain mode, all.
    private func readable(_ inquiries: [CitizenInquiry]) -> [CitizenInquiry]? {
        guard let role, role != .ops else { return inquiries }
        let own = inquiries.filter { $0.department == role.department }
        return own.isEmpty ? nil : own
    }

    /// Where a hint came from: the words of some of the citizen's inquiries, or one of the
    /// citizen's identities itself (an e-mail address, a WhatsApp number).
    private struct Ground {
        var hint: ContactHint
        var inquiries: [InquiryID] = []
        var identity: CitizenIdentity?

        /// Why the agent is shown a proposal resting on this ground, in words.
        var reason: String {
            guard let identity else { return hint.reason }
            switch hint {
            case .email: return "their words give \(identity)'s e-mail address"
            case .phone: return "their words give \(identity)'s telephone number"
            default: return hint.reason
            }
        }
    }

    /// Identities the citizen's own words, or others' words, tie to this citizen: the same
    /// e-mail address or telephone number in two conversations, an identity the citizen
    /// names, "I also wrote on Facebook" with the same display name there. Each names the
    /// cases it rests on: where the hint was found, and where it was matched.
    private func proposals(for group: Set<CitizenIdentity>, inquiries: [CitizenInquiry]?) throws -> [CitizenAnswer.Proposal] {
        guard let inquiries else { return [] }
        var grounds: [Ground] = []
        func add(_ hint: ContactHint, from inquiry: InquiryID? = nil, identity: CitizenIdentity? = nil) {
            if let index = grounds.firstIndex(where: { $0.hint == hint }) {
                if let inquiry, !grounds[index].inquiries.contains(inquiry) { grounds[index].inquiries.append(inquiry) }
            } else {
                grounds.append(Ground(hint: hint, inquiries: inquiry.map { [$0] } ?? [], identity: identity))
            }
        }
        for identity in group.sorted() {
            // An address or a number is an identity on e-mail and WhatsApp: others may quote it.
            if identity.platform == .email, let address = ContactHints.email(identity.handle) { add(.email(address), identity: identity) }
            if identity.platform == .whatsapp, let number = ContactHints.phoneNumbers(identity.handle).first { add(.phone(number), identity: identity) }
        }
        for inquiry in inquiries.prefix(50) {
            for hint in ContactHints.extract(inquiry.text ?? "") { add(hint, from: inquiry.id) }
        }
        let from = Timestamp.format(now.addingTimeInterval(-Self.proposalWindow))
        let name = inquiries.lazy.compactMap(\.authorName).first
        var found: [(identity: CitizenIdentity, reason: String, inquiries: [InquiryID])] = []
        func propose(_ identity: CitizenIdentity, _ ground: Ground, _ inquiry: InquiryID) {
            guard !group.contains(identity) else { return }
            if let index = found.firstIndex(where: { $0.identity == identity }) {
                if !found[index].inquiries.contains(inquiry) { found[index].inquiries.append(inquiry) }
            } else {
                found.append((identity, ground.reason, ground.inquiries + [inquiry]))
            }
        }
        for ground in grounds.prefix(Self.hintsLookedUp) {
            var named: CitizenIdentity?
            switch ground.hint {
            case .identity(let identity): named = identity
            case .email(let address): named = CitizenIdentity(platform: .email, handle: address)
            case .phone, .platform: break
            }
            if let named, !group.contains(named), let first = try store.citizenInquiries([named], limit: 1).first { propose(named, ground, first.id) }
            // The citizen's own inquiries match too: enough rows that others still show.
            for match in try store.identities(mentioning: ground.hint, name: name, receivedFrom: from, limit: Self.listed) {
                propose(match.identity, ground, match.inquiry)
            }
        }
        return try found.map { proposal in
            CitizenAnswer.Proposal(identity: proposal.identity.description, reason: proposal.reason,
                                   cases: try proposal.inquiries.map { id in try caseNumber(of: id, among: inquiries) ?? id.description })
        }
    }

    private func change(_ service: CitizenService, _ request: AgentRequest, actor: String) throws -> CitizenLinkAnswer {
        let a = try Self.identity(request, "a"), b = try Self.identity(request, "b")
        guard a != b else { throw AgentError.invalid(field: "b", "names the same identity as a; give two different identities") }
        // Every link and unlink says why: the audit keeps the reason until an erasure.
        let note = try request.string("note")
        let audit = CitizenLinkAudit(at: now, actor: actor, action: service == .link ? .link : .unlink,
                                     aHash: hash(platform: min(a, b).platform, handle: min(a, b).handle),
                                     bHash: hash(platform: max(a, b).platform, handle: max(a, b).handle), note: note)
        guard service == .link else {
            let changed = try store.unlink(a, b, audit: audit)
            return CitizenLinkAnswer(changed: changed, identities: try Self.group(of: a, in: store).map(\.description))
        }
        // Linked, the two groups are one: the citizen's identities after the link.
        let joined = Set(try Self.group(of: a, in: store)).union(try Self.group(of: b, in: store))
        guard joined.count <= Self.maxIdentities else {
            throw AgentError.invalid(field: "b", "linking would make one citizen of \(joined.count) identities, more than \(Self.maxIdentities); "
                                     + "check the links with 'switchboard citizen show' and unlink what is not this person's")
        }
        let changed = try store.link(CitizenLink(a, b, actor: actor, note: note, at: now), audit: audit)
        return CitizenLinkAnswer(changed: changed, identities: joined.sorted().map(\.description))
    }
}
