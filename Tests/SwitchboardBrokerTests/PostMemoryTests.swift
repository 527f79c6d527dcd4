import Foundation
import SwitchboardCore
import SwitchboardProtocol
import Testing
@testable import SwitchboardBroker

/// Ingest's memory of posts, with plain values: no socket, no database.
@Suite struct PostMemoryTests {
    var rng = SystemRandomNumberGenerator()

    mutating func id() -> InquiryID { InquiryID.generate(milliseconds: 1_000, using: &rng) }
    func key(_ post: String) -> DeduplicationKey { DeduplicationKey(platform: .x, externalID: post) }

    /// Warmed with fewer keys than it holds, the memory knows every stored post, so the
    /// journal writer may skip the store; once it forgets one, it no longer does.
    @Test mutating func theMemoryIsCompleteUntilItForgetsAKey() {
        var memory = PostMemory(capacity: 3)
        let first = DuplicateOf(id: id(), department: "roads", priority: .normal)
        memory.warm([(key("2"), first), (key("1"), first)])
        #expect(memory.isComplete)
        #expect(memory.original(of: key("1")) == first)
        memory.remember(key("3"), first)
        #expect(memory.isComplete, "three keys fit")
        memory.remember(key("4"), first)
        #expect(!memory.isComplete)
        #expect(memory.original(of: key("1")) == nil, "the oldest was forgotten")
        #expect(memory.original(of: key("4")) == first)

        var full = PostMemory(capacity: 2)
        full.warm([(key("3"), first), (key("2"), first), (key("1"), first)])
        #expect(!full.isComplete, "the store held more than the memory")
        #expect(full.original(of: key("3")) == first && full.original(of: key("1")) == nil, "the newest are kept")
    }

    /// A conversation waits on every post the broker asked or answered through, and on
    /// none once it stops waiting; an erasure forgets the posts.
    @Test mutating func conversationsWaitOnTheirPostsUntilTheyStop() {
        var memory = PostMemory(capacity: 10)
        let asked = id(), other = id()
        memory.await(asked, at: key("post"))
        memory.await(asked, at: key("question"))
        memory.await(other, at: key("elsewhere"))
        #expect(memory.conversation(continuedBy: key("question")) == asked)
        memory.stopAwaiting(asked)
        #expect(memory.conversation(continuedBy: key("post")) == nil && memory.conversation(continuedBy: key("question")) == nil)
        #expect(memory.conversation(continuedBy: key("elsewhere")) == other)
        memory.remember(key("elsewhere"), DuplicateOf(id: other, department: "roads", priority: .normal))
        memory.forget([key("elsewhere")])
        #expect(memory.conversation(continuedBy: key("elsewhere")) == nil && memory.original(of: key("elsewhere")) == nil)
    }
}
