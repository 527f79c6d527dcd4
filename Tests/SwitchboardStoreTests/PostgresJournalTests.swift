import Foundation
import Synchronization
import Testing
import TestSupport
@testable import SwitchboardStore

/// The broker lease and the fenced journal, against a real PostgreSQL server (see
/// ``PrivatePostgres``), each test on a database of its own.
@Suite struct PostgresJournalTests {
    let location: PostgresLocation

    init() throws {
        location = try PostgresLocation(url: try PrivatePostgres.freshDatabase())
        try BrokerLease.prepare(PostgresSession(location))
    }

    func session() -> PostgresSession { PostgresSession(location) }

    /// Polls the database's own clock until the lease has run out.
    func waitUntilLapsed() throws {
        let clock = session()
        try waitUntil("the lease runs out by the database's clock") { (try BrokerLease.current(clock)?.remaining ?? .zero) == .zero }
    }

    @Test func theLeaseIsTakenOnceAndItsEpochGrowsWithEachHolder() throws {
        let db = session()
        let first = try #require(try BrokerLease.take("broker-a", for: .seconds(30), db))
        #expect(first.epoch == 1)
        #expect(try BrokerLease.take("broker-b", for: .seconds(30), db) == nil, "held: nobody else takes it")
        #expect(try BrokerLease.current(db)?.lease == first)
        try first.release(db)
        let second = try #require(try BrokerLease.take("broker-b", for: .seconds(30), db))
        #expect(second.epoch == 2)
        #expect(try !first.renew(for: .seconds(30), db), "the old holder cannot renew it back")
        #expect(try second.renew(for: .seconds(30), db))
    }

    /// A broker paused past its lease never renews it, even when nobody took it: it must
    /// take it again, under a new epoch.
    @Test func aLeaseThatRanOutIsNotRenewed() throws {
        let db = session()
        let lease = try #require(try BrokerLease.take("broker-a", for: .milliseconds(200), db))
        try waitUntilLapsed()
        #expect(try !lease.renew(for: .seconds(30), db))
        #expect(try BrokerLease.take("broker-a", for: .seconds(30), db)?.epoch == 2)
    }

    /// Brokers that try to take a free lease at the same moment: exactly one wins.
    @Test func brokersTakingAtOnceGetOneWinner() throws {
        let winners = Mutex<[BrokerLease]>([])
        let threads = (0..<8).map { n in
            Thread {
                if let lease = try? BrokerLease.take("broker-\(n)", for: .seconds(30), session()) { winners.withLock { $0.append(lease) } }
            }
        }
        for thread in threads { thread.start() }
        try waitUntil("every broker tried") { threads.allSatisfy(\.isFinished) }
        #expect(winners.withLock { $0.count } == 1)
    }

    @Test func appendedEntriesAreReadBackAndTrimmed() throws {
        let journal = try PostgresInquiryJournal(session: session())
        journal.fence = try #require(try BrokerLease.take("broker-a", for: .seconds(30), session()))
        try journal.append([1, 2, 3], at: 1, trimmingThrough: 0)
        try journal.append([4, 5], at: 2, trimmingThrough: 0)
        try journal.append([6], at: 3, trimmingThrough: 1)
        #expect(try journal.entries(after: 0).map(\.position) == [2, 3], "the append trimmed what the projection held")
        #expect(try journal.entries(after: 2).map(\.entry) == [[6]])
        #expect(try journal.lastPosition() == 3)
        // The writer retries an append whose commit it never heard of: its entry is there.
        try journal.append([6], at: 3, trimmingThrough: 1)
        #expect(try journal.entries(after: 2).map(\.entry) == [[6]])
        try journal.trim(through: 3)
        #expect(try journal.entries(after: 0).isEmpty)
    }

    /// The fence: once another broker holds the lease, the old one's appends are refused
    /// and write nothing, whether it noticed the takeover or not.
    @Test func anAppendUnderALeaseNoLongerCurrentIsRefused() throws {
        let old = try PostgresInquiryJournal(session: session())
        let oldLease = try #require(try BrokerLease.take("broker-a", for: .milliseconds(300), session()))
        old.fence = oldLease
        try old.append([1], at: 1, trimmingThrough: 0)
        try waitUntilLapsed()
        #expect(throws: StoreError.self, "ran out, not yet taken: still refused") { try old.append([2], at: 2, trimmingThrough: 0) }

        let new = try PostgresInquiryJournal(session: session())
        new.fence = try #require(try BrokerLease.take("broker-b", for: .seconds(30), session()))
        let refused = #expect(throws: StoreError.self) { try old.append([3], at: 2, trimmingThrough: 1) }
        #expect(refused?.underlying is LeaseLostError)
        try new.append([4], at: 2, trimmingThrough: 0)
        #expect(try new.entries(after: 0).map(\.entry) == [[1], [4]], "nothing of the old broker's refused appends")
        #expect(throws: StoreError.self, "nor does it trim") { try old.trim(through: 2) }
        #expect(throws: StoreError.self, "nor write at a position the new broker used") { try old.append([4], at: 2, trimmingThrough: 0) }
        #expect(try new.entries(after: 0).count == 2)

        let standby = try PostgresInquiryJournal(session: session())
        #expect(throws: StoreError.self, "a standby holds no lease") { try standby.append([5], at: 3, trimmingThrough: 0) }
    }

    /// The hint: a standby takes over before the lease runs out only when the holder's
    /// connection is gone (its advisory lock free) and it stopped renewing; a holder that
    /// is alive keeps the lease.
    @Test func aStandbyTakesOverEarlyOnlyWhenTheHoldersConnectionIsGone() throws {
        let holder = session()
        let first = try #require(try BrokerLease.takeOver("broker-a", for: .seconds(30), staleAfter: .zero, holder))
        #expect(first.lease.epoch == 1 && !first.early)
        let standby = session()
        // With no staleness asked for, only the lock stands in the way.
        #expect(try BrokerLease.takeOver("broker-b", for: .seconds(30), staleAfter: .zero, standby) == nil,
                "the holder's connection is open: its lock holds, however long since it renewed")
        holder.close()   // the process died: the server lets its lock go
        var taken: (lease: BrokerLease, early: Bool)?
        try waitUntil("the standby takes over early") {
            taken = try BrokerLease.takeOver("broker-b", for: .seconds(30), staleAfter: .zero, standby)
            return taken != nil
        }
        #expect(taken?.lease.epoch == 2 && taken?.early == true)
        #expect(try BrokerLease.current(session())?.lease.holder == "broker-b")
        #expect(try taken?.lease.holdHint(standby) == true, "the new holder holds the lock, once")
    }

    /// The broker's own deadline: an append is refused after it, whatever the database says.
    @Test func anAppendAfterTheBrokersOwnDeadlineIsRefused() throws {
        let journal = try PostgresInquiryJournal(session: session())
        let lease = try #require(try BrokerLease.take("broker-a", for: .seconds(30), session()))
        journal.hold(lease, until: .now + .seconds(30))
        try journal.append([1], at: 1, trimmingThrough: 0)
        journal.hold(lease, until: .now - .milliseconds(1))
        let refused = #expect(throws: StoreError.self) { try journal.append([2], at: 2, trimmingThrough: 0) }
        #expect(refused?.underlying is LeaseLostError)
        #expect(try journal.entries(after: 0).map(\.position) == [1], "nothing written")
    }

    /// A connection the server terminated fails one statement; the next reconnects.
    @Test func aTerminatedConnectionIsReplaced() throws {
        let db = session()
        let journal = try PostgresInquiryJournal(session: db)
        journal.fence = try #require(try BrokerLease.take("broker-a", for: .seconds(30), session()))
        try journal.append([1], at: 1, trimmingThrough: 0)
        try session().run("terminate", "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = \(location.database) AND pid <> pg_backend_pid()")
        try waitUntil("the journal appends again") { (try? journal.append([2], at: 2, trimmingThrough: 0)) != nil }
        #expect(try journal.entries(after: 0).map(\.position) == [1, 2])
    }

    @Test func locationsAreReadFromURLsAndBadOnesNamed() throws {
        let location = try PostgresLocation(url: "postgres://switchboard:s3cret@db.city.example:6432/switchboard", environment: [:])
        #expect(location == PostgresLocation(host: "db.city.example", port: 6432, user: "switchboard", password: "s3cret", database: "switchboard"))
        #expect(location.description == "postgres://switchboard@db.city.example:6432/switchboard", "no password in logs")
        #expect(try PostgresLocation(url: "postgresql://u@h/d", environment: ["PGPASSWORD": "p"]).password == "p")
        for bad in ["mysql://u@h/d", "postgres://h/d", "postgres://u@h", "postgres://u:secret@h:5432"] {
            let error = #expect(throws: StoreError.self) { try PostgresLocation(url: bad, environment: [:]) }
            #expect(!"\(error.map { "\($0)" } ?? "")".contains("secret"), "the password is not repeated")
            #expect("\(error.map { "\($0)" } ?? "")".contains("postgres://USER"))
        }
    }
}

/// When a broker stops acknowledging, on its own monotonic clock.
@Suite struct LeaseDeadlineTests {
    @Test func theDeadlineCountsFromWhenTheRenewalWasSentLessTheMargin() {
        var deadline = LeaseDeadline(duration: .seconds(10), margin: .seconds(2))
        let sent = ContinuousClock.now
        #expect(!deadline.holds(at: sent), "nothing renewed yet")
        deadline.renewed(sentAt: sent)
        #expect(deadline.holds(at: sent + .milliseconds(7_999)))
        #expect(!deadline.holds(at: sent + .seconds(8)))
        deadline.renewed(sentAt: sent - .seconds(5))
        #expect(deadline.holds(at: sent + .milliseconds(7_999)), "a late answer to an older renewal never shortens it")
        deadline.lost()
        #expect(!deadline.holds(at: sent))
    }
}
