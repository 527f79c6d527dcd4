import Foundation
import Testing
import TestSupport
import SwitchboardCore
@testable import SwitchboardStore

/// The citizen directory on both stores: links and their audit, one citizen's inquiries
/// across platforms, the lookups behind proposals, and an erasure that takes the links
/// and the audit's reasons with it.
@Suite struct CitizenDirectoryTests {
    let journalTests = JournalTests()
    let x = CitizenIdentity(platform: .x, handle: "@Ana_R")
    let facebook = CitizenIdentity(platform: .facebook, handle: "1234")

    func stores() throws -> [any InquiryStore] {
        [try SQLiteInquiryStore(directory: temporaryDirectory()),
         try PostgresInquiryStore(location: PostgresLocation(url: try PrivatePostgres.freshDatabase()))]
    }

    /// An inquiry by `identity` saying `text`, received `daysAgo` before now.
    func inquiry(_ n: Int, by identity: CitizenIdentity, text: String, name: String = "Ana Ruiz") -> AcceptedInquiry {
        var inquiry = journalTests.accepted(n, author: identity.handle)
        inquiry.key = DeduplicationKey(platform: identity.platform, externalID: "post-\(n)")
        let escaped = String(decoding: try! JSONEncoder().encode(text), as: UTF8.self)
        inquiry.envelopeJSON = #"{"text":\#(escaped),"author":{"handle":"\#(identity.handle)","display_name":"\#(name)"}}"#
        inquiry.receivedAt = ISO8601DateFormatter().string(from: inquiry.id.createdAt)
        return inquiry
    }

    @Test func linksAreMadeOnceAuditedAndReadFromEitherEnd() throws {
        for store in try stores() {
            let at = Date(timeIntervalSince1970: 1_800_000_000)
            let audit = CitizenLinkAudit(at: at, actor: "ana", action: .link, aHash: "h-facebook", bHash: "h-x", note: "same phone")
            #expect(try store.link(CitizenLink(x, facebook, actor: "ana", note: "same phone", at: at), audit: audit))
            #expect(try !store.link(CitizenLink(facebook, x, actor: "bo", note: "again", at: at), audit: audit))
            #expect(try store.links(touching: [x]) == [CitizenLink(facebook, x, actor: "ana", note: "same phone", at: at)])
            #expect(try store.links(touching: [facebook]).count == 1)
            #expect(try store.linkAudit(hashes: ["h-x"], limit: 10) == [audit])
            var unlinked = audit
            unlinked.action = .unlink
            unlinked.note = "different people"
            #expect(try store.unlink(x, facebook, audit: unlinked))
            #expect(try !store.unlink(x, facebook, audit: unlinked))
            #expect(try store.links(touching: [x, facebook]).isEmpty)
            #expect(try store.linkAudit(hashes: ["h-facebook"], limit: 10).map(\.action) == [.link, .unlink])
        }
    }

    @Test func aCitizensInquiriesAcrossPlatformsNewestFirstAndTheLookupsProposalsUse() throws {
        for store in try stores() {
            var batch = JournalBatch()
            let first = inquiry(1, by: x, text: "The bin on Elm Street, mail me at ana@example.org")
            let second = inquiry(2, by: facebook, text: "Bin still full! +34 600 12 34 56")
            let stranger = inquiry(3, by: CitizenIdentity(platform: .mastodon, handle: "bob"), text: "ANA@example.org wrote to me too; call 600-123-456",
                                   name: "Bob")
            let named = inquiry(4, by: CitizenIdentity(platform: .instagram, handle: "ana.r"), text: "hello")
            let whatsapp = inquiry(5, by: CitizenIdentity(platform: .whatsapp, handle: "34600123456"), text: "hola")
            for accepted in [first, second, stranger, named, whatsapp] { batch.insert(accepted) }
            _ = try store.project([(1, batch)])

            let listed = try store.citizenInquiries([x, facebook], limit: 10)
            #expect(listed.map(\.id) == [second.id, first.id])
            #expect(listed.map(\.identity) == [facebook, x])
            #expect(listed.first?.text == "Bin still full! +34 600 12 34 56" && listed.first?.authorName == "Ana Ruiz")
            #expect(listed.first?.state == .queued)

            let from = "1970-01-01T00:00:00Z"
            let email = try store.identities(mentioning: .email("ana@example.org"), name: nil, receivedFrom: from, limit: 10)
            #expect(Set(email.map(\.identity.description)) == ["x:ana_r", "mastodon:bob"])
            let phone = try store.identities(mentioning: .phone("600123456"), name: nil, receivedFrom: from, limit: 10)
            #expect(Set(phone.map(\.identity.description)) == ["facebook:1234", "mastodon:bob", "whatsapp:34600123456"],
                    "a WhatsApp author is their number, with its country code")
            let sameName = try store.identities(mentioning: .platform(.instagram), name: "ana ruiz", receivedFrom: from, limit: 10)
            #expect(sameName.map(\.identity.description) == ["instagram:ana.r"])
            #expect(try store.identities(mentioning: .email("ana@example.org"), name: nil, receivedFrom: "2999-01-01T00:00:00Z", limit: 10).isEmpty)
        }
    }

    @Test func anErasureTakesTheLinksAndTheAuditsReasonsAndKeepsItsHashes() throws {
        for store in try stores() {
            let at = Date(timeIntervalSince1970: 1_800_000_000)
            let other = CitizenIdentity(platform: .x, handle: "bob")
            _ = try store.link(CitizenLink(x, facebook, actor: "ana", note: "CanaryNote same phone", at: at),
                               audit: CitizenLinkAudit(at: at, actor: "ana", action: .link, aHash: "h-facebook", bHash: "h-x", note: "CanaryNote"))
            _ = try store.link(CitizenLink(other, CitizenIdentity(platform: .facebook, handle: "99"), actor: "ana", note: "kept", at: at),
                               audit: CitizenLinkAudit(at: at, actor: "ana", action: .link, aHash: "h-bob", bHash: "h-99", note: "kept"))
            let audits = [x, facebook].map { ErasureAudit(at: at, actor: "dpo", platform: $0.platform, citizenHash: "h-\($0.platform == .x ? "x" : "facebook")",
                                                          inquiries: 0, messages: 0) }
            _ = try store.erase([], audits: audits, identities: [x, facebook])
            #expect(try store.links(touching: [x, facebook]).isEmpty)
            #expect(try store.linkAudit(hashes: ["h-x"], limit: 10).map(\.note) == [nil])
            #expect(try store.linkAudit(hashes: ["h-x"], limit: 10).map(\.aHash) == ["h-facebook"])
            #expect(try store.links(touching: [other]).map(\.note) == ["kept"])
            #expect(try store.erasures(citizenHash: "h-facebook").count == 1)
        }
    }

    @Test func aMergedInquiryKeepsItsPointerThroughTheJournalAndBothStores() throws {
        let target = journalTests.accepted(1), merged = journalTests.accepted(2)
        var record = try journalTests.claimed(merged, by: "ana")
        let entry = try record.lifecycle.apply(.close(.duplicate, note: nil, duplicateOf: target.id), by: .agent("ana"), actingFor: "waste",
                                               at: journalTests.start, frontOffice: "front-office", departments: ["front-office", "waste"])
        var batch = JournalBatch()
        batch.insert(target)
        batch.insert(merged)
        batch.update(record)
        batch.append(entry)
        let decoded = try JournalEntry.decode(JournalEntry.encode(batch))
        #expect(decoded.records[merged.id]?.lifecycle.duplicateOf == target.id)
        for store in try stores() {
            _ = try store.project([(1, decoded)])
            #expect(try store.record(merged.id)?.lifecycle.duplicateOf == target.id)
            #expect(try store.record(merged.id)?.lifecycle.resolution == .duplicate)
            #expect(try store.record(target.id)?.lifecycle.duplicateOf == nil)
        }
    }
}
