import Foundation
import Testing
@testable import SwitchboardCore

@Suite struct ConfigurationTests {
    @Test func embeddedDemoCityLoadsAndMatchesTheDeployCopy() throws {
        let demo = SwitchboardConfiguration.demo()
        #expect(demo.frontOffice == "front-office")
        #expect(demo.departments.count >= 7)
        #expect(demo.rules.count >= 7)
        let deployFile = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../deploy/switchboard.yaml").standardized
        #expect(try String(contentsOf: deployFile, encoding: .utf8) == demoCityYAML)
    }

    @Test func demoCityRoutesTypicalInquiries() {
        let router = SwitchboardConfiguration.demo().router
        #expect(router.route(inquiry("There's a burst pipe flooding our street")).department == "water")
        #expect(router.route(inquiry("Streetlight is out on Elm")).department == "roads")
        #expect(router.route(inquiry("Hello", account: "@RivertonWaste")).department == "waste")
        #expect(router.route(inquiry("Thanks for the great festival")).department == "front-office")
    }

    func error(_ yaml: String) -> ConfigurationError? {
        do { _ = try SwitchboardConfiguration.parse(yaml: yaml); return nil } catch { return error }
    }

    @Test func errorsGiveTheLineAndTheField() {
        let base = """
            departments:
              - id: front-office
              - id: waste
            rules:
              - name: bins
                department: wast
            """
        let typo = error(base)
        #expect(typo?.line == 6)
        #expect(typo?.field == "rules[0].department")
        #expect(typo?.message.contains("\"wast\"") == true)

        let unknownKey = error("departments:\n  - id: front-office\n    colour: blue\n")
        #expect(unknownKey?.line == 3)
        #expect(unknownKey?.field == "departments[0].colour")

        let priority = error("departments:\n  - id: front-office\nrules:\n  - name: r\n    department: front-office\n    priority: asap\n")
        #expect(priority?.line == 6)
        #expect(priority?.field == "rules[0].priority")

        let regex = error("departments:\n  - id: front-office\nrules:\n  - name: r\n    department: front-office\n    match:\n      regex: \"([\"\n")
        #expect(regex?.line == 7)

        let syntax = error("departments:\n  - id: [unclosed\n")
        #expect(syntax?.line != nil)
        #expect(syntax?.message.hasPrefix("YAML syntax") == true)
    }

    @Test func namesAndReferencesAreChecked() {
        #expect(error("departments:\n  - id: waste\n")?.field == "front_office")
        #expect(error("departments:\n  - id: front-office\n  - id: front-office\n")?.message.contains("twice") == true)
        #expect(error("departments:\n  - id: sb.ingest\n")?.message.contains("reserved") == true)
        #expect(error("departments:\n  - id: Waste Dept\n")?.field == "departments[0].id")
        #expect(error("front_office: fo\ndepartments:\n  - id: fo\nlimits:\n  max_deliveries: 0\n")?.field == "limits.max_deliveries")
        #expect(error("")?.message == "the configuration is empty")
    }
}
