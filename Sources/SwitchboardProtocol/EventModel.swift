/// One event of the broker's stream (3/SB-HANDOFF, "Events"): the body of every topic,
/// as subscribers decode it. Which fields are present depends on the topic: a timeline
/// move carries `from`, `to`, `role`, `actor` and `priority`; an SLA alert `level`,
/// `scope`, `goal` and its seconds; `channel.unofficial_activity` `platform`, `reason`
/// and `imitates`; a registry review `channel_id`, `platform` and `review_due`. Events
/// never carry a citizen's words or handle, nor staff notes.
///
/// The broker writes events by hand (one per move, on the hot path); its tests decode
/// every kind through this model.
public struct StreamEvent: Codable, Equatable, Sendable {
    /// The topic, repeated: `inquiry.routed`, `sla.breached`, `channel.review_due`, ….
    public var event: String
    public var at: String
    public var inquiryID: String?
    /// The inquiry's case number (`R-4821`), with timeline moves.
    public var caseNumber: String?
    public var channelID: String?
    public var department: String?
    public var from: String?
    public var to: String?
    public var role: String?
    public var actor: Actor?
    public var priority: String?
    public var level: String?
    public var scope: String?
    public var goal: String?
    public var targetSeconds: Double?
    public var elapsedSeconds: Double?
    public var platform: String?
    public var reason: String?
    /// The registry entry an unofficial account imitates.
    public var imitates: String?
    public var reviewDue: String?
    /// The city's own account, with `account.*` events.
    public var account: String?
    /// Since when an account needs re-authorisation.
    public var since: String?

    public struct Actor: Codable, Equatable, Sendable {
        /// agent, worker, department or system.
        public var kind: String
        public var id: String

        public init(kind: String, id: String) {
            self.kind = kind
            self.id = id
        }
    }

    enum CodingKeys: String, CodingKey {
        case event, at, department, from, to, role, actor, priority, level, scope, goal, platform, reason, imitates, account, since
        case inquiryID = "inquiry_id"
        case caseNumber = "case"
        case channelID = "channel_id"
        case targetSeconds = "target_seconds"
        case elapsedSeconds = "elapsed_seconds"
        case reviewDue = "review_due"
    }
}
