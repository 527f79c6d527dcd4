import DequeModule
import SwitchboardCore

/// The path every decision takes to the disk, as a pure state machine: the open batch
/// gathers rows and what waits for them (`Held`: replies, queue entries, events), is
/// sealed and numbered with the next journal position, becomes durable (or fails and is
/// retried), and is finally held by the projection, when the inquiries it wrote may be
/// forgotten. Nothing here knows what a reply or an inquiry's state is.
struct CommitPipeline<Held> {
    struct Batch {
        var store = JournalBatch()
        var held: [Held] = []
        /// Inquiries this batch wrote: the candidates to forget once it is projected.
        var touched: Set<InquiryID> = []
        /// Its replies were already answered `unavailable` because an append failed.
        var repliesSent = false
    }

    /// What is being gathered now.
    var open = Batch()
    /// The position the open batch will have once sealed.
    private(set) var nextSequence: UInt64
    private var sealed: [UInt64: Batch] = [:]
    /// Durable batches the projection does not hold yet, oldest first.
    private var unprojected: Deque<(sequence: UInt64, touched: Set<InquiryID>)> = []
    /// Inquiries those batches wrote (counted once per batch): what memory holds for the
    /// projection's sake.
    private(set) var unprojectedInquiries = 0
    /// An append failed and none has succeeded since: new writes are refused.
    private(set) var appendFailing = false
    /// Past this many unprojected inquiries new writes are refused, until the projection
    /// is back under half of it: a projection that cannot write for a long time (a full
    /// disk under it) must not grow the broker's memory without bound. Nothing is lost;
    /// senders hear `store_unavailable` and retry.
    let maxUnprojectedInquiries: Int
    private(set) var projectionTooFarBehind = false

    /// Whether new writes are refused now.
    var storeUnavailable: Bool { appendFailing || projectionTooFarBehind }

    /// - Parameter position: the journal's last position; batches are numbered on from it.
    init(after position: UInt64, maxUnprojectedInquiries: Int = 200_000) {
        nextSequence = position + 1
        self.maxUnprojectedInquiries = maxUnprojectedInquiries
    }

    /// Sealed batches not yet durable.
    var pending: Int { sealed.count }
    var hasOpenBatch: Bool { !open.store.isEmpty || !open.held.isEmpty }
    var openSize: (rows: Int, bytes: Int) { (open.store.count, open.store.bytes) }

    /// Closes the open batch: its position and the rows to append.
    mutating func seal() -> (sequence: UInt64, batch: JournalBatch)? {
        guard hasOpenBatch else { return nil }
        let sequence = nextSequence
        nextSequence += 1
        sealed[sequence] = open
        open = Batch()
        return (sequence, sealed[sequence]!.store)
    }

    /// Batch `sequence` is durable: it is handed back to release what it held (unless its
    /// replies were already answered `unavailable`), and waits for the projection.
    mutating func committed(_ sequence: UInt64) -> Batch? {
        guard let batch = sealed.removeValue(forKey: sequence) else { return nil }
        if appendFailing && sealed.values.allSatisfy({ !$0.repliesSent }) {
            appendFailing = false
        }
        unprojected.append((sequence, batch.touched))
        unprojectedInquiries += batch.touched.count
        if unprojectedInquiries > maxUnprojectedInquiries { projectionTooFarBehind = true }
        return batch
    }

    /// An append of batch `sequence` failed; the writer retries it. The first failure
    /// hands the batch back so its replies are answered `unavailable` now; until an
    /// append succeeds again, new writes are refused.
    mutating func failed(_ sequence: UInt64) -> Batch? {
        appendFailing = true
        guard var batch = sealed[sequence], !batch.repliesSent else { return nil }
        batch.repliesSent = true
        sealed[sequence] = batch
        return batch
    }

    /// The projection holds every batch through `position`: the inquiries those batches
    /// wrote, each with the batch's position.
    mutating func projected(through position: UInt64) -> [(sequence: UInt64, touched: Set<InquiryID>)] {
        var settled: [(sequence: UInt64, touched: Set<InquiryID>)] = []
        while let first = unprojected.first, first.sequence <= position {
            settled.append(unprojected.removeFirst())
            unprojectedInquiries -= first.touched.count
        }
        if projectionTooFarBehind, unprojectedInquiries <= maxUnprojectedInquiries / 2 { projectionTooFarBehind = false }
        return settled
    }
}
