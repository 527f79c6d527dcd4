import SwitchboardCore
import Testing

@Suite struct CaseNumberTests {
    @Test func casesAreReadInTheFormsPeopleType() {
        let numbering = CaseNumbering()
        #expect(numbering.format(4821) == "R-4821")
        for typed in ["R-4821", "r-4821", "#4821", "4821", " R-4821 "] { #expect(numbering.parse(typed) == 4821, "\(typed)") }
        // An id or its prefix is never a case: ids start with 0 for centuries.
        for typed in ["0190e5c2", "019", "R-", "R-12a", "#", "", "R-0", "4821-1"] { #expect(numbering.parse(typed) == nil, "\(typed)") }
        let custom = CaseNumbering(prefix: "CASE-")
        #expect(custom.parse("case-7") == 7 && custom.parse("#7") == 7 && custom.parse("R-7") == nil)
    }

    @Test func thePrefixAndWhoExpectsWorkersAreConfigured() throws {
        let yaml = """
            front_office: desk
            case_prefix: "RIV-"
            departments:
              - { id: desk, name: Desk }
              - { id: roads, name: Roads }
              - { id: permits, name: Permits, workers: false }
            """
        let configuration = try SwitchboardConfiguration.parse(yaml: yaml)
        #expect(configuration.caseNumbering.format(12) == "RIV-12")
        #expect(configuration.departments.map(\.expectsWorkers) == [false, true, false], "the front office is served by agents by default")
        let bad = yaml.replacingOccurrences(of: "\"RIV-\"", with: "\"R 1\"")
        #expect(throws: ConfigurationError.self) { try SwitchboardConfiguration.parse(yaml: bad) }
        let worded = yaml.replacingOccurrences(of: "workers: false", with: "workers: sometimes")
        do {
            _ = try SwitchboardConfiguration.parse(yaml: worded)
            Issue.record("workers: sometimes was accepted")
        } catch {
            #expect(error.description.contains("workers must be true or false"))
        }
    }
}
