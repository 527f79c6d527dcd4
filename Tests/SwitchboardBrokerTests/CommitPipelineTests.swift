import Foundation
import SwitchboardCore
import SwitchboardStore
import Testing
@testable import SwitchboardBroker

/// The path a decision takes to the disk, with plain values: no socket, no database.
@Suite struct CommitPipelineTests {
    var rng = SystemRandomNumberGenerator()

    mutating func id() -> InquiryID { InquiryID.generate(milliseconds: 1_000, using: &rng) }

    @Test mutating func batchesAreNumberedOnFromTheJournalsLastPosition() throws {
        var pipeline = CommitPipeline<String>(after: 41)
        #expect(pipeline.seal() == nil, "an empty batch is not sealed")
        pipeline.open.held.append("reply")
        let sealed = pipeline.seal()
        let (sequence, _) = try #require(sealed)
        #expect(sequence == 42)
        #expect(pipeline.nextSequence == 43)
        #expect(pipeline.pending == 1)
        #expect(pipeline.committed(sequence)?.held == ["reply"])
        #expect(pipeline.pending == 0)
        #expect(pipeline.committed(sequence) == nil, "released once")
    }

    /// What a batch wrote waits for the projection, in order, and is handed back once.
    @Test mutating func writtenInquiriesWaitForTheProjection() throws {
        var pipeline = CommitPipeline<String>(after: 0)
        let first = id(), second = id()
        pipeline.open.touched.insert(first)
        pipeline.open.held.append("a")
        let sealedOne = pipeline.seal()
        let one = try #require(sealedOne).sequence
        pipeline.open.touched.insert(second)
        pipeline.open.held.append("b")
        let sealedTwo = pipeline.seal()
        let two = try #require(sealedTwo).sequence
        _ = pipeline.committed(one)
        _ = pipeline.committed(two)
        #expect(pipeline.projected(through: 0).isEmpty)
        let settled = pipeline.projected(through: one)
        #expect(settled.map(\.sequence) == [one])
        #expect(settled.first?.touched == [first])
        #expect(pipeline.projected(through: two).map(\.touched) == [[second]])
        #expect(pipeline.projected(through: two).isEmpty)
    }

    /// A failed append answers its replies once; writes are refused until a batch is
    /// durable again with no other batch's replies already answered.
    @Test mutating func aFailedAppendIsAnsweredOnceAndRefusesWritesUntilOneSucceeds() throws {
        var pipeline = CommitPipeline<String>(after: 0)
        pipeline.open.held.append("reply")
        let sealed = pipeline.seal()
        let sequence = try #require(sealed).sequence
        #expect(pipeline.failed(sequence)?.held == ["reply"])
        #expect(pipeline.storeUnavailable)
        #expect(pipeline.failed(sequence) == nil, "answered unavailable once")
        let committed = pipeline.committed(sequence)
        let retried = try #require(committed)
        #expect(retried.repliesSent, "its replies were already answered")
        #expect(!pipeline.storeUnavailable)
    }

    /// A projection that stopped writing: once too many inquiries wait for it, new writes
    /// are refused (memory stays bounded); they are taken again once it is back under half.
    @Test mutating func writesAreRefusedWhileTheProjectionIsFarBehind() throws {
        var pipeline = CommitPipeline<String>(after: 0, maxUnprojectedInquiries: 4)
        var sequences: [UInt64] = []
        for _ in 0..<3 {
            pipeline.open.touched = [id(), id()]
            pipeline.open.held.append("reply")
            let sealed = pipeline.seal()
            let sequence = try #require(sealed).sequence
            _ = pipeline.committed(sequence)
            sequences.append(sequence)
        }
        #expect(pipeline.unprojectedInquiries == 6)
        #expect(pipeline.storeUnavailable)
        _ = pipeline.projected(through: sequences[0])
        #expect(pipeline.storeUnavailable, "4 still wait: over half of the bound")
        _ = pipeline.projected(through: sequences[1])
        #expect(!pipeline.storeUnavailable)
        #expect(pipeline.unprojectedInquiries == 2)
    }
}

extension CommitPipeline.Batch: Equatable where Held: Equatable {
    public static func == (lhs: Self, rhs: Self) -> Bool { lhs.held == rhs.held && lhs.touched == rhs.touched && lhs.repliesSent == rhs.repliesSent }
}
