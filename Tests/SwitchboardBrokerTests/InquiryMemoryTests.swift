import Foundation
import SwitchboardCore
import Testing
@testable import SwitchboardBroker

/// What the broker keeps in memory of the inquiries it works on: plain values, no store.
@Suite struct InquiryMemoryTests {
    /// `load`, outside `#expect` (which cannot call a mutating method).
    func taken(_ memory: inout InquiryMemory, _ copy: StoredInquiry, author: String? = nil, readThrough: UInt64) -> Bool {
        memory.load(copy, author: author, thread: nil, readThrough: readThrough)
    }

    let now = Date(timeIntervalSince1970: 1_764_000_000)

    func record(_ state: LifecycleState = .queued, owner: Actor? = nil) -> LifecycleRecord {
        let id = InquiryID.generate(at: now)
        return LifecycleRecord(lifecycle: InquiryLifecycle(restoring: id, state: state, department: "waste", owner: owner, answered: false,
                                                           lastMoveID: nil, resolution: nil),
                               priority: .normal, sla: InquirySLA(department: "waste", priority: .normal, policy: SLAPolicy(), at: now))
    }

    func key(_ id: String) -> DeduplicationKey { DeduplicationKey(platform: .x, externalID: id) }

    func stored(_ record: LifecycleRecord, envelope: String = #"{"text":"from the store"}"#) -> StoredInquiry {
        StoredInquiry(id: record.id, key: key("s"), envelopeJSON: envelope, routingJSON: "{}", receivedAt: "", record: record)
    }

    @Test func envelopesAreKeptWithinTheBudgetAndDroppedOnDelivery() {
        var memory = InquiryMemory(bodyBudget: 10)
        let first = record(), second = record()
        memory.track(first, key: key("1"), envelope: "0123456789AB", routing: "{}", author: "@a", thread: nil, writtenIn: 1)
        memory.track(second, key: key("2"), envelope: "more", routing: "{}", author: "@b", thread: nil, writtenIn: 1)
        #expect(memory[first.id]?.envelope == "0123456789AB")
        #expect(memory[second.id]?.envelope == nil, "kept past the budget")
        #expect(memory[second.id]?.author == "@b", "the record and the handle are kept whatever the budget")
        #expect(memory.bodyBytes == 12)
        memory.dropBody(of: first.id)
        #expect(memory[first.id]?.envelope == nil && memory[first.id]?.routing == nil)
        #expect(memory.bodyBytes == 0)
        memory.dropBody(of: first.id)
        #expect(memory.bodyBytes == 0, "dropped twice, counted once")
    }

    /// Only inquiries at rest whose last change the projected batch holds are let go of.
    @Test func settledInquiriesAreForgottenOnceTheProjectionHoldsTheirLastChange() {
        var memory = InquiryMemory(bodyBudget: 1 << 20)
        let queued = record(), answered = record(.answered), heldByWorker = record(.inProgress, owner: .worker("w-1")),
            heldByAgent = record(.inProgress, owner: .agent("ana")), awaiting = record(.awaitingCitizen)
        for (n, item) in [queued, answered, heldByWorker, heldByAgent, awaiting].enumerated() {
            memory.track(item, key: key("\(n)"), envelope: "{}", routing: "{}", author: "@a", thread: nil, writtenIn: 3)
        }
        var closedLater = answered
        closedLater.priority = .high
        memory.update(closedLater, writtenIn: 5)
        memory.forgetSettled(Set([queued, answered, heldByWorker, heldByAgent, awaiting].map(\.id)), upTo: 4)
        #expect(memory[answered.id] != nil, "written again in batch 5, which the projection does not hold yet")
        #expect(memory[heldByAgent.id] == nil, "an agent's claim is at rest: read back when the agent acts")
        #expect(memory[queued.id] != nil && memory[heldByWorker.id] != nil && memory[awaiting.id] != nil)
        memory.forgetSettled([answered.id], upTo: 5)
        #expect(memory[answered.id] == nil)
        #expect(memory.count == 3)
    }

    /// A copy read from the projection before the change that let the inquiry go is older
    /// than what memory forgot: refused while such reads may be on their way.
    @Test func aCopyReadBeforeTheLastChangeIsRefused() {
        var memory = InquiryMemory(bodyBudget: 1 << 20)
        let item = record(.answered)
        memory.track(item, key: key("1"), envelope: "{}", routing: "{}", author: "@a", thread: nil, writtenIn: 7)
        memory.readsOnTheirWay(since: 5)
        memory.forgetSettled([item.id], upTo: 7)
        var old = item
        old.lifecycle = InquiryLifecycle(restoring: item.id, state: .queued, department: "waste", owner: nil, answered: false,
                                         lastMoveID: nil, resolution: nil)
        #expect(!taken(&memory, stored(old), author: nil, readThrough: 6), "read through batch 6, before the change in 7")
        #expect(memory[item.id] == nil)
        #expect(taken(&memory, stored(item), author: "@a", readThrough: 7))
        #expect(memory[item.id]?.record.lifecycle.state == .answered)
        // Once no read older than 7 is on its way, nothing is remembered.
        memory.readsOnTheirWay(since: nil)
        #expect(taken(&memory, stored(old), author: nil, readThrough: 0))
    }

    /// A copy from the store adds the envelope to an inquiry held without one, and never
    /// replaces the newer record memory holds.
    @Test func aLoadAddsTheBodyButKeepsTheNewerRecord() {
        var memory = InquiryMemory(bodyBudget: 0)
        var item = record()
        memory.track(item, key: key("1"), envelope: "{}", routing: "{}", author: "@a", thread: nil, writtenIn: 1)
        #expect(memory[item.id]?.envelope == nil)
        let older = item
        item.priority = .urgent
        memory.update(item, writtenIn: 2)
        #expect(taken(&memory, stored(older, envelope: #"{"text":"x"}"#), author: nil, readThrough: .max))
        #expect(memory[item.id]?.envelope == #"{"text":"x"}"#)
        #expect(memory[item.id]?.record.priority == .urgent)
        #expect(memory[item.id]?.author == "@a")
    }

    /// An erasure leaves no personal data in memory, and a read from before it that
    /// arrives afterwards is not taken in.
    @Test func anErasureDropsThePersonalDataAndRefusesOlderCopies() {
        var memory = InquiryMemory(bodyBudget: 1 << 20)
        let item = record()
        memory.track(item, key: key("1"), envelope: #"{"text":"canary"}"#, routing: "{}", author: "@ana", thread: "dm-1", writtenIn: 1)
        memory.readsOnTheirWay(since: 1)
        memory.erase([item.id])
        let held = memory[item.id]
        #expect(held?.envelope == nil && held?.routing == nil && held?.author == nil && held?.thread == nil)
        #expect(memory.bodyBytes == 0)
        let unknown = record()
        memory.erase([unknown.id])
        #expect(!taken(&memory, stored(unknown, envelope: #"{"text":"canary"}"#), author: "@ana", readThrough: .max - 2))
        #expect(memory[unknown.id] == nil)
    }

    @Test func aDiscardedInquiryGivesBackItsBytes() {
        var memory = InquiryMemory(bodyBudget: 1 << 20)
        let item = record()
        memory.track(item, key: key("1"), envelope: "abcd", routing: "{}", author: "@a", thread: nil, writtenIn: 1)
        let gone = memory.discard(item.id), again = memory.discard(item.id)
        #expect(gone?.key == key("1"))
        #expect(again == nil)
        #expect(memory.bodyBytes == 0 && memory.count == 0)
    }
}
