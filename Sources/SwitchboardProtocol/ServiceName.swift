/// The broker's own 7/MDP services, by name, for the broker, the CLI, the benchmark and
/// the tests alike.
///
/// Three prefixes are kept from workers: `mmi.` (8/MMI, answered by the broker), `sb.`
/// (these services) and `outbound.` (publishing gateways: only a key with the gateway
/// role may serve one, and only the broker sends them requests).
public enum ServiceName {
    public static let mmiPrefix = "mmi."
    public static let switchboardPrefix = "sb."
    public static let outboundPrefix = "outbound."

    /// A gateway hands over one captured post (see 2-inquiry-envelope.md).
    public static let ingest = "sb.ingest"
    /// A gateway reports what became of a posted message (delivered, read, or failed
    /// after all), as the platform tells it later (see 8-gateways.md).
    public static let outboundStatus = "sb.outbound.status"
    /// A gateway reports the accounts whose token a platform refused (see 8-gateways.md).
    public static let gatewayAccounts = "sb.gateway.accounts"
    /// The broker's departments, ids and names (for tools: completion, checks).
    public static let departments = "sb.departments"
    /// Applies the broker's routing rules to an envelope and says why; stores nothing.
    public static let routeExplain = "sb.route.explain"

    /// The publishing gateway service for `platform`.
    public static func outbound(_ platform: String) -> String { outboundPrefix + platform }

    /// Whether `service` is answered by the broker itself, so no worker may register it.
    public static func isBrokers(_ service: String) -> Bool {
        service.hasPrefix(mmiPrefix) || service.hasPrefix(switchboardPrefix)
    }
}

/// Operators' services (the `ops` role).
public enum AdminService: String, CaseIterable, Sendable {
    /// A parked inquiry goes back to its queue.
    case requeue = "sb.admin.requeue"
    /// Removes a citizen's personal data on request.
    case erase = "sb.admin.erase"
    /// The official record of closed inquiries, page by page.
    case export = "sb.admin.export"
    /// The manager's report: figures per department and platform for a window.
    case report = "sb.admin.report"
}

/// The contact centre's services: JSON in, JSON out, each call naming the agent and the
/// department it acts for. They are the back end of the `switchboard` CLI.
public enum AgentService: String, CaseIterable, Sendable {
    case list = "sb.agent.list"
    case claim = "sb.agent.claim"
    case renew = "sb.agent.renew"
    case release = "sb.agent.release"
    case reply = "sb.agent.reply"
    case handoff = "sb.agent.handoff"
    case returnToFrontOffice = "sb.agent.return"
    case requestInformation = "sb.agent.request-info"
    case close = "sb.agent.close"
    case reopen = "sb.agent.reopen"
    case timeline = "sb.agent.timeline"
    /// One inquiry whole: envelope, routing, state, SLA clocks and timeline.
    case show = "sb.agent.show"
    /// The ids that start with a prefix, so people can type short ids.
    case resolve = "sb.agent.resolve"
}

/// One citizen across channels (see 7-data-protection.md): the identities linked to one,
/// their inquiries across platforms, and the links proposed; for agents and operators.
public enum CitizenService: String, CaseIterable, Sendable {
    /// A citizen's identities, inquiries (newest first), links, their history and proposals.
    case show = "sb.citizen.show"
    /// Links two identities as one citizen's, with the agent's reason.
    case link = "sb.citizen.link"
    /// Removes a link, with the agent's reason.
    case unlink = "sb.citizen.unlink"
}

/// The central registry of official channels (see 6-channel-registry.md).
public enum ChannelService: String, CaseIterable, Sendable {
    case list = "sb.channels.list"
    case show = "sb.channels.show"
    case register = "sb.channels.register"
    case approve = "sb.channels.approve"
    case suspend = "sb.channels.suspend"
    case reactivate = "sb.channels.reactivate"
    case archive = "sb.channels.archive"
    case verify = "sb.channels.verify"
    case history = "sb.channels.history"
}
