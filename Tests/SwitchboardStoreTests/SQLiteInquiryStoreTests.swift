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
            inquiries.forEach { batch.append(.accept($0)) }
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
        batch.append(.accept(accepted(1)))
        try store.commit(batch)
        #expect(FileManager.default.fileExists(atPath: store.path + "-wal"))
        #expect(try store.pragma("journal_mode") == "wal")
        #expect(try store.pragma("synchronous") == "2")   // FULL
    }

    @Test func stateTransitionsAndRestoreOrder() throws {
        let store = try SQLiteInquiryStore(directory: directory)
        let low = accepted(1, priority: .low), urgent = accepted(2, priority: .urgent)
        let normal = accepted(3), flying = accepted(4, priority: .low), done = accepted(5), dead = accepted(6)
        var batch = StoreBatch()
        [low, urgent, normal, flying, done, dead].forEach { batch.append(.accept($0)) }
        try store.commit(batch)

        batch = StoreBatch()
        batch.append(.delivered(flying.id, deliveries: 2))
        batch.append(.delivered(done.id, deliveries: 1))
        batch.append(.delivered(dead.id, deliveries: 5))
        batch.append(.acknowledged(done.id, at: "2026-11-22T10:00:00Z"))
        batch.append(.parked(dead.id, reason: "not acknowledged after 5 deliveries"))
        try store.commit(batch)

        let open = try store.openInquiries()
        // In flight first, then ready by priority and arrival, then parked; acknowledged
        // ones are gone.
        #expect(open.map(\.id) == [flying.id, urgent.id, normal.id, low.id, dead.id])
        #expect(open.first?.state == .inFlight)
        #expect(open.first?.deliveries == 2)
        #expect(try store.state(of: dead.id) == .parked)
        #expect(try store.countsByState() == [.ready: 3, .inFlight: 1, .parked: 1, .acknowledged: 1])

        batch = StoreBatch()
        batch.append(.requeued(dead.id))
        try store.commit(batch)
        #expect(try store.state(of: dead.id) == .ready)
        #expect(try store.delivery(dead.id)?.deliveries == 0)
    }

    @Test func aFailedBatchWritesNothing() throws {
        let store = try SQLiteInquiryStore(directory: directory)
        let first = accepted(1)
        var batch = StoreBatch()
        batch.append(.accept(first))
        try store.commit(batch)

        // The second inquiry repeats the first's deduplication key: the whole batch fails.
        var clash = accepted(2)
        clash.key = first.key
        batch = StoreBatch()
        batch.append(.accept(accepted(3)))
        batch.append(.accept(clash))
        #expect(throws: StoreError.self) { try store.commit(batch) }
        #expect(try store.openInquiries().map(\.id) == [first.id])
    }

    @Test func lifecycleTimelineAndOutboundRoundTrip() throws {
        let store = try SQLiteInquiryStore(directory: directory)
        let inquiry = accepted(1, department: "front-office")
        let start = Date(timeIntervalSince1970: 1_800_000_000)
        var lifecycle = InquiryLifecycle(id: inquiry.id, department: "front-office")
        let policy = SLAPolicy()
        var sla = InquirySLA(department: "front-office", priority: .normal, policy: policy, at: start)
        let claimed = try lifecycle.apply(.claim, by: .agent("ana"), actingFor: "front-office", at: start.addingTimeInterval(60),
                                          frontOffice: "front-office", departments: ["front-office", "waste"])
        sla.follow(claimed, priority: .normal, policy: policy)
        let record = LifecycleRecord(lifecycle: lifecycle, priority: .high, sla: sla, leaseExpiresAt: start.addingTimeInterval(960))

        var batch = StoreBatch()
        batch.append(.accept(inquiry))
        batch.append(.record(inquiry.id, record))
        batch.append(.timeline(claimed))
        batch.append(.outbound(OutboundReply(inquiry: inquiry.id, platform: .x, account: "@RivertonCity", inReplyTo: "post-1", text: "We are on it")))
        try store.commit(batch)

        #expect(try store.record(inquiry.id) == record)
        #expect(try store.timeline(inquiry.id) == [claimed])
        #expect(try store.expiredLeases(before: start.addingTimeInterval(959), limit: 10).isEmpty)
        #expect(try store.expiredLeases(before: start.addingTimeInterval(961), limit: 10) == [inquiry.id])
        #expect(try store.list(InquiryFilter(department: "front-office", state: .inProgress)).map(\.id) == [inquiry.id])
        #expect(try store.list(InquiryFilter(state: .queued)).isEmpty)
        #expect(try store.pendingOutbound().map(\.inquiry) == [inquiry.id])

        batch = StoreBatch()
        batch.append(.outboundSent(inquiry.id, at: "2026-11-22T10:00:00Z"))
        try store.commit(batch)
        #expect(try store.pendingOutbound().isEmpty)
        #expect(try store.outbound(inquiry.id)?.sent == true)
    }

    @Test func unwritableDirectoryIsAClearError() {
        #expect(throws: StoreError.self) { try SQLiteInquiryStore(directory: "/proc/switchboard-cannot-be-here") }
    }
}
