/// `sb.route.explain`: where the broker's rules would send an envelope, and why. The CLI
/// writes the same model when it explains offline from a configuration file.
public struct RouteExplanation: Codable, Equatable, Sendable {
    public var status: String
    public var department: String
    public var departmentName: String?
    public var priority: String
    public var tags: [String]
    /// The rule that matched; absent when the envelope goes to front-office triage.
    public var rule: String?
    /// Every rule tried, in order, and why it matched or not.
    public var explanation: [String]
    /// Present when the account is not an official one: the inquiry goes to front-office
    /// channel review instead.
    public var unofficialChannel: UnofficialChannel?

    public struct UnofficialChannel: Codable, Equatable, Sendable {
        public var reason: String
        public var imitatesHandle: String?

        public init(reason: String, imitatesHandle: String?) {
            self.reason = reason
            self.imitatesHandle = imitatesHandle
        }

        enum CodingKeys: String, CodingKey {
            case reason
            case imitatesHandle = "imitates_handle"
        }
    }

    public init(department: String, departmentName: String?, priority: String, tags: [String], rule: String?, explanation: [String],
                unofficialChannel: UnofficialChannel? = nil) {
        status = "ok"
        self.department = department
        self.departmentName = departmentName
        self.priority = priority
        self.tags = tags
        self.rule = rule
        self.explanation = explanation
        self.unofficialChannel = unofficialChannel
    }

    enum CodingKeys: String, CodingKey {
        case status, department, priority, tags, rule, explanation
        case departmentName = "department_name"
        case unofficialChannel = "unofficial_channel"
    }
}

/// `sb.departments`: the broker's departments, for tools (completion, checks).
public struct DepartmentList: Codable, Equatable, Sendable {
    public var status: String
    public var departments: [Department]
    public var frontOffice: String
    /// This installation's id, made when its store was created: tools tell one broker's
    /// data from another's by it (a batch import's resume point belongs to one).
    public var installation: String?

    public struct Department: Codable, Equatable, Sendable {
        public var id: String
        public var name: String

        public init(id: String, name: String) {
            self.id = id
            self.name = name
        }
    }

    public init(departments: [Department], frontOffice: String, installation: String? = nil) {
        status = "ok"
        self.departments = departments
        self.frontOffice = frontOffice
        self.installation = installation
    }

    enum CodingKeys: String, CodingKey {
        case status, departments, installation
        case frontOffice = "front_office"
    }
}
