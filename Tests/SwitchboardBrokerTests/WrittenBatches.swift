import Foundation
import SwitchboardCore

/// What the inquiry machine's batches wrote, folded into plain values, so that its tests
/// read back what it decided without a database (issue 26: machine tests build none).
///
/// It applies a ``JournalBatch`` the way the projection's contract says (latest record
/// wins; an accepted inquiry whose post is already stored is a duplicate, left out), and
/// keeps nothing the machine did not write. The projection itself is tested on SQLite in
/// `SwitchboardStoreTests`.
struct WrittenBatches {
    struct Message: Equatable {
        var kind: String
        var text: String
        var status: MessageStatus
        var failureCode: String?
        var reason: String?
    }

    private(set) var inquiries: [InquiryID: StoredInquiry] = [:]
    private var byKey: [DeduplicationKey: InquiryID] = [:]
    private var timelines: [InquiryID: [TimelineEntry]] = [:]
    /// Messages by their own id, with the inquiry each belongs to and the order written.
    private var messages: [InquiryID: (inquiry: InquiryID, order: Int, message: Message, pending: OutboundMessage?)] = [:]
    private var channelsByID: [String: ChannelEntry] = [:]
    private var channelOrder: [String] = []

    /// Applies `batch` and says which accepted inquiries repeated a written one.
    mutating func commit(_ batch: JournalBatch) -> CommitResult {
        var result = CommitResult()
        for inquiry in batch.inserts {
            if let earlier = byKey[inquiry.key], let original = inquiries[earlier] {
                result.duplicates[inquiry.id] = DuplicateOf(id: earlier, department: original.record.lifecycle.department,
                                                            priority: original.record.priority)
            }
        }
        let applied = batch.leavingOut(Set(result.duplicates.keys))
        for inquiry in applied.inserts {
            inquiries[inquiry.id] = StoredInquiry(id: inquiry.id, key: inquiry.key, envelopeJSON: inquiry.envelopeJSON,
                                                  routingJSON: inquiry.routingJSON, receivedAt: inquiry.receivedAt, record: inquiry.record)
            byKey[inquiry.key] = inquiry.id
        }
        for (id, record) in applied.records { inquiries[id]?.record = record }
        for entry in applied.timeline { timelines[entry.inquiry, default: []].append(entry) }
        for message in applied.outbound {
            messages[message.id] = (message.inquiry, messages.count, Message(kind: message.kind.rawValue, text: message.text, status: .waiting), message)
        }
        for sent in applied.outboundSent {
            messages[sent.id]?.message.status = .posted
            messages[sent.id]?.pending = nil
        }
        for ended in applied.outboundEnded {
            messages[ended.id]?.message.status = ended.status
            messages[ended.id]?.message.failureCode = ended.code
            messages[ended.id]?.message.reason = ended.reason
            messages[ended.id]?.pending = nil
        }
        for message in applied.inbound {
            messages[message.id] = (message.inquiry, messages.count, Message(kind: message.kind, text: message.text, status: .posted), nil)
        }
        for channel in applied.channels {
            if channelsByID.updateValue(channel, forKey: channel.id) == nil { channelOrder.append(channel.id) }
        }
        return result
    }

    func inquiry(_ id: InquiryID) -> StoredInquiry? { inquiries[id] }
    func record(_ id: InquiryID) -> LifecycleRecord? { inquiries[id]?.record }
    func inquiry(for key: DeduplicationKey) -> DuplicateOf? {
        byKey[key].flatMap { inquiries[$0] }.map { DuplicateOf(id: $0.id, department: $0.record.lifecycle.department, priority: $0.record.priority) }
    }
    func timeline(_ id: InquiryID) -> [TimelineEntry] { timelines[id] ?? [] }
    /// The inquiry's messages in the order they were written.
    func conversation(_ id: InquiryID) -> [Message] {
        messages.values.filter { $0.inquiry == id }.sorted { $0.order < $1.order }.map(\.message)
    }
    /// Replies and questions not yet posted, failed or cancelled: what a restart queues again.
    var pendingOutbound: [OutboundMessage] { messages.values.compactMap(\.pending) }
    var channels: [ChannelEntry] { channelOrder.compactMap { channelsByID[$0] } }
    var lastCaseNumber: Int { inquiries.values.map(\.record.caseNumber).max() ?? 0 }

    /// Open inquiries per department, state and owner kind, as a restart counts them.
    var stateCounts: [StateCount] {
        var counts: [String: StateCount] = [:]
        for stored in inquiries.values where stored.record.lifecycle.state != .closed {
            let lifecycle = stored.record.lifecycle
            let name = "\(lifecycle.department)|\(lifecycle.state)|\(lifecycle.owner?.kind.rawValue ?? "-")"
            counts[name, default: StateCount(department: lifecycle.department, state: lifecycle.state, ownerKind: lifecycle.owner?.kind, count: 0)].count += 1
        }
        return Array(counts.values)
    }
}
