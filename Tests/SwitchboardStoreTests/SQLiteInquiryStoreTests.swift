import Foundation
import Testing
import TestSupport
import SwitchboardCore
@testable import SwitchboardStore

@Suite struct SQLiteInquiryStoreTests {
    let directory = temporaryDirectory()

    func accepted(_ n: Int, department: String = "waste", priority: Priority = .normal) -> AcceptedInquiry {
        var rng = SystemRandomNumberGenerator()
        return AcceptedInquiry(
            id: InquiryID.generate(milliseconds: UInt64(1_000 + n), using: &rng),
            key: DeduplicationKey(platform: .x, externalID: "post-\(n)"),
            department: department, priority: priority,
            envelopeJSON: #"{"text":"inquiry \#(n)"}"#, routingJSON: #"{"department":"\#(department)"}"#,
            receivedAt: "2026-11-22T09:30:00Z"
        )
    }

    @Test func acceptedInquiriesSurviveReopening() throws {
        let inquiries = (0..<3).map { accepted($0) }
        do {
            let store = try SQLiteInquiryStore(directory: directory)
            var batch = StoreBatch()
            batch.accepted = inquiries
            try store.commit(batch)
        }
        let reopened = try SQLiteInquiryStore(directory: directory)
        #expect(try reopened.openInquiries().map(\.id) == inquiries.map(\.id))
        #expect(try reopened.inquiryID(for: DeduplicationKey(platform: .x, externalID: "post-1")) == inquiries[1].id)
        #expect(try reopened.inquiryID(for: DeduplicationKey(platform: .facebook, externalID: "post-1")) == nil)
        let stored = try #require(try reopened.delivery(inquiries[2].id))
        #expect(stored.envelopeJSON == #"{"text":"inquiry 2"}"#)
        #expect(stored.department == "waste")
    }

    @Test func usesWALAndFullSynchronous() throws {
        let store = try SQLiteInquiryStore(directory: directory)
        var batch = StoreBatch()
        batch.accepted = [accepted(1)]
        try store.commit(batch)
        #expect(FileManager.default.fileExists(atPath: store.path + "-wal"))
    }

    @Test func stateTransitionsAndRestoreOrder() throws {
        let store = try SQLiteInquiryStore(directory: directory)
        let low = accepted(1, priority: .low), urgent = accepted(2, priority: .urgent)
        let normal = accepted(3), flying = accepted(4, priority: .low), done = accepted(5), dead = accepted(6)
        var batch = StoreBatch()
        batch.accepted = [low, urgent, normal, flying, done, dead]
        try store.commit(batch)

        batch = StoreBatch()
        batch.delivered = [(flying.id, 2), (done.id, 1), (dead.id, 5)]
        batch.acknowledged = [(done.id, "2026-11-22T10:00:00Z")]
        batch.parked = [(dead.id, "not acknowledged after 5 deliveries")]
        try store.commit(batch)

        let open = try store.openInquiries()
        // In flight first, then by priority, then by arrival; acknowledged ones are gone.
        #expect(open.map(\.id) == [flying.id, urgent.id, normal.id, dead.id, low.id])
        #expect(open.first?.state == .inFlight)
        #expect(open.first?.deliveries == 2)
        #expect(try store.state(of: dead.id) == .parked)
        #expect(try store.countsByState() == [.ready: 3, .inFlight: 1, .parked: 1, .acknowledged: 1])

        batch = StoreBatch()
        batch.requeued = [dead.id]
        try store.commit(batch)
        #expect(try store.state(of: dead.id) == .ready)
        #expect(try store.delivery(dead.id)?.deliveries == 0)
    }

    @Test func aFailedBatchWritesNothing() throws {
        let store = try SQLiteInquiryStore(directory: directory)
        let first = accepted(1)
        var batch = StoreBatch()
        batch.accepted = [first]
        try store.commit(batch)

        // The second inquiry repeats the first's deduplication key: the whole batch fails.
        var clash = accepted(2)
        clash.key = first.key
        batch.accepted = [accepted(3), clash]
        #expect(throws: StoreError.self) { try store.commit(batch) }
        #expect(try store.openInquiries().map(\.id) == [first.id])
    }

    @Test func unwritableDirectoryIsAClearError() {
        #expect(throws: StoreError.self) { try SQLiteInquiryStore(directory: "/proc/switchboard-cannot-be-here") }
    }
}
