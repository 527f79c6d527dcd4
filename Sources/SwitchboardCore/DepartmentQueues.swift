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
    /// Entries taken out of the middle of a line, left in place and skipped when they
    /// reach its head: finding one in a line of a million and closing the gap cost a
    /// scan and a shift each (an SLA storm escalates hundreds a second). Keyed by
    /// department, then id and line, with how many such entries wait. A line's head is
    /// never one of them.
    private var removed: [String: [Removed: Int]] = [:]
    private var removedCount: [String: Int] = [:]

    private struct Removed: Hashable {
        var id: InquiryID
        var rank: Int
    }

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
        let entry = queues[department]![rank].removeFirst()
        dropRemovedHeads(department: department, rank: rank)
        return entry
    }

    /// The inquiry `next(department:)` would take, left in place.
    public func peek(department: String) -> QueueEntry? {
        queues[department]?.first { !$0.isEmpty }?.first
    }

    /// Takes one inquiry out of its department's queue, wherever it stands. With its
    /// `priority` (the line it was queued in) this costs nothing but at the line's head:
    /// the entry stays where it is, marked, and is skipped when it comes up. The caller
    /// must know it is queued there; without the priority, the lines are searched.
    public mutating func remove(_ id: InquiryID, priority: Priority? = nil, department: String) {
        // Only the head is read, never the line: a line bound to a name here would be a
        // second reference to its storage, and the removal below would copy the whole
        // line first (a million entries for every escalation of an SLA storm).
        if let priority, let head = queues[department]?[priority.rank].first {
            let rank = priority.rank
            if head.id == id {
                queues[department]![rank].removeFirst()
                dropRemovedHeads(department: department, rank: rank)
            } else {
                removed[department, default: [:]][Removed(id: id, rank: rank), default: 0] += 1
                removedCount[department, default: 0] += 1
            }
            return
        }
        guard let (rank, index) = position(of: id, department: department) else { return }
        queues[department]![rank].remove(at: index)
        if index == 0 { dropRemovedHeads(department: department, rank: rank) }
    }

    /// Pops marked entries off the head of a line, so that heads are always live.
    private mutating func dropRemovedHeads(department: String, rank: Int) {
        guard removedCount[department, default: 0] > 0 else { return }
        while let head = queues[department]![rank].first {
            let key = Removed(id: head.id, rank: rank)
            guard let waiting = removed[department]?[key] else { return }
            queues[department]![rank].removeFirst()
            removed[department]![key] = waiting > 1 ? waiting - 1 : nil
            removedCount[department]! -= 1
        }
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

    /// Ready inquiries past their own priority's target, per priority, each count at most
    /// `cap`: `cutoff` says when an inquiry of a priority must have arrived by to be
    /// within its target now (its target counted back in its calendar). A line is in
    /// arrival order, so the count stops at the first entry within its target (or at the
    /// cap), however long the line. Entries taken out of the middle of a line and not yet
    /// skipped are counted too (an estimate, for statistics).
    public func overdue(department: String, cutoff: (Priority) -> Date, cap: Int = 10_000) -> [Priority: Int] {
        guard let lines = queues[department] else { return [:] }
        var result: [Priority: Int] = [:]
        for priority in Priority.allCases {
            let arrivedBy = cutoff(priority)
            var count = 0
            for entry in lines[priority.rank] {
                guard count < cap, entry.id.createdAt < arrivedBy else { break }
                count += 1
            }
            if count > 0 { result[priority] = count }
        }
        return result
    }

    public func count(department: String) -> Int {
        max(0, (queues[department]?.reduce(0) { $0 + $1.count } ?? 0) - (removedCount[department] ?? 0))
    }

    public func hasReady(department: String) -> Bool {
        // Heads are always live: a line that is not empty holds a ready inquiry.
        queues[department]?.contains { !$0.isEmpty } ?? false
    }

    public var departments: [String] { queues.keys.sorted() }

    private static let empty = Array(repeating: Deque<QueueEntry>(), count: Priority.allCases.count)
}
