/// What a reloaded configuration changes, in words for the log and the operator: the
/// broker logs it when SIGHUP reloads the file, so that "what did the reload do?" has an
/// answer without a diff of two YAML files.
public struct ConfigurationChanges: Sendable, Equatable {
    public var departmentsAdded: [String] = []
    public var departmentsRemoved: [String] = []
    public var rulesAdded: [String] = []
    public var rulesRemoved: [String] = []
    /// Rules kept by name whose department, priority, tags or place in the order changed.
    public var rulesChanged: [String] = []
    /// Other sections that changed: `sla`, `retention`, `limits`, `agents`, `case_prefix`,
    /// `front_office`, `departments` (names, accounts or workers of kept departments).
    public var sections: [String] = []

    public init(from old: SwitchboardConfiguration, to new: SwitchboardConfiguration) {
        let oldIDs = old.departments.map(\.id), newIDs = new.departments.map(\.id)
        departmentsAdded = newIDs.filter { !oldIDs.contains($0) }
        departmentsRemoved = oldIDs.filter { !newIDs.contains($0) }
        let oldRules = old.rules.map(\.name), newRules = new.rules.map(\.name)
        rulesAdded = newRules.filter { !oldRules.contains($0) }
        rulesRemoved = oldRules.filter { !newRules.contains($0) }
        for rule in new.rules {
            guard let before = old.rules.firstIndex(where: { $0.name == rule.name }) else { continue }
            let was = old.rules[before]
            if was.department != rule.department || was.priority != rule.priority || was.tags != rule.tags
                || oldRules.filter(newRules.contains).firstIndex(of: rule.name) != newRules.filter(oldRules.contains).firstIndex(of: rule.name) {
                rulesChanged.append(rule.name)
            }
        }
        if old.sla != new.sla { sections.append("sla") }
        if old.retention != new.retention { sections.append("retention") }
        if old.maxTextLength != new.maxTextLength || old.maxDeliveries != new.maxDeliveries || old.maxReadyBacklog != new.maxReadyBacklog {
            sections.append("limits")
        }
        if old.claimLease != new.claimLease { sections.append("agents") }
        if old.caseNumbering != new.caseNumbering { sections.append("case_prefix") }
        if old.frontOffice != new.frontOffice { sections.append("front_office") }
        let kept = new.departments.filter { department in old.departments.contains { $0.id == department.id } }
        if kept.contains(where: { department in old.departments.first { $0.id == department.id } != department }) {
            sections.append("departments")
        }
    }

    public var isEmpty: Bool {
        departmentsAdded.isEmpty && departmentsRemoved.isEmpty && rulesAdded.isEmpty && rulesRemoved.isEmpty && rulesChanged.isEmpty
            && sections.isEmpty
    }

    /// One line: "departments added: parks; rules changed: potholes; sla changed".
    public var summary: String {
        var parts: [String] = []
        func list(_ name: String, _ items: [String]) { if !items.isEmpty { parts.append("\(name): \(items.joined(separator: ", "))") } }
        list("departments added", departmentsAdded)
        list("departments removed", departmentsRemoved)
        list("rules added", rulesAdded)
        list("rules removed", rulesRemoved)
        list("rules changed", rulesChanged)
        if !sections.isEmpty { parts.append("changed: \(sections.joined(separator: ", "))") }
        return parts.isEmpty ? "nothing changed" : parts.joined(separator: "; ")
    }
}
