import Foundation
import Testing
@testable import SwitchboardCore

@Suite struct ChannelRegistryTests {
    let now = Date(timeIntervalSince1970: 1_800_000_000)

    /// The city's registered accounts, all active.
    func riverton() throws -> ChannelRegistry {
        var registry = ChannelRegistry()
        let accounts: [(Platform, String, String?)] = [
            (.x, "@RivertonCity", nil), (.x, "@RivertonRoads", "roads"), (.x, "@Riverton_Parks", "parks"),
            (.facebook, "RivertonCityHall", nil), (.instagram, "riverton.city", nil),
            (.mastodon, "@city@riverton.social", nil), (.youtube, "RivertonCityTV", nil), (.x, "@RivertonWaste", "waste"),
        ]
        for (platform, handle, department) in accounts {
            let entry = try registry.register(platform: platform, handle: handle, department: department, actor: "admin", now: now)
            _ = try registry.apply(.approve, to: entry.id, actor: "admin", reason: nil, now: now)
        }
        return registry
    }

    /// Impostor handles of the kinds seen in the wild, each with the account it imitates.
    static let impostors: [(Platform, String, String)] = [
        // homoglyphs across scripts and digit swaps
        (.x, "@RivertonCіty", "@RivertonCity"),        // Cyrillic і
        (.x, "@RіvertonCity", "@RivertonCity"),
        (.x, "@Rivert0nCity", "@RivertonCity"),
        (.x, "@R1vertonCity", "@RivertonCity"),
        (.x, "@RivertonC1ty", "@RivertonCity"),
        (.x, "@RlvertonCity", "@RivertonCity"),
        (.x, "@RivertonCitу", "@RivertonCity"),        // Cyrillic у
        (.x, "@Rіvеrtоn_Cіtу", "@RivertonCity"),       // many Cyrillic letters
        (.x, "@ＲｉｖｅｒｔｏｎＣｉｔｙ", "@RivertonCity"),   // full width
        (.x, "@RivertonRoadѕ", "@RivertonRoads"),      // Cyrillic ѕ
        (.x, "@RivertonR0ads", "@RivertonRoads"),
        (.x, "@Riverton_Parks_", "@Riverton_Parks"),
        (.x, "@RivertonPark5", "@Riverton_Parks"),
        (.x, "@RivertonWaste1", "@RivertonWaste"),
        (.x, "@RivertonWastee", "@RivertonWaste"),
        // added affixes
        (.x, "@RivertonCityOfficial", "@RivertonCity"),
        (.x, "@OfficialRivertonCity", "@RivertonCity"),
        (.x, "@RealRivertonCity", "@RivertonCity"),
        (.x, "@RivertonCityGov", "@RivertonCity"),
        (.x, "@RivertonCityNews", "@RivertonCity"),
        (.x, "@RivertonCityTeam", "@RivertonCity"),
        (.x, "@RivertonCityInfo", "@RivertonCity"),
        (.x, "@RivertonCity2024", "@RivertonCity"),
        (.x, "@TheRivertonCity", "@RivertonCity"),
        (.x, "@RivertonRoadsOfficial", "@RivertonRoads"),
        // doubled letters and separators
        (.x, "@RivvertonCity", "@RivertonCity"),
        (.x, "@RivertonCiity", "@RivertonCity"),
        (.x, "@Riverton_City", "@RivertonCity"),
        (.x, "@Riverton.City", "@RivertonCity"),
        (.x, "@Riverton-City", "@RivertonCity"),
        (.x, "@RiverttonCity", "@RivertonCity"),
        // a letter dropped or swapped
        (.x, "@RivertnCity", "@RivertonCity"),
        (.x, "@RivretonCity", "@RivertonCity"),
        // other platforms
        (.facebook, "RivertonCltyHall", "RivertonCityHall"),
        (.facebook, "RivertonCityHall.Official", "RivertonCityHall"),
        (.instagram, "riverton_city_", "riverton.city"),
        (.instagram, "rivert0n.city", "riverton.city"),
        (.youtube, "RivertonCityTV1", "RivertonCityTV"),
        // Mastodon instance tricks
        (.mastodon, "@clty@riverton.social", "@city@riverton.social"),
        (.mastodon, "@city@riverton.soclal", "@city@riverton.social"),
    ]

    /// Distinct accounts of real-world shape: other cities, agencies and services.
    static let legitimate: [(Platform, String)] = [
        (.x, "@NYCMayor"), (.x, "@nycparks"), (.x, "@BostonPWD"), (.x, "@CityofChicago"), (.x, "@SFPublicWorks"),
        (.x, "@LADOTofficial"), (.x, "@TfL"), (.x, "@metoffice"), (.x, "@GOVUK"), (.x, "@NHSuk"),
        (.x, "@SeattleDOT"), (.x, "@PortlandWater"), (.x, "@AustinTexasGov"), (.x, "@DenverDOTI"), (.x, "@MiamiDadeCounty"),
        (.x, "@RivertonLibrary"), (.x, "@RivertonFireDept"), (.x, "@RivertonPolice"), (.x, "@RivertonTransit"), (.x, "@RivertonSchools"),
        (.facebook, "CityofBoston"), (.facebook, "NYCParks"), (.facebook, "RivertonPublicLibrary"), (.facebook, "SeattleCityLight"),
        (.facebook, "ChicagoDOT"), (.instagram, "nycgov"), (.instagram, "riverton.library"), (.instagram, "londonfire"),
        (.instagram, "parisjetaime"), (.instagram, "amsterdam"), (.mastodon, "@library@riverton.social"), (.mastodon, "@city@amsterdam.social"),
        (.mastodon, "@transit@riverton.social"), (.mastodon, "@gemeente@mastodon.nl"), (.youtube, "RivertonCouncilMeetings"),
        (.youtube, "NYCMayorsOffice"), (.youtube, "CityofLA"), (.x, "@RivertonAirport"), (.x, "@RivertonZoo"), (.x, "@RivertonHarbour"),
    ]

    @Test func impostorsAreRefusedAndLegitimateAccountsAccepted() throws {
        #expect(Self.impostors.count >= 40 && Self.legitimate.count >= 40)
        var registry = try riverton()
        var caught = 0, missed: [String] = []
        for (platform, handle, imitated) in Self.impostors {
            do {
                _ = try registry.register(platform: platform, handle: handle, department: nil, actor: "admin", now: now)
                missed.append(handle)
            } catch {
                switch error {
                case .lookalike(let entry, _) where entry.handle == imitated: caught += 1
                case .duplicate(let entry) where entry.handle == imitated: caught += 1
                default: missed.append("\(handle) (\(error.code) of another entry)")
                }
            }
        }
        var accepted = 0, refused: [String] = []
        for (platform, handle) in Self.legitimate {
            do {
                _ = try registry.register(platform: platform, handle: handle, department: "d-\(handle)", actor: "admin", now: now)
                accepted += 1
            } catch {
                refused.append("\(handle): \(error)")
            }
        }
        print("""
            channel registry confusion matrix (\(Self.impostors.count) impostors, \(Self.legitimate.count) legitimate):
                                 refused   accepted
              impostor       \(String(format: "%9d %10d", caught, missed.count))
              legitimate     \(String(format: "%9d %10d", refused.count, accepted))
            """)
        #expect(missed.isEmpty, "impostors accepted: \(missed)")
        #expect(refused.isEmpty, "legitimate accounts refused: \(refused)")
    }

    @Test func anOverrideAndAnExceptionStayInTheHistory() throws {
        var registry = try riverton()
        #expect(throws: ChannelError.self) { try registry.register(platform: .x, handle: "@RivertonCityNews", department: "communications", actor: "a", now: now) }
        let news = try registry.register(platform: .x, handle: "@RivertonCityNews", department: "communications", actor: "ada",
                                         override: "the press office's own account, approved by the council", now: now)
        #expect(news.history.first?.reason?.contains("press office") == true)
        #expect(news.history.first?.actor == "ada")
        // A second active account for one department needs an exception.
        #expect(throws: ChannelError.self) { try registry.register(platform: .x, handle: "@RoadWorksRiverton", department: "roads", actor: "ada", now: now) }
        let excepted = try registry.register(platform: .x, handle: "@WinterGrittingRiverton", department: "roads", actor: "ada",
                                             exception: "seasonal gritting alerts", now: now)
        #expect(try registry.apply(.approve, to: excepted.id, actor: "ada", reason: nil, now: now).status == .active)
    }

    @Test func theWorkflowAndItsHistory() throws {
        var registry = ChannelRegistry()
        let entry = try registry.register(platform: .x, handle: "@RivertonCity", department: nil, actor: "ada", now: now)
        #expect(entry.status == .underReview)
        #expect(throws: ChannelError.invalidTransition(.underReview, action: "reactivate")) {
            try registry.apply(.reactivate, to: entry.id, actor: "ada", reason: nil, now: now)
        }
        let active = try registry.apply(.approve, to: entry.id, actor: "ada", reason: nil, now: now)
        #expect(active.verifiedAt == now && active.reviewDue == now.addingTimeInterval(ChannelRegistry.reviewInterval))
        #expect(throws: ChannelError.reasonRequired("suspend")) { try registry.apply(.suspend, to: entry.id, actor: "ada", reason: nil, now: now) }
        _ = try registry.apply(.suspend, to: entry.id, actor: "bo", reason: "password leaked", now: now)
        _ = try registry.apply(.reactivate, to: entry.id, actor: "ada", reason: "password changed", now: now)
        let archived = try registry.apply(.archive, to: entry.id, actor: "ada", reason: "account closed", now: now)
        #expect(archived.history.map(\.action) == ["register", "approve", "suspend", "reactivate", "archive"])
        #expect(archived.history.map(\.actor) == ["ada", "ada", "bo", "ada", "ada"])
        // An archived handle may be registered again.
        #expect(try registry.register(platform: .x, handle: "@RivertonCity", department: nil, actor: "ada", now: now).status == .underReview)
    }

    @Test func verifyAnswersOfficialLookalikeOrUnknownForHandlesAndURLs() throws {
        let registry = try riverton()
        let official = try #require(ChannelHandle.parse("https://x.com/RivertonCity", platform: nil))
        guard case .official(let entry) = registry.verify(official) else { Issue.record("not official"); return }
        #expect(entry.handle == "@RivertonCity")
        let mastodon = try #require(ChannelHandle.parse("https://riverton.social/@city", platform: nil))
        guard case .official = registry.verify(mastodon) else { Issue.record("mastodon URL not official"); return }
        let facebook = try #require(ChannelHandle.parse("https://www.facebook.com/RivertonCityHall", platform: nil))
        guard case .official = registry.verify(facebook) else { Issue.record("facebook URL not official"); return }
        guard case .lookalike(let imitated, _) = registry.verify(ChannelHandle(platform: .x, "@Rivert0nCity")) else { Issue.record("lookalike missed"); return }
        #expect(imitated.handle == "@RivertonCity")
        #expect(registry.verify(ChannelHandle(platform: .x, "@SomeoneElse")) == .unknown)
        // Another account that differs only by a separator is not the city's.
        guard case .lookalike = registry.verify(ChannelHandle(platform: .x, "@Riverton_City")) else { Issue.record("separator trick passed"); return }
        guard case .official = registry.verify(ChannelHandle(platform: .x, "@rivertoncity")) else { Issue.record("case matters not"); return }
    }

    @Test func blueskyHandlesAreDomainsAndTheirProfileURLsAreRead() throws {
        var registry = try riverton()
        _ = try registry.register(platform: .bluesky, handle: "@riverton.bsky.social", department: nil, actor: "ops", now: Date())
        let url = try #require(ChannelHandle.parse("https://bsky.app/profile/riverton.bsky.social", platform: nil))
        #expect(url.platform == .bluesky && url.canonical == "riverton.bsky.social")
        // Another domain is another account, however alike the first label; a lookalike of
        // the name on the same domain is flagged.
        #expect(ChannelHandle(platform: .bluesky, "riverton.gov").normalized != ChannelHandle(platform: .bluesky, "riverton.bsky.social").normalized)
        guard case .lookalike = registry.verify(ChannelHandle(platform: .bluesky, "rivert0n.bsky.social")) else { Issue.record("lookalike missed"); return }
    }

    @Test func repliesGoOnlyThroughTheDepartmentsOrTheSharedActiveAccounts() throws {
        let registry = try riverton()
        #expect(Set(registry.replyAccounts(platform: .x, department: "roads").map(\.handle)) == ["@RivertonCity", "@RivertonRoads"])
        #expect(registry.replyAccounts(platform: .x, department: "parks").map(\.handle).contains("@RivertonRoads") == false)
        #expect(registry.reviews(at: now).isEmpty)
        let later = now.addingTimeInterval(ChannelRegistry.reviewInterval - 86_400)
        #expect(registry.reviews(at: later).allSatisfy { !$0.overdue } && registry.reviews(at: later).count == 8)
        let overdue = registry.reviews(at: now.addingTimeInterval(ChannelRegistry.reviewInterval))
        #expect(!overdue.isEmpty && overdue.allSatisfy { $0.overdue })
    }
}
