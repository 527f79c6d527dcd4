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

    /// Retention: 180 days after closing by default, spam sooner, a department's own
    /// periods first; a mistake names its field.
    @Test func retentionPeriodsComeFromTheDefaultsTheFileAndTheDepartment() throws {
        let defaults = RetentionPolicy()
        #expect(defaults.period(department: "roads", resolution: .answered) == 180 * 86_400)
        #expect(defaults.period(department: "roads", resolution: .spam) == 30 * 86_400)
        let city = try SwitchboardConfiguration.parse(yaml: """
            departments:
              - id: front-office
              - id: social-services
                retention: { closed: 2y, resolutions: { duplicate: 7d } }
            retention:
              closed: 90d
              resolutions: { spam: 1d }
              run_every: 10m
            """.replacingOccurrences(of: "2y", with: "730d"))
        #expect(city.retention.period(department: "front-office", resolution: .answered) == 90 * 86_400)
        #expect(city.retention.period(department: "front-office", resolution: .spam) == 86_400)
        #expect(city.retention.period(department: "social-services", resolution: .answered) == 730 * 86_400)
        #expect(city.retention.period(department: "social-services", resolution: .duplicate) == 7 * 86_400)
        #expect(city.retention.period(department: "social-services", resolution: .spam) == 86_400)
        #expect(city.retention.runEvery == 600)
        let mistake = error("departments:\n  - id: front-office\nretention:\n  resolutions: { junk: 1d }\n")
        #expect(mistake?.description.contains("retention.resolutions") == true, "\(String(describing: mistake))")
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
        #expect(error("departments:\n  - id: outbound.x\n")?.message.contains("reserved") == true)
        #expect(error("departments:\n  - id: Waste Dept\n")?.field == "departments[0].id")
        #expect(error("front_office: fo\ndepartments:\n  - id: fo\nlimits:\n  max_deliveries: 0\n")?.field == "limits.max_deliveries")
        #expect(error("")?.message == "the configuration is empty")
    }
}

/// Dates for the records export: strict, so an export is never silently cut short.
@Suite struct CalendarDateTests {
    @Test func daysAndZonedTimesAreReadExactly() throws {
        #expect(CalendarDate.parse("2026-11-24")?.timeIntervalSince1970 == 1_795_478_400)
        let threeOhSeven: Double = 1_795_489_620
        #expect(CalendarDate.parse("2026-11-24T03:07:00Z")?.timeIntervalSince1970 == threeOhSeven)
        #expect(CalendarDate.parse("2026-11-24T04:07:00+01:00") == CalendarDate.parse("2026-11-24T03:07:00Z"))
        #expect(CalendarDate.parse("2026-11-24T03:07:00.250Z")?.timeIntervalSince1970 == threeOhSeven + 0.25)
        #expect(CalendarDate.parse("2024-02-29") != nil)
    }

    @Test func anythingElseIsRefusedNotReadAsSomethingNearby() {
        for text in ["2026-11-24T03:07:00", "2026-11-24T03:07Z", "2026-11-25garbage", "2026-11-25 junk", "2026-11-25T99",
                     "2026-02-30", "2026-11-24T25:00:00Z", "2026-13-01", "yesterday", "01/02/2026", "2026", "", "2025-02-29"] {
            #expect(CalendarDate.parse(text) == nil, "\(text)")
        }
    }
}
