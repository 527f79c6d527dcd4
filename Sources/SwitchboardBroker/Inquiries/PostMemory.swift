import DequeModule
import SwitchboardCore

/// What ingest remembers of platforms' posts, to decide without reading the store: which
/// post already became an inquiry (a gateway's retry, or the same post captured twice),
/// and which posts continue a conversation that waits for the citizen.
///
/// Pure and bounded: past `capacity` keys the oldest are forgotten, and from then on the
/// journal writer checks new keys against the store too (``isComplete`` turns false).
struct PostMemory {
    private var originals: [DeduplicationKey: DuplicateOf] = [:]
    private var order: Deque<DeduplicationKey> = []
    let capacity: Int
    /// Every key the store holds is remembered (it was warmed with all of them and none
    /// was evicted since): a key not remembered is new.
    private(set) var isComplete = false
    /// Posts that continue a conversation waiting for the citizen (a question the broker
    /// asked, or the post it answered), and for each inquiry, its posts.
    private var threads: [DeduplicationKey: InquiryID] = [:]
    private var threadsOf: [InquiryID: Set<DeduplicationKey>] = [:]

    /// Room for every key is reserved at once: a dictionary grown one doubling at a time
    /// rehashes every key it holds while the engine waits (about 60 ms at 196,608 keys,
    /// the p99.9 of the acknowledgements around it). Reserved, it costs some 20 MB from
    /// the start and never stalls.
    init(capacity: Int) {
        self.capacity = capacity
        originals.reserveCapacity(capacity)
        order.reserveCapacity(capacity)
    }

    /// The inquiry this post (or this revision of it) already became.
    func original(of key: DeduplicationKey) -> DuplicateOf? { originals[key] }

    mutating func remember(_ key: DeduplicationKey, _ original: DuplicateOf) {
        guard originals.updateValue(original, forKey: key) == nil else { return }
        order.append(key)
        if order.count > capacity, let oldest = order.popFirst() {
            originals[oldest] = nil
            isComplete = false
        }
    }

    /// Warms the memory at start-up with the store's newest keys (newest first): complete
    /// when the store had fewer than the capacity.
    mutating func warm(_ recent: [(key: DeduplicationKey, original: DuplicateOf)]) {
        for (key, original) in recent.prefix(capacity).reversed() { remember(key, original) }
        isComplete = recent.count < capacity
    }

    /// An erasure removed these posts: nothing of them stays in memory.
    mutating func forget(_ keys: Set<DeduplicationKey>) {
        guard !keys.isEmpty else { return }
        for key in keys {
            originals.removeValue(forKey: key)
            if let inquiry = threads.removeValue(forKey: key) { threadsOf[inquiry]?.remove(key) }
        }
        order.removeAll { keys.contains($0) }
    }

    /// The inquiry waiting for the citizen that a reply to `parent` continues.
    func conversation(continuedBy parent: DeduplicationKey) -> InquiryID? { threads[parent] }

    /// A reply to `key` continues `inquiry`'s conversation.
    mutating func await(_ inquiry: InquiryID, at key: DeduplicationKey) {
        if let earlier = threads.updateValue(inquiry, forKey: key), earlier != inquiry { threadsOf[earlier]?.remove(key) }
        threadsOf[inquiry, default: []].insert(key)
    }

    /// The conversation no longer waits for the citizen: replies to its posts are new
    /// inquiries again.
    mutating func stopAwaiting(_ inquiry: InquiryID) {
        for key in threadsOf.removeValue(forKey: inquiry) ?? [] { threads[key] = nil }
    }
}
