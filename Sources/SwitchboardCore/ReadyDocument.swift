/// What `switchboardd --ready-file` writes once its sockets are bound, for scripts, tests
/// and the benchmark that need the endpoints without reading the log:
/// `{"data":"/abs/dir","events_endpoint":"tcp://127.0.0.1:40002","mdp_endpoint":"tcp://127.0.0.1:40001","pid":123}`,
/// `events_endpoint` null when the event stream is off.
public struct ReadyDocument: Codable, Sendable, Equatable {
    public var pid: Int32
    public var mdpEndpoint: String
    public var eventsEndpoint: String?
    /// The data directory, absolute.
    public var data: String
    /// With several brokers on one PostgreSQL database (9/SB-HA): `active` or `standby`,
    /// rewritten when it changes; absent for a broker on its own.
    public var role: String?

    public init(pid: Int32, mdpEndpoint: String, eventsEndpoint: String?, data: String, role: String? = nil) {
        self.pid = pid
        self.mdpEndpoint = mdpEndpoint
        self.eventsEndpoint = eventsEndpoint
        self.data = data
        self.role = role
    }

    enum CodingKeys: String, CodingKey {
        case pid, data, role
        case mdpEndpoint = "mdp_endpoint"
        case eventsEndpoint = "events_endpoint"
    }

    /// Writes `events_endpoint` as null rather than leaving it out.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(pid, forKey: .pid)
        try container.encode(mdpEndpoint, forKey: .mdpEndpoint)
        try container.encode(eventsEndpoint, forKey: .eventsEndpoint)
        try container.encode(data, forKey: .data)
        try container.encodeIfPresent(role, forKey: .role)
    }
}
