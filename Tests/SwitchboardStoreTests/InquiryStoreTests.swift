import Foundation
import GRDB
import Testing
import TestSupport
import SwitchboardCore
@testable import SwitchboardStore

/// The store's contract, each test against both backends where it is about the contract
/// (``StoreBackend``), against SQLite alone where it is about SQLite's files.
@Suite struct InquiryStoreTests {
    let directory = temporaryDirectory()
    let start = Date(timeIntervalSince1970: 1_800_000_000)

    /// - Parameter received: when it arrived (its id is made then, as at ingest); else an id
    ///   of 1970 and a fixed arrival time.
    func accepted(_ n: Int, department: String = "waste", priority: Priority = .normal, received: String? = nil) -> AcceptedInquiry {
        var rng = SystemRandomNumberGenerator()
        let id = received.flatMap(CalendarDate.parse).map { InquiryID.generate(at: $0) }
            ?? InquiryID.generate(milliseconds: UInt64(1_000 + n), using: &rng)
        let record = LifecycleRecord(lifecycle: InquiryLifecycle(id: id, department: department), priority: priority,
                                     sla: InquirySLA(department: department, priority: priority, policy: SLAPolicy(), at: start))
        return AcceptedInquiry(
            key: DeduplicationKey(platform: .x, externalID: "post-\(n)"),
            envelopeJSON: #"{"text":"inquiry \#(n)"}"#, routingJSON: #"{"department":"\#(department)"}"#,
            receivedAt: received ?? "2026-11-22T09:30:00Z", record: record
        )
    }

    func moved(_ inquiry: AcceptedInquiry, _ command: LifecycleCommand, by actor: Actor = .system, deliveries: UInt16 = 0) throws -> LifecycleRecord {
        var record = inquiry.record
        _ = try record.lifecycle.apply(command, by: actor, actingFor: "waste", at: start, frontOffice: "front-office", departments: ["front-office", "waste"])
        record.deliveries = deliveries
        return record
    }

    @Test(arguments: StoreBackend.allCases) func acceptedInquiriesSurviveReopening(_ backend: StoreBackend) throws {
        let place = try StorePlace(backend, directory: directory)
        let inquiries = (0..<3).map { accepted($0) }
        do {
            let store = try place.open()
            var batch = JournalBatch()
            inquiries.forEach { batch.insert($0) }
            #expect(try store.commit(batch).duplicates.isEmpty)
        }
        let reopened = try place.open()
        #expect(try reopened.restorable().queue.map(\.id) == inquiries.map(\.id))
        #expect(try reopened.inquiry(for: DeduplicationKey(platform: .x, externalID: "post-1"))?.id == inquiries[1].id)
        #expect(try reopened.inquiry(for: DeduplicationKey(platform: .facebook, externalID: "post-1")) == nil)
        let stored = try #require(try reopened.inquiry(inquiries[2].id))
        #expect(stored.envelopeJSON == #"{"text":"inquiry 2"}"#)
        // Handed no case number, the store numbers inquiries in the order it stores them.
        var numbered = inquiries[2].record
        numbered.caseNumber = 3
        #expect(stored.record == numbered)
        #expect(try reopened.recentKeys(limit: 2).map(\.original.id) == [inquiries[2].id, inquiries[1].id])
    }

    /// The journal writer's question for every new post once the broker's memory of posts
    /// is full: which of these keys already became an inquiry, and which.
    @Test(arguments: StoreBackend.allCases) func storedKeysAreFoundAndNewOnesAreNot(_ backend: StoreBackend) throws {
        let place = try StorePlace(backend, directory: directory)
        let store = try place.open()
        let held = accepted(1, department: "roads", priority: .high), other = accepted(2)
        var batch = JournalBatch()
        batch.insert(held)
        batch.insert(other)
        _ = try store.commit(batch)
        let new = DeduplicationKey(platform: .x, externalID: "post-3")
        let elsewhere = DeduplicationKey(platform: .facebook, externalID: "post-1")
        let found = try store.stored([held.key, new, elsewhere, other.key])
        #expect(found.count == 2)
        #expect(found[held.key] == DuplicateOf(id: held.id, department: "roads", priority: .high))
        #expect(found[other.key]?.id == other.id)
        #expect(found[new] == nil && found[elsewhere] == nil)
        #expect(try store.stored([]).isEmpty)
    }

    /// State, department and owner are stored once, in their columns: the lifecycle JSON
    /// holds only the rest, a row written before (with copies in the JSON) is read from
    /// its columns, and the export shows the whole lifecycle.
    @Test func stateDepartmentAndOwnerAreStoredOnceInTheirColumns() throws {
        let inquiry = accepted(1)
        let store = try SQLiteInquiryStore(directory: directory)
        var batch = JournalBatch()
        batch.insert(inquiry)
        _ = try store.commit(batch)
        var claimed = JournalBatch()
        claimed.update(try moved(inquiry, .claim, by: .agent("ana")))
        _ = try store.commit(claimed)
        let column = try #require(try store.database.read { db in
            try String.fetchOne(db, sql: "SELECT lifecycle FROM inquiry WHERE id = ?", arguments: [inquiry.id.description])
        })
        let stored = try #require(try JSONSerialization.jsonObject(with: Data(column.utf8)) as? [String: Any])
        #expect((stored["lifecycle"] as? [String: Any]).map { Set($0.keys) } == ["answered"], "\(column)")
        #expect(try store.record(inquiry.id)?.lifecycle.owner == .agent("ana"))
        #expect(try store.record(inquiry.id)?.lifecycle.state == .inProgress)

        // An older row kept copies in its JSON; they disagree here, and are not read.
        try store.database.write { db in
            try db.execute(sql: """
                UPDATE inquiry SET lifecycle = json_set(lifecycle, '$.lifecycle.state', 'closed', '$.lifecycle.department', 'parks') WHERE id = ?
                """, arguments: [inquiry.id.description])
        }
        #expect(try store.record(inquiry.id)?.lifecycle.state == .inProgress)
        #expect(try store.record(inquiry.id)?.lifecycle.department == "waste")

        var closed = JournalBatch()
        var record = try #require(try store.record(inquiry.id))
        let entry = try record.lifecycle.apply(.close(.answered, note: nil), by: .agent("ana"), actingFor: "waste", at: start,
                                               frontOffice: "front-office", departments: ["front-office", "waste"])
        closed.update(record)
        closed.append(entry)
        _ = try store.commit(closed)
        let exported = try #require(try store.exportClosed(before: .distantFuture, department: nil, after: nil, limit: 10).first)
        let json = try #require(exported.lifecycleJSON)
        let document = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        let lifecycle = try #require(document["lifecycle"] as? [String: Any])
        #expect(lifecycle["state"] as? String == "closed" && lifecycle["department"] as? String == "waste")
        #expect((lifecycle["owner"] as? [String: Any])?["id"] as? String == "ana" || lifecycle["owner"] == nil)
        #expect(lifecycle["resolution"] as? String == "answered")
    }

    /// Case numbers are the machine's when it gives them, found back by number, and never
    /// given twice: a reopened store resumes after the highest ever used.
    @Test func caseNumbersAreKeptFoundAndNeverReused() throws {
        var first = accepted(1), second = accepted(2)
        first.record.caseNumber = 41
        second.record.caseNumber = 42
        do {
            let store = try SQLiteInquiryStore(directory: directory)
            var batch = JournalBatch()
            batch.insert(first)
            batch.insert(second)
            _ = try store.commit(batch)
            #expect(try store.inquiry(case: 42) == second.id)
            #expect(try store.inquiry(case: 43) == nil)
            #expect(try store.inquiry(first.id)?.record.caseNumber == 41)
            #expect(try store.list(InquiryFilter(department: "waste")).items.map(\.caseNumber) == [41, 42])
        }
        let reopened = try SQLiteInquiryStore(directory: directory)
        #expect(try reopened.lastCaseNumber() == 42)
        // The highest number stays used even when its row is gone.
        try reopened.database.write { db in try db.execute(sql: "DELETE FROM inquiry WHERE seq = 42") }
        #expect(try reopened.lastCaseNumber() == 42)
    }

    /// Every message of a conversation comes back in order, with who wrote it and where it
    /// stands: waiting, posted (with the post's id), failed (code and reason), cancelled.
    @Test(arguments: StoreBackend.allCases) func theConversationKeepsEachMessagesState(_ backend: StoreBackend) throws {
        let place = try StorePlace(backend, directory: directory)
        let store = try place.open()
        let inquiry = accepted(1)
        func message(_ n: UInt64, _ kind: OutboundMessage.Kind) -> OutboundMessage {
            OutboundMessage(id: InquiryID(high: n << 16, low: n), inquiry: inquiry.id, kind: kind, platform: .x, account: "@RivertonCity",
                            inReplyTo: "post-1", text: "message \(n)", author: "agent ana")
        }
        var batch = JournalBatch()
        batch.insert(inquiry)
        for (n, kind) in [(1, OutboundMessage.Kind.question), (2, .answer), (3, .answer), (4, .question)] { batch.queue(message(UInt64(n), kind)) }
        batch.receive(InboundMessage(id: InquiryID(high: 5 << 16, low: 5), inquiry: inquiry.id,
                                     key: DeduplicationKey(platform: .x, externalID: "post-9"), inReplyTo: "post-1", text: "It is by the school"))
        _ = try store.commit(batch)
        var later = JournalBatch()
        later.markSent(message(1, .question).id, at: "2026-11-22T09:31:00.000Z", postedAs: "post-7")
        later.markEnded(message(2, .answer).id, .failed, at: "2026-11-22T09:32:00.000Z", code: "window_closed", reason: "the 24-hour window closed")
        later.markEnded(message(4, .question).id, .cancelled, at: "2026-11-22T09:33:00.000Z", reason: "the inquiry was closed first")
        _ = try store.commit(later)

        let conversation = try store.conversation(inquiry.id)
        #expect(conversation.map(\.text) == ["message 1", "message 2", "message 3", "message 4", "It is by the school"])
        #expect(conversation.map(\.status) == [.posted, .failed, .waiting, .cancelled, .posted])
        #expect(conversation[0].externalID == "post-7")
        #expect(conversation[0].author == "agent ana")
        #expect(conversation[1].failureCode == "window_closed")
        #expect(conversation[1].reason == "the 24-hour window closed")
        #expect(conversation[3].statusAt == "2026-11-22T09:33:00.000Z")
        #expect(conversation[4].direction == "in")
        // Only the waiting message goes back to a gateway after a restart.
        #expect(try store.pendingOutbound().map(\.text) == ["message 3"])
        #expect(try store.list(InquiryFilter(department: "waste")).items.first?.unsent == 1)
    }

    @Test func usesWALAndFullSynchronous() throws {
        let store = try SQLiteInquiryStore(directory: directory)
        var batch = JournalBatch()
        batch.insert(accepted(1))
        _ = try store.commit(batch)
        #expect(FileManager.default.fileExists(atPath: store.path + "-wal"))
        #expect(try store.pragma("journal_mode") == "wal")
        #expect(try store.pragma("synchronous") == "2")   // FULL
    }

    /// One vocabulary: the stored state is the lifecycle's, and what a restart puts
    /// back in the queues is derived from it.
    @Test(arguments: StoreBackend.allCases) func restoreFollowsTheLifecycle(_ backend: StoreBackend) throws {
        let place = try StorePlace(backend, directory: directory)
        let store = try place.open()
        let low = accepted(1, priority: .low), urgent = accepted(2, priority: .urgent)
        let normal = accepted(3), flying = accepted(4, priority: .low), done = accepted(5), dead = accepted(6), held = accepted(7)
        var batch = JournalBatch()
        [low, urgent, normal, flying, done, dead, held].forEach { batch.insert($0) }
        _ = try store.commit(batch)

        batch = JournalBatch()
        batch.update(try moved(flying, .deliver, by: .worker("w1"), deliveries: 2))
        var accepted = try moved(done, .deliver, by: .worker("w1"), deliveries: 1)
        _ = try accepted.lifecycle.apply(.accept, by: .worker("w1"), at: start, frontOffice: "front-office", departments: ["waste"])
        batch.update(accepted)
        batch.update(try moved(dead, .park(reason: "5 deliveries"), deliveries: 5))
        var claimed = held.record
        _ = try claimed.lifecycle.apply(.claim, by: .agent("ana"), actingFor: "waste", at: start, frontOffice: "front-office", departments: ["waste"])
        batch.update(claimed)
        _ = try store.commit(batch)

        let (queue, parked) = try store.restorable()
        // Held by a worker first, then queued by priority and arrival; the parked one is
        // counted, the accepted and agent-held ones stay where they are.
        #expect(queue.map(\.id) == [flying.id, urgent.id, normal.id, low.id])
        #expect(queue.first?.wasInFlight == true)
        #expect(queue.first?.deliveries == 2)
        #expect(parked == 1)
        #expect(try store.list(InquiryFilter(state: .parked)).items.map(\.id) == [dead.id])
        #expect(try store.list(InquiryFilter(owner: .agent("ana"))).items.map(\.id) == [held.id])
    }

    @Test(arguments: StoreBackend.allCases) func aRepeatedKeyIsReportedAndNothingOfItIsWritten(_ backend: StoreBackend) throws {
        let place = try StorePlace(backend, directory: directory)
        let store = try place.open()
        let first = accepted(1)
        var batch = JournalBatch()
        batch.insert(first)
        _ = try store.commit(batch)

        var clash = accepted(2)
        clash.key = first.key
        let other = accepted(3)
        batch = JournalBatch()
        batch.insert(other)
        batch.insert(clash)
        batch.update(try moved(clash, .claim, by: .agent("ana")))
        batch.append(InquiryLifecycle.routedEntry(id: clash.id, department: "waste", at: start))
        let result = try store.commit(batch)
        #expect(result.duplicates == [clash.id: DuplicateOf(id: first.id, department: "waste", priority: .normal)])
        #expect(try store.restorable().queue.map(\.id) == [first.id, other.id])
        #expect(try store.inquiry(clash.id) == nil)
        #expect(try store.timeline(clash.id).isEmpty)
    }

    @Test func aFailedBatchWritesNothing() throws {
        let queue = try DatabaseQueue()
        let store = try SQLiteInquiryStore(database: queue)
        var batch = JournalBatch()
        batch.insert(accepted(1))
        _ = try store.commit(batch)
        // A full disk, as SQLite reports it: the page limit is where the file stands.
        try queue.write { db in
            let pages = try Int.fetchOne(db, sql: "PRAGMA page_count") ?? 1
            try db.execute(sql: "PRAGMA max_page_count = \(pages)")
        }
        batch = JournalBatch()
        for n in 2..<200 {
            var big = accepted(n)
            big.envelopeJSON = String(repeating: "x", count: 4_000)
            batch.insert(big)
        }
        #expect(throws: StoreError.self) { try store.commit(batch) }
        #expect(try store.restorable().queue.count == 1)
    }

    @Test(arguments: StoreBackend.allCases) func lifecycleTimelineAndOutboundRoundTrip(_ backend: StoreBackend) throws {
        let place = try StorePlace(backend, directory: directory)
        let store = try place.open()
        let inquiry = accepted(1, department: "front-office")
        var lifecycle = inquiry.record.lifecycle
        let policy = SLAPolicy()
        var sla = inquiry.record.sla
        let claimed = try lifecycle.apply(.claim, by: .agent("ana"), actingFor: "front-office", at: start.addingTimeInterval(60),
                                          frontOffice: "front-office", departments: ["front-office", "waste"])
        sla.follow(claimed, priority: .normal, policy: policy)
        let record = LifecycleRecord(lifecycle: lifecycle, priority: .high, sla: sla, leaseExpiresAt: start.addingTimeInterval(960))

        var batch = JournalBatch()
        batch.insert(inquiry)
        batch.update(record)
        batch.append(claimed)
        let message = OutboundMessage(id: InquiryID(high: 42, low: 42), inquiry: inquiry.id, kind: .answer, platform: .x,
                                      account: "@RivertonCity", inReplyTo: "post-1", text: "We are on it")
        batch.queue(message)
        _ = try store.commit(batch)

        var numbered = record
        numbered.caseNumber = 1
        #expect(try store.record(inquiry.id) == numbered)
        #expect(try store.timeline(inquiry.id) == [claimed])
        #expect(try store.expiredLeases(before: start.addingTimeInterval(959), limit: 10).isEmpty)
        #expect(try store.expiredLeases(before: start.addingTimeInterval(961), limit: 10) == [inquiry.id])
        let page = try store.list(InquiryFilter(department: "front-office", state: .inProgress))
        #expect(page.items.map(\.id) == [inquiry.id])
        #expect(page.total == 1)
        #expect(page.items.first?.owner == .agent("ana"))
        #expect(try store.list(InquiryFilter(state: .queued)).items.isEmpty)
        #expect(try store.pendingOutbound() == [message])
        #expect(try store.ids(withPrefix: String(inquiry.id.description.prefix(8)), limit: 5) == [inquiry.id])

        batch = JournalBatch()
        batch.markSent(message.id, at: "2026-11-22T10:00:00Z", postedAs: "reply-77")
        _ = try store.commit(batch)
        #expect(try store.pendingOutbound().isEmpty)
        #expect(try store.outbound(message.id)?.sent == true)
    }

    /// Restore, start-up counts and listings read one index by department; closed rows
    /// between the open ones must neither show nor stop the ranges.
    @Test(arguments: StoreBackend.allCases) func queuesCountsAndListingsSpanEveryDepartment(_ backend: StoreBackend) throws {
        let place = try StorePlace(backend, directory: directory)
        let store = try place.open()
        let departments = ["parks", "roads", "waste"]
        var inquiries: [AcceptedInquiry] = []
        var batch = JournalBatch()
        for n in 0..<12 {
            let inquiry = accepted(n, department: departments[n % 3])
            inquiries.append(inquiry)
            batch.insert(inquiry)
        }
        _ = try store.commit(batch)
        batch = JournalBatch()
        for inquiry in inquiries[0..<6] {
            // Closed through a claim, as an agent would.
            var record = inquiry.record
            let department = record.lifecycle.department
            _ = try record.lifecycle.apply(.claim, by: .agent("ana"), actingFor: department, at: start, frontOffice: "front-office", departments: Set(departments))
            _ = try record.lifecycle.apply(.close(.spam, note: nil), by: .agent("ana"), actingFor: department, at: start, frontOffice: "front-office", departments: Set(departments))
            batch.update(record)
        }
        var parked = inquiries[7].record
        _ = try parked.lifecycle.apply(.park(reason: "5 deliveries"), by: .system, at: start, frontOffice: "front-office", departments: Set(departments))
        batch.update(parked)
        _ = try store.commit(batch)

        let (queue, parkedCount) = try store.restorable()
        #expect(Set(queue.map(\.id)) == Set([6, 8, 9, 10, 11].map { inquiries[$0].id }))
        #expect(Set(queue.map(\.department)) == Set(departments))
        #expect(parkedCount == 1)
        let counts = try store.stateCounts()
        #expect(counts.filter { $0.state == .queued }.map(\.count).reduce(0, +) == 5)
        #expect(counts.contains(StateCount(department: "roads", state: .parked, ownerKind: nil, count: 1)))
        #expect(!counts.contains { $0.state == .closed })
        #expect(try store.list(InquiryFilter(state: .parked)).items.map(\.id) == [inquiries[7].id])
        var open = InquiryFilter()
        open.openOnly = true
        #expect(try store.list(open).total == 6)
        #expect(try store.list(InquiryFilter(state: .closed)).total == 6)
        #expect(try store.list(InquiryFilter()).total == 12)
    }

    /// Commits never copy the log themselves below their 64 MiB bound: a second
    /// connection does it beside them, so the rows reach the database file while the
    /// writer's own checkpoint threshold is far away.
    @Test func theLogIsCopiedIntoTheDatabaseBesideTheWriter() throws {
        let store = try SQLiteInquiryStore(directory: directory)
        #expect(try store.pragma("wal_autocheckpoint") == "16000")
        let file = (directory as NSString).appendingPathComponent("inquiries.sqlite")
        let before = try FileManager.default.attributesOfItem(atPath: file)[.size] as? Int ?? 0
        let padding = String(repeating: "x", count: 2_000)
        for round in 0..<4 {
            var batch = JournalBatch()
            for n in 0..<50 {
                var inquiry = accepted(round * 50 + n)
                inquiry.envelopeJSON = #"{"text":"\#(padding)"}"#
                batch.insert(inquiry)
            }
            _ = try store.commit(batch)
        }
        // 200 envelopes of 2 kB: at least 400 kB more in the file once they are copied.
        try waitUntil(timeout: .seconds(10), "the log copied into the database file") {
            (try FileManager.default.attributesOfItem(atPath: file)[.size] as? Int ?? 0) >= before + 400_000
        }
        #expect(try store.list(InquiryFilter(department: "waste")).total == 200)
    }

    /// The fast ASCII path and the Unicode one agree with the v7 migration's SQL.
    @Test func handlesAreNormalisedAsTheMigrationDoes() {
        #expect(CitizenHandle.normalized(" \t@@Resident_42 ") == "resident_42")
        #expect(CitizenHandle.normalized("@") == "")
        #expect(CitizenHandle.normalized("plain") == "plain")
        #expect(CitizenHandle.normalized(" @ÉLODIE ") == "élodie")
    }

    @Test(arguments: StoreBackend.allCases) func listingsArePagedWithATotal(_ backend: StoreBackend) throws {
        let place = try StorePlace(backend, directory: directory)
        let store = try place.open()
        var batch = JournalBatch()
        (0..<25).forEach { batch.insert(accepted($0)) }
        _ = try store.commit(batch)
        let first = try store.list(InquiryFilter(department: "waste", limit: 10))
        let last = try store.list(InquiryFilter(department: "waste", limit: 10, offset: 20))
        #expect(first.total == 25 && first.items.count == 10)
        #expect(last.total == 25 && last.items.count == 5)
        #expect(Set(first.items.map(\.id)).isDisjoint(with: last.items.map(\.id)))
    }

    /// Open311's read: newest first, by case numbers (and nothing else then), by
    /// department, open or closed, and arrival window; each with its last move's time.
    @Test(arguments: StoreBackend.allCases) func publicStatusesFilterAsOpen311Asks(_ backend: StoreBackend) throws {
        let place = try StorePlace(backend, directory: directory)
        let store = try place.open()
        var batch = JournalBatch()
        let days = ["2026-11-01", "2026-11-10", "2026-11-20", "2026-11-21"]
        var inquiries: [AcceptedInquiry] = []
        for (n, day) in days.enumerated() {
            let inquiry = accepted(n, department: n == 1 ? "roads" : "waste", received: "\(day)T09:30:00.000Z")
            inquiries.append(inquiry)
            batch.insert(inquiry)
        }
        _ = try store.commit(batch)
        var closing = JournalBatch()
        var closed = inquiries[3].record
        for command in [LifecycleCommand.deliver, .close(.answered, note: "done")] {
            _ = try closed.lifecycle.apply(command, by: .worker("w-1"), at: start, frontOffice: "front-office", departments: ["waste"])
        }
        closed.caseNumber = 4
        closing.update(closed)
        let at = start.addingTimeInterval(3_600)
        closing.append(TimelineEntry(inquiry: closed.id, event: "inquiry.closed", at: at, actor: .agent("ana"), role: "back_office",
                                     from: .queued, to: .closed, department: "waste", note: "done"))
        _ = try store.commit(closing)

        let all = try store.publicStatuses(PublicStatusQuery())
        #expect(all.map(\.caseNumber) == [4, 3, 2, 1])
        #expect(all.first?.record.lifecycle.state == .closed && all.first?.updatedAt == at)
        #expect(all.last?.receivedAt == "2026-11-01T09:30:00.000Z")
        #expect(try store.publicStatuses(PublicStatusQuery(departments: ["waste"], closed: false)).map(\.caseNumber) == [3, 1])
        #expect(try store.publicStatuses(PublicStatusQuery(closed: true)).map(\.caseNumber) == [4])
        #expect(try store.publicStatuses(PublicStatusQuery(receivedFrom: "2026-11-05T00:00:00.000Z", receivedBefore: "2026-11-21T00:00:00.000Z"))
            .map(\.caseNumber) == [3, 2])
        #expect(try store.publicStatuses(PublicStatusQuery(caseNumbers: [2, 4], departments: ["parks"], closed: false)).map(\.caseNumber) == [4, 2])
        #expect(try store.publicStatuses(PublicStatusQuery(limit: 2)).map(\.caseNumber) == [4, 3])

        // The manager's report reads the same window with each inquiry's timeline.
        let window = try store.reportInquiries(receivedFrom: "2026-11-05T00:00:00.000Z", before: "2026-11-22T00:00:00.000Z", department: nil)
        #expect(window.map(\.record.id) == [inquiries[1].record.id, inquiries[2].record.id, closed.id])
        #expect(window.last?.timeline.map(\.event) == ["inquiry.closed"] && window.first?.platform == .x)
        #expect(try store.reportInquiries(receivedFrom: "2026-11-05T00:00:00.000Z", before: "2026-11-22T00:00:00.000Z", department: "roads")
            .map(\.record.id) == [inquiries[1].record.id])
        // A page at a time, each inquiry whole (its timeline too), none twice.
        let firstPage = try store.reportInquiries(receivedFrom: "2026-11-05T00:00:00.000Z", before: "2026-11-22T00:00:00.000Z", department: nil,
                                                  after: nil, limit: 2)
        let secondPage = try store.reportInquiries(receivedFrom: "2026-11-05T00:00:00.000Z", before: "2026-11-22T00:00:00.000Z", department: nil,
                                                   after: firstPage.last?.record.id, limit: 2)
        #expect((firstPage + secondPage).map(\.record.id) == window.map(\.record.id))
        #expect(secondPage.last?.timeline.map(\.event) == ["inquiry.closed"])
    }

    @Test func unwritableDirectoryIsAClearError() {
        #expect(throws: StoreError.self) { try SQLiteInquiryStore(directory: "/proc/switchboard-cannot-be-here") }
    }

    /// A gateway that reports a post id another message already has must not fail the
    /// batch (a failed batch is retried for ever and holds every later one).
    @Test(arguments: StoreBackend.allCases) func aRepeatedPostIdDoesNotFailTheBatch(_ backend: StoreBackend) throws {
        let place = try StorePlace(backend, directory: directory)
        let store = try place.open()
        let inquiry = accepted(1)
        let first = OutboundMessage(id: InquiryID(high: 1, low: 1), inquiry: inquiry.id, kind: .answer, platform: .x, account: "@a", inReplyTo: "p", text: "one")
        let second = OutboundMessage(id: InquiryID(high: 1, low: 2), inquiry: inquiry.id, kind: .answer, platform: .x, account: "@a", inReplyTo: "p", text: "two")
        var batch = JournalBatch()
        batch.insert(inquiry)
        batch.queue(first)
        batch.queue(second)
        batch.markSent(first.id, at: "t", postedAs: "post-77")
        _ = try store.commit(batch)
        batch = JournalBatch()
        batch.markSent(second.id, at: "t", postedAs: "post-77")
        _ = try store.commit(batch)
        #expect(try store.outbound(second.id)?.sent == true)
    }

    /// Retention goes past inquiries not yet due to those behind them that are: answered
    /// ones closed 100 days ago stay (180 days), spam closed after them goes (30 days),
    /// whatever the batch size.
    @Test(arguments: StoreBackend.allCases) func retentionPassesOverInquiriesNotYetDueToReachThoseThatAre(_ backend: StoreBackend) throws {
        let place = try StorePlace(backend, directory: directory)
        let store = try place.open()
        let now = start.addingTimeInterval(100 * 86_400)
        var batch = JournalBatch()
        var spam: [InquiryID] = [], answered: [InquiryID] = []
        // More not-yet-due inquiries ahead than a batch looks at, several times over.
        for n in 0..<13 {
            var inquiry = accepted(n)
            let resolution: Resolution = n < 10 ? .answered : .spam
            var entries: [TimelineEntry] = []
            for command in [LifecycleCommand.deliver, .close(resolution, note: "note \(n)")] {
                entries.append(try inquiry.record.lifecycle.apply(command, by: .worker("w"), actingFor: "waste", at: start.addingTimeInterval(Double(n)),
                                                                  frontOffice: "front-office", departments: ["front-office", "waste"]))
            }
            if resolution == .spam { spam.append(inquiry.id) } else { answered.append(inquiry.id) }
            batch.insert(inquiry)
            entries.forEach { batch.append($0) }
        }
        _ = try store.commit(batch)
        var policy = RetentionPolicy()
        policy.batchSize = 2
        var cursor: RetentionCursor?
        var purged = 0, batches = 0
        repeat {
            let result = try store.purgeExpired(policy, now: now, limit: policy.batchSize, after: cursor)
            purged += result.purged.values.reduce(0, +)
            cursor = result.cursor
            batches += 1
            if result.examined < policy.batchSize { break }
        } while batches < 20
        #expect(purged == 3)
        for id in spam {
            let stored = try #require(try store.inquiry(id))
            let envelope = try JSONSerialization.jsonObject(with: Data(stored.envelopeJSON.utf8)) as? [String: Any]
            #expect(envelope?["anonymised"] as? Bool == true, "\(stored.envelopeJSON)")
            #expect(!stored.envelopeJSON.contains("inquiry"), "the text is gone")
            #expect(try store.timeline(id).allSatisfy { $0.note == nil })
        }
        let kept = try #require(try store.inquiry(answered[0]))
        #expect(kept.envelopeJSON.contains("inquiry 0"), "answered 100 days ago: not yet due")
        #expect(try store.purgeExpired(policy, now: now, limit: 100, after: nil).purged.isEmpty, "a second run finds nothing more")
    }

    /// A database from before data protection (v6) gains the handle and close-time
    /// columns from what it already holds, so its citizens can be found and its closed
    /// inquiries expire.
    @Test func theDataProtectionMigrationFillsInExistingInquiries() throws {
        let queue = try DatabaseQueue()
        try SQLiteInquiryStore.migrator.migrate(queue, upTo: "v6-channel-registry")
        try queue.write { db in
            for (n, state) in ["closed", "queued"].enumerated() {
                try db.execute(sql: """
                    INSERT INTO inquiry (id, platform, external_id, department, priority, state, envelope, routing, received_at, lifecycle)
                    VALUES (?, 'x', ?, 'waste', 2, ?, ?, '{}', '2026-11-22T09:30:00Z', NULL)
                    """, arguments: ["01a20b7d-47bd-7366-9bbb-af7139248d7\(n)", "post-\(n)", state, #"{"author":{"handle":" @Resident_\#(n) "},"text":"t"}"#])
            }
            try db.execute(sql: "INSERT INTO timeline (inquiry_id, entry) VALUES ('01a20b7d-47bd-7366-9bbb-af7139248d70', ?)", arguments: [#"{"event":"inquiry.closed","to":"closed","at":1795400000.5}"#])
        }
        let store = try SQLiteInquiryStore(database: queue)
        let rows = try queue.read { db in try Row.fetchAll(db, sql: "SELECT id, author, closed_at FROM inquiry ORDER BY id") }
        #expect(rows.map { $0["author"] as String? } == ["resident_0", "resident_1"])
        #expect(rows.map { $0["closed_at"] as Double? } == [1_795_400_000.5, nil])
        #expect(try store.citizenRecords(platform: .x, handle: "@RESIDENT_0").closed.count == 1)
    }
}

/// The databases a store's contract is tested on.
enum StoreBackend: String, CaseIterable, CustomTestStringConvertible {
    case sqlite, postgres
    var testDescription: String { rawValue }
}

/// Where one test's store lives: a directory, or a fresh PostgreSQL database; ``open()``
/// opens it again as a restarted broker would.
struct StorePlace {
    let backend: StoreBackend
    let directory: String
    let postgres: PostgresLocation?

    init(_ backend: StoreBackend, directory: String) throws {
        self.backend = backend
        self.directory = directory
        postgres = backend == .postgres ? try PostgresLocation(url: PrivatePostgres.freshDatabase()) : nil
    }

    func open() throws -> any InquiryStore {
        if let postgres { return try PostgresInquiryStore(location: postgres) }
        return try SQLiteInquiryStore(directory: directory)
    }
}
