import Foundation
import Testing
@testable import SwitchboardCore

/// One citizen across channels, without a store: identities as agents type them, the
/// groups links make, and the hints a citizen's words give for a link proposal.
@Suite struct CitizenIdentityTests {
    @Test func anIdentityIsReadAsAgentsTypeItAndNormalised() throws {
        #expect(try CitizenIdentity.parse("X:@Ana_R").get() == CitizenIdentity(platform: .x, handle: "ana_r"))
        #expect(try CitizenIdentity.parse("facebook:1234").get().description == "facebook:1234")
        #expect(try CitizenIdentity.parse("email:Ana@Example.org").get().description == "email:ana@example.org")
        // A WhatsApp author is their number, digits only, however it is written.
        #expect(try CitizenIdentity.parse("whatsapp:+34 600 123 456").get().description == "whatsapp:34600123456")
        for bad in ["ana_r", "myspace:ana", "x:", "x:@"] {
            #expect(throws: CitizenIdentityError.self, "\(bad)") { try CitizenIdentity.parse(bad).get() }
        }
    }

    @Test func linksJoinIdentitiesIntoOneCitizenThroughAnyNumberOfLinks() {
        let x = CitizenIdentity(platform: .x, handle: "ana_r"), facebook = CitizenIdentity(platform: .facebook, handle: "1234")
        let email = CitizenIdentity(platform: .email, handle: "ana@example.org"), other = CitizenIdentity(platform: .x, handle: "bob")
        let links = [(x, facebook), (facebook, email), (other, CitizenIdentity(platform: .mastodon, handle: "bob@city.social"))]
        #expect(CitizenGroup.members(from: email, links: links) == [email, facebook, x])
        #expect(CitizenGroup.members(from: x, links: []) == [x])
        // A link is stored once, its two ends in order, whichever way it was made.
        #expect(CitizenLink(x, facebook, actor: "ana", note: "n", at: Date()).a == facebook)
        #expect(CitizenLink(facebook, x, actor: "ana", note: "n", at: Date()).b == x)
    }

    @Test func aCitizensWordsGiveAddressesNumbersAndTheIdentitiesTheyName() {
        #expect(ContactHints.extract("Write to me at Ana.Ruiz@Example.org, please.") == [.email("ana.ruiz@example.org")])
        #expect(ContactHints.extract("Call +34 600 12 34 56 or (0)600-123-456") == [.phone("600123456")])
        #expect(ContactHints.extract("I also wrote on Facebook as ana.ruiz.") == [.identity(CitizenIdentity(platform: .facebook, handle: "ana.ruiz"))])
        #expect(ContactHints.extract("I also wrote on Facebook about this") == [.platform(.facebook)])
        #expect(ContactHints.extract("same as my post facebook:1234") == [.identity(CitizenIdentity(platform: .facebook, handle: "1234"))])
        // Handles, dates, times, case numbers, links and a platform named in passing are not hints.
        #expect(ContactHints.extract("@ana_r the bin on 2026-11-22 09:30, case R-4821, see https://city.example/x and on Facebook").isEmpty)
    }
}
