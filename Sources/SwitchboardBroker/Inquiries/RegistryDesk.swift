import Foundation
import SwitchboardCore
import SwitchboardProtocol

/// The central registry of official accounts as a pure machine: what staff ask of it
/// (`sb.channels.*`), what it says of the account an inquiry came through, and which
/// accounts a department may answer through. It holds the registry and the caches of
/// those answers (few distinct accounts, many inquiries), cleared whenever an entry
/// changes. It knows no socket and no batch: a change comes out as ``Outcome/changed``,
/// for the inquiry machine to store and answer once durable.
struct RegistryDesk {
    enum Outcome {
        /// Answer now; nothing changed.
        case answer(InquiryReply)
        /// This entry is new or changed: store it, then answer.
        case changed(ChannelEntry, InquiryReply)
    }

    private(set) var registry = ChannelRegistry()
    private var configuration: SwitchboardConfiguration
    private var verdicts: [String: ChannelVerdict] = [:]
    private var replyAccountsCache: [String: String] = [:]
    /// Review alerts already raised, so each is raised once per broker run.
    private var announcedReviews: Set<String> = []

    init(configuration: SwitchboardConfiguration) {
        self.configuration = configuration
    }

    mutating func reconfigure(_ fresh: SwitchboardConfiguration) {
        configuration = fresh
        forgetAnswers()
    }

    private mutating func forgetAnswers() {
        verdicts = [:]
        replyAccountsCache = [:]
    }

    /// The registry as stored; on first start (nothing stored) it is seeded from the
    /// configuration's accounts, each obeying the same rules. Returns the entries to
    /// store, and the accounts the rules refused (platform, error code).
    mutating func restore(_ entries: [ChannelEntry], now: Date) -> (seeded: [ChannelEntry], refused: [(platform: String, code: String)]) {
        registry = ChannelRegistry(entries: entries)
        forgetAnswers()
        guard entries.isEmpty else { return ([], []) }
        var seeded: [ChannelEntry] = [], refused: [(platform: String, code: String)] = []
        for department in configuration.departments {
            for account in department.accounts {
                let owner = department.id == configuration.frontOffice ? nil : department.id
                do {
                    let entry = try registry.register(platform: account.platform, handle: account.handle, department: owner,
                                                      actor: "configuration", now: now)
                    seeded.append(try registry.apply(.approve, to: entry.id, actor: "configuration", reason: "seeded from the configuration", now: now))
                } catch {
                    refused.append((account.platform.rawValue, error.code.rawValue))
                }
            }
        }
        return (seeded, refused)
    }

    /// What the registry says of the account an inquiry came through (cached).
    mutating func verdict(for source: Inquiry.Source) -> ChannelVerdict {
        let key = "\(source.platform.rawValue)\u{1F}\(source.account)"
        if let known = verdicts[key] { return known }
        let verdict = registry.verify(ChannelHandle(platform: source.platform, source.account))
        if verdicts.count > 10_000 { verdicts = [:] }
        verdicts[key] = verdict
        return verdict
    }

    /// The accounts a department may answer through on a platform, as a JSON array
    /// (cached: few departments and platforms, many deliveries).
    mutating func replyAccountsJSON(platform: Platform, department: String) -> String {
        let key = "\(platform.rawValue)\u{1F}\(department)"
        if let known = replyAccountsCache[key] { return known }
        var writer = JSONWriter()
        writer.add("a", strings: registry.replyAccounts(platform: platform, department: department).map(\.handle))
        // {"a":[...]} → [...]
        let json = String(writer.result.dropFirst(5).dropLast())
        replyAccountsCache[key] = json
        return json
    }

    /// A message leaves only through an active account owned by the department or shared
    /// by the front office, on the inquiry's platform; a refusal names the ones allowed.
    func checkReplyAccount(_ account: String, platform: Platform, department: String) throws(AgentError) {
        let allowed = registry.replyAccounts(platform: platform, department: department)
        let wanted = ChannelHandle(platform: platform, account).canonical
        guard allowed.contains(where: { ChannelHandle(platform: platform, $0.handle).canonical == wanted }) else {
            throw .unofficialAccount(platform, allowed: allowed.map(\.handle))
        }
    }

    /// Entries whose review is due at `now`, each once per broker run.
    mutating func reviewsDue(at now: Date) -> [(entry: ChannelEntry, overdue: Bool)] {
        registry.reviews(at: now).filter { entry, overdue in announcedReviews.insert("\(entry.id)/\(overdue)").inserted }
    }

    /// A `sb.channels.*` request by `actor` (the key's name with CURVE).
    mutating func handle(_ service: ChannelService, request: AgentRequest, actor: String, now: Date) -> Outcome {
        do {
            switch service {
            case .list:
                let platform = request.optional("platform"), department = request.optional("department"), status = request.optional("status")
                let entries = registry.entries.filter { entry in
                    (platform == nil || entry.platform.rawValue == platform) && (department == nil || entry.department == department)
                        && (status == nil || entry.status.rawValue == status)
                }
                let missing = configuredAccountsNotActive().filter { account in
                    (platform == nil || account.platform == platform) && (department == nil || account.department == department)
                }
                return .answer(.model(ChannelList(channels: entries.map(\.item), notRegistered: missing)))
            case .show, .history:
                let id = try registry.resolve(try request.string("id"))
                guard let entry = registry.entry(id) else { throw ChannelError.notFound(id) }
                let answer = service == .show
                    ? ChannelAnswer(channel: entry.item, history: entry.changes)
                    : ChannelAnswer(id: id, history: entry.changes)
                return .answer(.model(answer))
            case .verify:
                let text = try request.string("handle")
                let platform = try request.optional("platform").map { name throws(AgentError) -> Platform in
                    guard let platform = Platform(rawValue: name) else { throw .invalid(field: "platform", "not a known platform") }
                    return platform
                }
                guard let handle = ChannelHandle.parse(text, platform: platform) else {
                    throw AgentError.invalid(field: "handle", "give a handle with platform, or a profile URL")
                }
                let named = handle.platform.rawValue
                let answer = switch registry.verify(handle) {
                case .official(let entry): ChannelVerification(platform: named, verdict: .official, channel: entry.item)
                case .inactive(let entry):
                    // Never `active` (that is `.official`): under review, suspended or archived.
                    ChannelVerification(platform: named, verdict: ChannelVerification.Verdict(rawValue: entry.status.rawValue) ?? .suspended, channel: entry.item)
                case .lookalike(let entry, let why): ChannelVerification(platform: named, verdict: .lookalikeOf, channel: entry.item, why: why)
                case .unknown: ChannelVerification(platform: named, verdict: .unknown)
                }
                return .answer(.model(answer))
            case .register:
                let platformName = try request.string("platform")
                guard let platform = Platform(rawValue: platformName) else { throw AgentError.invalid(field: "platform", "not a known platform") }
                let department = request.optional("department")
                if let department, !configuration.departmentIDs.contains(department) { throw AgentError.unknownDepartment(department, known: configuration.departmentIDs.sorted()) }
                if request.has("contacts"), request.strings("contacts") == nil {
                    throw AgentError.invalid(field: "contacts", "must be an array of strings (names or addresses of the account's keepers)")
                }
                let entry = try registry.register(
                    platform: platform, handle: try request.string("handle"), displayName: request.optional("display_name"),
                    url: request.optional("url"), department: department == configuration.frontOffice ? nil : department,
                    contacts: request.strings("contacts") ?? [], actor: actor, override: request.optional("override"),
                    exception: request.optional("exception"), now: now
                )
                return changed(entry)
            case .approve, .suspend, .reactivate, .archive:
                return changed(try registry.apply(service.action!, to: try request.string("id"), actor: actor, reason: request.optional("reason"), now: now))
            }
        } catch let error as ChannelError {
            return .answer(error.reply)
        } catch let error as AgentError {
            return .answer(.agentError(error))
        } catch {
            return .answer(.unavailable)
        }
    }

    private mutating func changed(_ entry: ChannelEntry) -> Outcome {
        forgetAnswers()
        return .changed(entry, .model(ChannelAnswer(channel: entry.item)))
    }

    /// Accounts the configuration names that the registry does not hold as active, each
    /// with the command that registers it (or the one that reactivates it).
    func configuredAccountsNotActive() -> [ConfiguredAccount] {
        configuration.departments.flatMap { department in
            department.accounts.compactMap { account -> ConfiguredAccount? in
                let owner = department.id == configuration.frontOffice ? nil : department.id
                let under = owner.map { " --for \($0)" } ?? ""
                switch registry.verify(ChannelHandle(platform: account.platform, account.handle)) {
                case .official:
                    return nil
                case .inactive(let entry):
                    let fix = entry.status == .suspended ? "switchboard channels reactivate \(entry.id.prefix(8)) --reason ..."
                        : entry.status == .underReview ? "switchboard channels approve \(entry.id.prefix(8))"
                        : "switchboard channels register --platform \(account.platform.rawValue) --handle '\(account.handle)'\(under)"
                    return ConfiguredAccount(platform: account.platform.rawValue, handle: account.handle, department: owner,
                                             registry: entry.status.rawValue, fix: fix)
                case .lookalike, .unknown:
                    return ConfiguredAccount(platform: account.platform.rawValue, handle: account.handle, department: owner, registry: "not_registered",
                                             fix: "switchboard channels register --platform \(account.platform.rawValue) --handle '\(account.handle)'\(under), then approve it")
                }
            }
        }
    }

    /// The same, as log lines for start-up and reloads.
    func unregisteredAccounts() -> [String] {
        configuredAccountsNotActive().map { account in
            "configured account \(account.platform) \(account.handle) (\(account.department ?? "front office")) is \(account.registry.replacingOccurrences(of: "_", with: " ")) in the channel registry, "
                + "so it is not official: replies through it are refused and inquiries to it are flagged. To make it official: \(account.fix)"
        }
    }
}
