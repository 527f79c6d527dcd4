import Foundation
import DequeModule

/// One queued inquiry as the broker keeps it in memory: only what ordering and
/// redelivery need. The text stays on disk until the inquiry is delivered.
public struct QueueEntry: Sendable, Equatable {
    public var id: InquiryID
    public var priority: Priority
    /// How many times it has been handed to a worker so far.
    public var deliveries: UInt16

    public init(id: InquiryID, priority: Priority, deliveries: UInt16 = 0) {
        self.id = id
        self.priority = priority
        self.deliveries = deliveries
    }
}

/// The ready inquiries of every department, served by priority and then first in,
/// first out. A pure value: the broker persists every change before it matters.
public struct DepartmentQueues: Sendable {
    /// For each department, one FIFO per priority, urgent first.
    private var queues: [String: [Deque<QueueEntry>]] = [:]

    public init() {}

    /// Adds an inquiry at the back of its priority's line.
    public mutating func enqueue(_ entry: QueueEntry, department: String) {
        queues[department, default: Self.empty][entry.priority.rank].append(entry)
    }

    /// Puts an inquiry back at the front of its priority's line (a redelivery).
    public mutating func requeueAtFront(_ entry: QueueEntry, department: String) {
        queues[department, default: Self.empty][entry.priority.rank].prepend(entry)
    }

    /// Takes the next inquiry for `department`: the oldest of the highest priority.
    ///
    /// Lines are changed where they are stored: a copy taken out of the dictionary and
    /// written back shares its storage until the write, so a change made to the copy
    /// copied the whole line (with a million waiting, a third of the broker's time).
    public mutating func next(department: String) -> QueueEntry? {
        guard let rank = queues[department]?.firstIndex(where: { !$0.isEmpty }) else { return nil }
        return queues[department]![rank].removeFirst()
    }

    /// The inquiry `next(department:)` would take, left in place.
    public func peek(department: String) -> QueueEntry? {
        queues[department]?.first { !$0.isEmpty }?.first
    }

    /// Takes one inquiry out of its department's queue, wherever it stands.
    public mutating func remove(_ id: InquiryID, department: String) -> QueueEntry? {
        guard let (rank, index) = position(of: id, department: department) else { return nil }
        return queues[department]![rank].remove(at: index)
    }

    /// Where an inquiry stands in its department's lines. Not mutating, so that no copy
    /// of a line is held while the caller changes it.
    private func position(of id: InquiryID, department: String) -> (rank: Int, index: Int)? {
        guard let lines = queues[department] else { return nil }
        for rank in lines.indices {
            if let index = lines[rank].firstIndex(where: { $0.id == id }) { return (rank, index) }
        }
        return nil
    }

    /// The earliest-received inquiry at the head of any of the department's lines: the
    /// one that has waited longest, unless a later one was put back before it.
    public func longestWaiting(department: String) -> QueueEntry? {
        queues[department]?.compactMap(\.first).min { $0.id < $1.id }
    }

    /// The head of each priority's line: the longest-waiting inquiry of each priority.
    public func heads(department: String) -> [QueueEntry] {
        queues[department]?.compactMap(\.first) ?? []
    }

    /// Ready inquiries past their own priority's target at `now`, per priority, each count
    /// at most `cap`: a line is in arrival order, so the count stops at the first entry
    /// still within its target (or at the cap), however long the line.
    public func overdue(department: String, at now: Date, target: (Priority) -> Double, cap: Int = 10_000) -> [Priority: Int] {
        guard let lines = queues[department] else { return [:] }
        var result: [Priority: Int] = [:]
        for priority in Priority.allCases {
            let limit = target(priority)
            var count = 0
            for entry in lines[priority.rank] {
                guard count < cap, now.timeIntervalSince(entry.id.createdAt) > limit else { break }
                count += 1
            }
            if count > 0 { result[priority] = count }
        }
        return result
    }

    public func count(department: String) -> Int {
        queues[department]?.reduce(0) { $0 + $1.count } ?? 0
    }

    public func hasReady(department: String) -> Bool {
        queues[department]?.contains { !$0.isEmpty } ?? false
    }

    public var departments: [String] { queues.keys.sorted() }

    private static let empty = Array(repeating: Deque<QueueEntry>(), count: Priority.allCases.count)
}
