import Foundation
import GRDB
import Testing
import TestSupport
import SwitchboardCore
@testable import SwitchboardStore

/// The journal and its projection: an entry reads back as it was written, the projector
/// writes each inquiry row once in its latest state, a replay after a crash is complete
/// and never applied twice, and a trim leaves no copy in the journal's files.
@Suite struct JournalTests {
    let directory = temporaryDirectory()
    let start = Date(timeIntervalSince1970: 1_800_000_000)

    func accepted(_ n: Int, author: String? = nil) -> AcceptedInquiry {
        var rng = SystemRandomNumberGenerator()
        let id = InquiryID.generate(milliseconds: UInt64(1_000 + n), using: &rng)
        var record = LifecycleRecord(lifecycle: InquiryLifecycle(id: id, department: "waste"), priority: .high,
                                     sla: InquirySLA(department: "waste", priority: .high, policy: SLAPolicy(), at: start))
        record.caseNumber = n
        return AcceptedInquiry(key: DeduplicationKey(platform: .mastodon, externalID: "status-\(n)"),
                               envelopeJSON: #"{"text":"inquiry \#(n) ünïcode"}"#, routingJSON: #"{"department":"waste"}"#,
                               receivedAt: "2026-12-04T09:30:00Z", record: record, author: author)
    }

    func claimed(_ inquiry: AcceptedInquiry, by agent: String) throws -> LifecycleRecord {
        var record = inquiry.record
        _ = try record.lifecycle.apply(.claim, by: Actor(kind: .agent, id: agent), actingFor: "waste", at: start,
                                       frontOffice: "front-office", departments: ["front-office", "waste"], moveID: "claim-by-\(agent)")
        record.leaseExpiresAt = start.addingTimeInterval(900)
        record.deliveries = 2
        return record
    }

    /// A batch with something in every section.
    func fullBatch() throws -> (JournalBatch, AcceptedInquiry) {
        let inquiry = accepted(7, author: "@ana")
        var rng = SystemRandomNumberGenerator()
        var batch = JournalBatch()
        batch.insert(inquiry)
        batch.update(try claimed(inquiry, by: "ana"))
        batch.append(TimelineEntry(inquiry: inquiry.id, event: "claimed", at: start, actor: Actor(kind: .agent, id: "ana"), role: "back_office",
                                   from: .queued, to: .inProgress, department: "waste", note: "mine"))
        let message = OutboundMessage(id: InquiryID.generate(milliseconds: 5_000, using: &rng), inquiry: inquiry.id, kind: .question,
                                      platform: .mastodon, account: "@city", inReplyTo: "status-7", text: "Which street?", author: "agent ana",
                                      recipient: "ana", thread: nil)
        batch.queue(message)
        batch.markSent(message.id, at: "2026-12-04T09:31:00Z", postedAs: "status-8")
        batch.markStatus(message.id, "read", at: "2026-12-04T09:32:00Z")
        batch.markEnded(InquiryID.generate(milliseconds: 5_001, using: &rng), .cancelled, at: "2026-12-04T09:33:00Z", reason: "closed")
        batch.receive(InboundMessage(id: InquiryID.generate(milliseconds: 5_002, using: &rng), inquiry: inquiry.id,
                                     key: DeduplicationKey(platform: .mastodon, externalID: "status-9"), inReplyTo: "status-8", text: "Elm Street"))
        batch.save(ChannelEntry(id: "mastodon:@city", platform: .mastodon, handle: "@city", normalized: "city", displayName: "City",
                                url: nil, department: nil, status: .active, contacts: ["press@city.example"], verifiedAt: start,
                                reviewDue: nil, history: []))
        return (batch, inquiry)
    }

    @Test func anEntryReadsBackAsItWasWritten() throws {
        let (batch, inquiry) = try fullBatch()
        let decoded = try JournalEntry.decode(JournalEntry.encode(batch))
        #expect(decoded.inserts.map(\.id) == [inquiry.id])
        #expect(decoded.inserts.first?.envelopeJSON == inquiry.envelopeJSON)
        #expect(decoded.inserts.first?.author == "@ana")
        #expect(decoded.inserts.first?.record == inquiry.record)
        #expect(decoded.records == batch.records)
        #expect(decoded.timeline == batch.timeline)
        #expect(decoded.outbound == batch.outbound)
        #expect(decoded.outboundSent.map { "\($0.id) \($0.at) \($0.postedAs ?? "-")" } == batch.outboundSent.map { "\($0.id) \($0.at) \($0.postedAs ?? "-")" })
        #expect(decoded.outboundStatuses.map(\.status) == ["read"])
        #expect(decoded.outboundEnded.map(\.reason) == ["closed"])
        #expect(decoded.inbound == batch.inbound)
        #expect(decoded.channels == batch.channels)
    }

    @Test func aDamagedEntryIsRefusedNotGuessed() throws {
        let bytes = JournalEntry.encode(try fullBatch().0)
        #expect(throws: JournalEntryError.self) { try JournalEntry.decode(Array(bytes.dropLast(3))) }
        #expect(throws: JournalEntryError.self) { try JournalEntry.decode([9] + bytes.dropFirst()) }
        #expect(throws: JournalEntryError.self) { try JournalEntry.decode(bytes + [0]) }
    }

    /// Accepted in one entry and claimed in the next: one row, in its final state; the
    /// position is the last entry's, and applying the same entries again changes nothing.
    @Test func theProjectionWritesEachRowOnceInItsLatestState() throws {
        let store = try SQLiteInquiryStore(directory: directory)
        let inquiry = accepted(1)
        var first = JournalBatch()
        first.insert(inquiry)
        var second = JournalBatch()
        let claim = try claimed(inquiry, by: "ana")
        second.update(claim)
        second.append(TimelineEntry(inquiry: inquiry.id, event: "claimed", at: start, actor: Actor(kind: .agent, id: "ana"), role: "back_office",
                                    from: .queued, to: .inProgress, department: "waste", note: nil))
        first.append(InquiryLifecycle.routedEntry(id: inquiry.id, department: "waste", at: start))
        #expect(try store.project([(1, first), (2, second)]).duplicates.isEmpty)
        #expect(try store.projectedPosition() == 2)
        #expect(try store.inquiry(inquiry.id)?.record == claim)
        // Both entries, in order, from one timeline row.
        #expect(try store.timeline(inquiry.id).map(\.event) == ["inquiry.routed", "claimed"])
        #expect(try store.database.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM timeline") } == 1)
        _ = try store.project([(1, first), (2, second)])
        #expect(try store.timeline(inquiry.id).count == 2)
        #expect(try store.list(InquiryFilter()).total == 1)
    }

    /// A broker killed after its append and before the projector ran: opening the store
    /// brings in what the journal holds beyond it, once.
    @Test func openingTheStoreReplaysWhatTheJournalHoldsBeyondIt() throws {
        let inquiries = (1...5).map { accepted($0) }
        do {
            let journal = try SQLiteInquiryJournal(directory: directory)
            let store = try SQLiteInquiryStore(directory: directory)
            var batch = JournalBatch()
            batch.insert(inquiries[0])
            try journal.append(JournalEntry.encode(batch), at: 1, trimmingThrough: 0)
            _ = try store.project([(1, batch)])
            for (position, inquiry) in inquiries.dropFirst().enumerated() {
                var batch = JournalBatch()
                batch.insert(inquiry)
                try journal.append(JournalEntry.encode(batch), at: UInt64(position + 2), trimmingThrough: 1)
            }
            #expect(try journal.entries(after: 0).map(\.position) == [2, 3, 4, 5])
            #expect(try store.list(InquiryFilter()).total == 1)
        }
        let reopened = try SQLiteInquiryStore(directory: directory)
        #expect(try reopened.projectedPosition() == 5)
        #expect(try reopened.list(InquiryFilter()).items.map(\.id) == inquiries.map(\.id))
        #expect(try reopened.catchUp(from: try SQLiteInquiryJournal(directory: directory)) == 0)
    }

    /// A database restored from a backup beside a newer journal: the entries between them
    /// are gone, so the store refuses to open rather than replay with a hole, and says what
    /// to do.
    @Test func aJournalThatDoesNotContinueTheDatabaseIsRefused() throws {
        do {
            let journal = try SQLiteInquiryJournal(directory: directory)
            _ = try SQLiteInquiryStore(directory: directory)
            var batch = JournalBatch()
            batch.insert(accepted(1))
            try journal.append(JournalEntry.encode(batch), at: 10, trimmingThrough: 0)
        }
        do {
            _ = try SQLiteInquiryStore(directory: directory)
            Issue.record("a journal starting at 10 was replayed onto a database at 0")
        } catch {
            #expect("\(error)".contains("move journal.sqlite"), "\(error)")
        }
    }

    /// The log is copied into the journal's file by a thread of its own, long before the
    /// 1,000 pages at which an append would stop to copy it itself.
    @Test func theLogIsCopiedIntoTheFileBesideTheAppends() throws {
        let journal = try SQLiteInquiryJournal(directory: directory)
        defer { try? journal.close() }
        var batch = JournalBatch()
        var inquiry = accepted(1)
        inquiry.envelopeJSON = #"{"text":"COPIED-4e2a-journal"}"#
        batch.insert(inquiry)
        try journal.append(JournalEntry.encode(batch), at: 1, trimmingThrough: 0)
        let file = URL(fileURLWithPath: journal.path)
        try waitUntil("the entry copied from the log into \(journal.path)") {
            (try Data(contentsOf: file)).range(of: Data("COPIED-4e2a".utf8)) != nil
        }
        #expect(try journal.entries(after: 0).map(\.position) == [1])
    }

    /// Trimmed entries leave no copy of their text in the journal's files.
    @Test func aTrimLeavesNoCopyInTheJournalsFiles() throws {
        let journal = try SQLiteInquiryJournal(directory: directory)
        var batch = JournalBatch()
        var inquiry = accepted(1)
        inquiry.envelopeJSON = #"{"text":"CANARY-7d1f-journal"}"#
        batch.insert(inquiry)
        try journal.append(JournalEntry.encode(batch), at: 1, trimmingThrough: 0)
        try journal.append(JournalEntry.encode(JournalBatch()), at: 2, trimmingThrough: 0)
        try journal.trim(through: 1)
        #expect(try journal.entries(after: 0).map(\.position) == [2])
        #expect(try journal.lastPosition() == 2)
        for file in try FileManager.default.contentsOfDirectory(atPath: directory) {
            let data = try Data(contentsOf: URL(fileURLWithPath: directory).appendingPathComponent(file))
            #expect(data.range(of: Data("CANARY-7d1f".utf8)) == nil, "found in \(file)")
        }
    }
}
