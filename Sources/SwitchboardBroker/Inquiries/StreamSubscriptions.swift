/// The topic prefixes someone subscribed to on the event stream, as the publishing socket
/// (XPUB) reports them: what is worth building. Nobody listening is the usual case under
/// load, and each timeline event is a JSON document written for every move.
struct StreamSubscriptions: Equatable {
    private var prefixes: Set<[UInt8]>

    /// Nothing subscribed: no event is wanted.
    static let none = StreamSubscriptions(prefixes: [])
    /// Every topic (the empty prefix).
    static let everything = StreamSubscriptions(prefixes: [[]])

    /// Whether a subscriber would receive an event of this topic.
    func wants(_ topic: String) -> Bool {
        prefixes.contains { topic.utf8.starts(with: $0) }
    }

    /// Applies one message the XPUB socket read: `1` then a prefix subscribes, `0` then a
    /// prefix unsubscribes. Anything else is not a subscription and changes nothing.
    /// - Returns: whether it was one.
    @discardableResult
    mutating func apply(_ message: [UInt8]) -> Bool {
        guard let kind = message.first, kind == 0 || kind == 1 else { return false }
        let prefix = Array(message.dropFirst())
        if kind == 1 { prefixes.insert(prefix) } else { prefixes.remove(prefix) }
        return true
    }
}
