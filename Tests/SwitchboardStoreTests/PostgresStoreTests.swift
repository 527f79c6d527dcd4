import Foundation
import Testing
import TestSupport
import SwitchboardCore
@testable import SwitchboardStore

/// What only the PostgreSQL projection has to show beyond the contract both stores are
/// tested on (``InquiryStoreTests``): that it reads exactly what SQLite reads from the
/// same journal entries, replays its own fenced journal, numbers cases as SQLite does, and
/// erases as 7/SB-PRIVACY asks.
@Suite struct PostgresStoreTests {
    let journalTests = JournalTests()
    let location: PostgresLocation

    init() throws {
        location = try PostgresLocation(url: try PrivatePostgres.freshDatabase())
    }

    /// Every section of a journal entry, projected by each store: every read answers the same.
    @Test func bothStoresReadTheSameFromTheSameEntries() throws {
        let (batch, inquiry) = try journalTests.fullBatch()
        var closing = JournalBatch()
        var closed = try journalTests.claimed(inquiry, by: "ana")
        let entry = try closed.lifecycle.apply(.close(.answered, note: "sent the crew"), by: .agent("ana"), actingFor: "waste",
                                               at: journalTests.start, frontOffice: "front-office", departments: ["front-office", "waste"])
        closing.update(closed)
        closing.append(entry)
        let queued = journalTests.accepted(8)
        closing.insert(queued)

        let sqlite = try SQLiteInquiryStore(directory: temporaryDirectory())
        let postgres = try PostgresInquiryStore(location: location)
        for store in [sqlite, postgres] as [any InquiryStore] {
            _ = try store.project([(1, batch)])
            _ = try store.project([(2, closing)])
        }
        #expect(try postgres.projectedPosition() == 2)
        for id in [inquiry.id, queued.id] {
            #expect(try postgres.inquiry(id) == sqlite.inquiry(id))
            #expect(try postgres.timeline(id) == sqlite.timeline(id))
            #expect(try postgres.conversation(id) == sqlite.conversation(id))
        }
        #expect(try postgres.channels() == sqlite.channels())
        #expect(try postgres.restorable().queue == sqlite.restorable().queue)
        #expect(try postgres.stateCounts() == sqlite.stateCounts())
        #expect(try postgres.list(InquiryFilter()) == sqlite.list(InquiryFilter()))
        #expect(try postgres.recentKeys(limit: 10).map(\.key) == sqlite.recentKeys(limit: 10).map(\.key))
        #expect(try postgres.lastCaseNumber() == sqlite.lastCaseNumber())
        #expect(try postgres.citizenRecords(platform: .mastodon, handle: "ANA") == sqlite.citizenRecords(platform: .mastodon, handle: "ANA"))
        let exported = try postgres.exportClosed(before: .distantFuture, department: nil, after: nil, limit: 10)
        let expected = try sqlite.exportClosed(before: .distantFuture, department: nil, after: nil, limit: 10)
        #expect(exported.map(\.lifecycleJSON) == expected.map(\.lifecycleJSON))
        #expect(exported.map(\.timelineJSON) == expected.map(\.timelineJSON))
        #expect(exported.map(\.messages.count) == expected.map(\.messages.count))
        #expect(try postgres.countClosed(before: .distantFuture, department: "waste", after: nil) == 1)
    }

    /// A broker that died after its append: the store replays the fenced journal on the
    /// same database, once, as SQLite replays `journal.sqlite`.
    @Test func theProjectionCatchesUpWithTheJournalOnTheSameDatabase() throws {
        let session = PostgresSession(location)
        let journal = try PostgresInquiryJournal(session: session)
        journal.fence = try #require(try BrokerLease.take("broker-a", for: .seconds(30), session))
        let store = try PostgresInquiryStore(location: location)
        let inquiries = (1...4).map { journalTests.accepted($0) }
        for (n, inquiry) in inquiries.enumerated() {
            var batch = JournalBatch()
            batch.insert(inquiry)
            try journal.append(JournalEntry.encode(batch), at: UInt64(n + 1), trimmingThrough: 0)
        }
        _ = try store.project([(1, try JournalEntry.decode(try journal.entries(after: 0)[0].entry))])
        #expect(try store.catchUp(from: journal) == 3)
        #expect(try store.catchUp(from: journal) == 0)
        #expect(try store.list(InquiryFilter()).items.map(\.id) == inquiries.map(\.id))
        #expect(try store.projectedPosition() == 4)
    }

    /// Numbers the machine gave are kept; one the store gives comes after the highest ever
    /// used, and the highest stays used when its row is gone.
    @Test func caseNumbersContinueAfterTheHighestEverGiven() throws {
        let store = try PostgresInquiryStore(location: location)
        var batch = JournalBatch()
        let last = journalTests.accepted(42)
        batch.insert(journalTests.accepted(41))
        batch.insert(last)
        _ = try store.commit(batch)
        var unnumbered = journalTests.accepted(3)
        unnumbered.record.caseNumber = 0
        var next = JournalBatch()
        next.insert(unnumbered)
        _ = try store.commit(next)
        #expect(try store.inquiry(unnumbered.id)?.record.caseNumber == 43)
        #expect(try store.inquiry(case: 42) == last.id)
        try PostgresSession(location).run("remove a row", "DELETE FROM switchboard_inquiry WHERE seq = 43")
        #expect(try store.lastCaseNumber() == 43)
    }

    /// An erasure leaves the closed inquiry's text nowhere in the tables, keeps its moves,
    /// and writes an audit entry with the hash only.
    @Test func anErasureRemovesTheCitizensTextAndIsAudited() throws {
        let store = try PostgresInquiryStore(location: location)
        var inquiry = journalTests.accepted(1, author: "@Ana")
        inquiry.envelopeJSON = #"{"text":"CANARY-pg-erasure","source":{"account":"@city"},"captured_at":"2026-12-04T09:00:00Z"}"#
        var batch = JournalBatch()
        batch.insert(inquiry)
        var record = try journalTests.claimed(inquiry, by: "ana")
        let entry = try record.lifecycle.apply(.close(.answered, note: "CANARY-pg-note"), by: .agent("ana"), actingFor: "waste",
                                               at: journalTests.start, frontOffice: "front-office", departments: ["front-office", "waste"])
        batch.update(record)
        batch.append(entry)
        _ = try store.commit(batch)
        let found = try store.citizenRecords(platform: .mastodon, handle: "ana")
        #expect(found.closed.map(\.id) == [inquiry.id])
        let audit = ErasureAudit(at: journalTests.start, actor: "agent dpo", platform: .mastodon, citizenHash: "h1", inquiries: 1, messages: 0)
        #expect(try store.erase([inquiry.id], audit: audit) == ErasureOutcome(erased: [inquiry.id], logTruncated: true))
        let rows = try PostgresSession(location).run("read every row", """
            SELECT (SELECT string_agg(i::text, '') FROM switchboard_inquiry i) || (SELECT string_agg(t::text, '') FROM switchboard_timeline t) AS all
            """).collect()
        #expect(rows.first?.string("all")?.contains("CANARY") == false)
        #expect(try store.timeline(inquiry.id).map(\.event).last == entry.event)
        #expect(try store.erasures(citizenHash: "h1") == [journalTests.start])
        #expect(try store.citizenRecords(platform: .mastodon, handle: "ana").closed.isEmpty)
    }
}
