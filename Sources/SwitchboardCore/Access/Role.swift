import SwitchboardProtocol

/// What a key may do, taken from the authorised-keys file and never from anything a
/// peer sends (see `Protocols/5-security.md`).
public enum Role: Sendable, Hashable, CustomStringConvertible {
    /// A capture gateway: ingests inquiries and serves `outbound.<platform>`.
    case gateway
    /// A department's worker process: may register only for its department's service.
    case worker(department: String)
    /// A contact-centre agent acting for one department.
    case agent(department: String)
    /// An agent who may also requeue parked inquiries of the department.
    case supervisor(department: String)
    /// Writes the channel registry.
    case registryAdmin
    /// Operations: `sb.admin.*` and read-only views across departments.
    case ops

    /// Every role's name, as keys name them.
    public static let names = ["gateway", "worker", "agent", "supervisor", "registry-admin", "ops"]

    /// Parses `role` and, for the roles that have one, `department`.
    public init(name: String, department: String?) throws(AccessError) {
        let needsDepartment = ["worker", "agent", "supervisor"].contains(name)
        if needsDepartment, department?.isEmpty ?? true { throw .invalid("role \(name) needs a department") }
        if !needsDepartment, department != nil { throw .invalid("role \(name) takes no department") }
        switch name {
        case "gateway": self = .gateway
        case "worker": self = .worker(department: department!)
        case "agent": self = .agent(department: department!)
        case "supervisor": self = .supervisor(department: department!)
        case "registry-admin": self = .registryAdmin
        case "ops": self = .ops
        default: throw .invalid("unknown role \(name); expected gateway, worker, agent, supervisor, registry-admin or ops")
        }
    }

    public var name: String {
        switch self {
        case .gateway: "gateway"
        case .worker: "worker"
        case .agent: "agent"
        case .supervisor: "supervisor"
        case .registryAdmin: "registry-admin"
        case .ops: "ops"
        }
    }

    public var department: String? {
        switch self {
        case .worker(let department), .agent(let department), .supervisor(let department): department
        case .gateway, .registryAdmin, .ops: nil
        }
    }

    public var description: String { department.map { "\(name):\($0)" } ?? name }
}

/// Something a peer asks to do, as the access rules see it.
public enum AccessRequest: Sendable, Equatable {
    /// `sb.ingest`, and the gateways' reports (`sb.outbound.status`, `sb.gateway.accounts`).
    case ingest
    /// READY for a service.
    case serve(service: String)
    /// An agent move (`sb.agent.*` but the reads) for a department.
    case move(department: String)
    /// `sb.agent.list` or `sb.agent.timeline`, for a department or (nil) across them.
    case read(department: String?)
    /// `sb.admin.requeue` of an inquiry of a department.
    case requeue(department: String)
    /// Another `sb.admin.*` service.
    case admin
    /// A write to the channel registry.
    case registryWrite
    /// `sb.citizen.*`: one citizen across departments and platforms, for the contact
    /// centre's people (agents, supervisors) and operations.
    case citizen
    /// A plain 7/MDP request to a department's service, or `mmi.*`.
    case request
}

/// The role table: who may do what.
public enum AccessRules {
    /// Nil when allowed; else the roles that would be.
    public static func check(_ role: Role, _ request: AccessRequest) -> String? {
        switch (request, role) {
        case (.request, _): return nil
        case (.ingest, .gateway): return nil
        case (.ingest, _): return "gateway"
        case (.serve(let service), .gateway) where service.hasPrefix(ServiceName.outboundPrefix): return nil
        case (.serve(let service), .worker(let department)) where service == department: return nil
        case (.serve(let service), _):
            return service.hasPrefix(ServiceName.outboundPrefix) ? "gateway" : "worker:\(service)"
        case (.move(let department), .agent(let own)), (.move(let department), .supervisor(let own)):
            return department == own ? nil : "agent:\(department) or supervisor:\(department)"
        case (.move(let department), _): return "agent:\(department) or supervisor:\(department)"
        case (.read, .ops): return nil
        case (.read(let department), .agent(let own)), (.read(let department), .supervisor(let own)):
            return department == own ? nil : "agent:\(department ?? "<department>") or ops"
        case (.read(let department), _): return "agent:\(department ?? "<department>") or ops"
        case (.requeue, .ops): return nil
        case (.requeue(let department), .supervisor(let own)) where department == own: return nil
        case (.requeue(let department), _): return "supervisor:\(department) or ops"
        case (.admin, .ops): return nil
        case (.admin, _): return "ops"
        case (.citizen, .agent), (.citizen, .supervisor), (.citizen, .ops): return nil
        case (.citizen, _): return "agent, supervisor or ops"
        case (.registryWrite, .registryAdmin): return nil
        case (.registryWrite, _): return "registry-admin"
        }
    }
}

public struct AccessError: Error, Equatable, Sendable, CustomStringConvertible {
    public let line: Int?
    public let message: String

    public static func invalid(_ message: String, line: Int? = nil) -> AccessError { AccessError(line: line, message: message) }

    public var description: String { line.map { "line \($0): \(message)" } ?? message }
}
