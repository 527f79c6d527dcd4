import Foundation
import SwitchboardCore

/// One journal entry: a sealed batch, as the bytes the journal stores.
///
/// The entry is the batch's changes as the machines decided them (accepted inquiries,
/// the lifecycle record each touched inquiry reached, timeline events, messages, registry
/// entries), so that replaying it needs no decision made again. It is written on the hot
/// path once per batch and read back only when the broker starts after a crash, so the
/// format is a compact binary one (varints, little-endian doubles and length-prefixed
/// UTF-8), field by field: JSON for every lifecycle record and timeline entry was most of
/// the writer thread's time. Registry entries, rare, keep the projection's JSON.
///
/// Layout: a version byte, then nine sections in the order of ``JournalBatch``'s fields,
/// each a varint count followed by its items. Version 2 added each SLA clock's due and
/// warning times (business-hours calendars); version 3 the inquiry a merged one duplicates;
/// entries of earlier versions are still read.
public enum JournalEntry {
    static let version: UInt8 = 3

    public static func encode(_ batch: JournalBatch) -> [UInt8] {
        var out = ByteWriter(capacity: batch.bytes + 64)
        out.byte(version)
        out.count(batch.inserts)
        for inquiry in batch.inserts {
            out.string(inquiry.key.platform.rawValue)
            out.string(inquiry.key.externalID)
            out.string(inquiry.envelopeJSON)
            out.string(inquiry.routingJSON)
            out.string(inquiry.receivedAt)
            out.optional(inquiry.author)
            out.record(inquiry.record)
        }
        out.count(batch.records)
        for record in batch.records.values { out.record(record) }
        out.count(batch.timeline)
        for entry in batch.timeline { out.timeline(entry) }
        out.count(batch.outbound)
        for message in batch.outbound {
            out.string(message.id.description)
            out.string(message.inquiry.description)
            out.string(message.kind.rawValue)
            out.string(message.platform.rawValue)
            out.string(message.account)
            out.string(message.inReplyTo)
            out.string(message.text)
            out.optional(message.author)
            out.optional(message.recipient)
            out.optional(message.thread)
        }
        out.count(batch.outboundSent)
        for sent in batch.outboundSent {
            out.string(sent.id.description)
            out.string(sent.at)
            out.optional(sent.postedAs)
        }
        out.count(batch.outboundStatuses)
        for status in batch.outboundStatuses {
            out.string(status.id.description)
            out.string(status.status)
            out.string(status.at)
            out.optional(status.code)
            out.optional(status.reason)
        }
        out.count(batch.outboundEnded)
        for ended in batch.outboundEnded {
            out.string(ended.id.description)
            out.string(ended.status.rawValue)
            out.string(ended.at)
            out.optional(ended.code)
            out.string(ended.reason)
        }
        out.count(batch.inbound)
        for message in batch.inbound {
            out.string(message.id.description)
            out.string(message.inquiry.description)
            out.string(message.key.platform.rawValue)
            out.string(message.key.externalID)
            out.string(message.inReplyTo)
            out.string(message.text)
            out.string(message.kind)
        }
        out.count(batch.channels)
        for channel in batch.channels {
            // Registry changes are rare: the projection's own Codable shape is enough.
            out.string(String(decoding: (try? StoredDocuments.channelEncoder.encode(channel)) ?? Data(), as: UTF8.self))
        }
        return out.bytes
    }

    /// Decodes an entry written by ``encode(_:)``.
    public static func decode(_ bytes: [UInt8]) throws(JournalEntryError) -> JournalBatch {
        var input = ByteReader(bytes)
        input.version = try input.byte()
        guard (1...version).contains(input.version) else { throw JournalEntryError("unknown journal entry version \(input.version)") }
        var batch = JournalBatch()
        for _ in 0..<(try input.count()) {
            let key = DeduplicationKey(platform: try input.platform(), externalID: try input.string())
            let envelope = try input.string(), routing = try input.string(), receivedAt = try input.string()
            let author = try input.optional()
            batch.insert(AcceptedInquiry(key: key, envelopeJSON: envelope, routingJSON: routing, receivedAt: receivedAt,
                                         record: try input.record(), author: author))
        }
        for _ in 0..<(try input.count()) { batch.update(try input.record()) }
        for _ in 0..<(try input.count()) { batch.append(try input.timeline()) }
        for _ in 0..<(try input.count()) {
            let id = try input.id(), inquiry = try input.id()
            guard let kind = OutboundMessage.Kind(rawValue: try input.string()) else { throw JournalEntryError("unknown message kind") }
            let platform = try input.platform()
            let account = try input.string(), inReplyTo = try input.string(), text = try input.string()
            batch.queue(OutboundMessage(id: id, inquiry: inquiry, kind: kind, platform: platform, account: account, inReplyTo: inReplyTo,
                                        text: text, author: try input.optional(), recipient: try input.optional(), thread: try input.optional()))
        }
        for _ in 0..<(try input.count()) { batch.markSent(try input.id(), at: try input.string(), postedAs: try input.optional()) }
        for _ in 0..<(try input.count()) {
            batch.markStatus(try input.id(), try input.string(), at: try input.string(), code: try input.optional(), reason: try input.optional())
        }
        for _ in 0..<(try input.count()) {
            let id = try input.id()
            guard let status = MessageStatus(rawValue: try input.string()) else { throw JournalEntryError("unknown message status") }
            batch.markEnded(id, status, at: try input.string(), code: try input.optional(), reason: try input.string())
        }
        for _ in 0..<(try input.count()) {
            let id = try input.id(), inquiry = try input.id()
            let key = DeduplicationKey(platform: try input.platform(), externalID: try input.string())
            batch.receive(InboundMessage(id: id, inquiry: inquiry, key: key, inReplyTo: try input.string(), text: try input.string(),
                                         kind: try input.string()))
        }
        for _ in 0..<(try input.count()) { batch.save(try input.json(ChannelEntry.self)) }
        guard input.atEnd else { throw JournalEntryError("bytes after the last section") }
        return batch
    }
}

/// A journal entry that cannot be read back: the broker stops rather than guess.
public struct JournalEntryError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = "journal entry unreadable: \(description)" }
}

private struct ByteWriter {
    var bytes: [UInt8]

    init(capacity: Int) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    mutating func byte(_ value: UInt8) { bytes.append(value) }

    mutating func varint(_ value: UInt64) {
        var value = value
        while value >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: value) | 0x80)
            value >>= 7
        }
        bytes.append(UInt8(value))
    }

    mutating func count(_ collection: some Collection) { varint(UInt64(collection.count)) }

    mutating func string(_ value: String) {
        var value = value
        value.withUTF8 { utf8 in
            varint(UInt64(utf8.count))
            bytes.append(contentsOf: utf8)
        }
    }

    /// Absent as 0; present as 1 and the string.
    mutating func optional(_ value: String?) {
        guard let value else { return byte(0) }
        byte(1)
        string(value)
    }

    mutating func double(_ value: Double) {
        withUnsafeBytes(of: value.bitPattern.littleEndian) { bytes.append(contentsOf: $0) }
    }

    mutating func optional(_ value: Date?) {
        guard let value else { return byte(0) }
        byte(1)
        double(value.timeIntervalSince1970)
    }

    mutating func timeline(_ entry: TimelineEntry) {
        string(entry.inquiry.description)
        string(entry.event)
        double(entry.at.timeIntervalSince1970)
        string(entry.actor.kind.rawValue)
        string(entry.actor.id)
        string(entry.role)
        optional(entry.from?.rawValue)
        string(entry.to.rawValue)
        string(entry.department)
        optional(entry.note)
    }

    mutating func record(_ record: LifecycleRecord) {
        let lifecycle = record.lifecycle
        string(lifecycle.id.description)
        string(lifecycle.state.rawValue)
        string(lifecycle.department)
        optional(lifecycle.owner?.kind.rawValue)
        if let owner = lifecycle.owner { string(owner.id) }
        byte(lifecycle.answered ? 1 : 0)
        // Written before 2026-12-04 as the last reply's id: the same slot, the same meaning for a reply.
        optional(lifecycle.lastMoveID)
        optional(lifecycle.resolution?.rawValue)
        optional(lifecycle.duplicateOf?.description)
        string(record.sla.department)
        for clock in [record.sla.legFirstResponse, record.sla.legResolution, record.sla.wholeFirstResponse, record.sla.wholeResolution] {
            double(clock.target)
            double(clock.accrued)
            optional(clock.runningSince)
            byte((clock.met ? 1 : 0) | (clock.warned ? 2 : 0) | (clock.breached ? 4 : 0))
            optional(clock.due)
            optional(clock.warnAt)
        }
        varint(UInt64(bitPattern: Int64(record.priority.rank)))
        optional(record.leaseExpiresAt)
        varint(UInt64(record.deliveries))
        varint(UInt64(bitPattern: Int64(record.caseNumber)))
    }
}

private struct ByteReader {
    let bytes: [UInt8]
    var at = 0
    /// The entry's version, once read: what later versions added is read only from them.
    var version: UInt8 = JournalEntry.version

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    var atEnd: Bool { at == bytes.count }

    mutating func byte() throws(JournalEntryError) -> UInt8 {
        guard at < bytes.count else { throw JournalEntryError("cut short") }
        defer { at += 1 }
        return bytes[at]
    }

    mutating func varint() throws(JournalEntryError) -> UInt64 {
        var value: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            let next = try byte()
            guard shift < 64 else { throw JournalEntryError("varint too long") }
            value |= UInt64(next & 0x7F) << shift
            if next < 0x80 { return value }
            shift += 7
        }
    }

    mutating func count() throws(JournalEntryError) -> Int {
        let count = try varint()
        // No section holds more items than the entry has bytes.
        guard count <= UInt64(bytes.count - at) else { throw JournalEntryError("count past the end") }
        return Int(count)
    }

    mutating func string() throws(JournalEntryError) -> String {
        let length = try varint()
        guard length <= UInt64(bytes.count - at) else { throw JournalEntryError("string past the end") }
        defer { at += Int(length) }
        return String(decoding: bytes[at..<at + Int(length)], as: UTF8.self)
    }

    mutating func optional() throws(JournalEntryError) -> String? {
        try byte() == 0 ? nil : try string()
    }

    mutating func id() throws(JournalEntryError) -> InquiryID {
        let text = try string()
        guard let id = InquiryID(text) else { throw JournalEntryError("not an id: \(text)") }
        return id
    }

    mutating func platform() throws(JournalEntryError) -> Platform {
        let text = try string()
        guard let platform = Platform(rawValue: text) else { throw JournalEntryError("unknown platform \(text)") }
        return platform
    }

    mutating func json<T: Decodable>(_ type: T.Type) throws(JournalEntryError) -> T {
        let text = try string()
        do {
            return try StoredDocuments.decoder.decode(T.self, from: Data(text.utf8))
        } catch {
            throw JournalEntryError("\(T.self): \(error)")
        }
    }

    mutating func double() throws(JournalEntryError) -> Double {
        guard bytes.count - at >= 8 else { throw JournalEntryError("cut short") }
        var bits: UInt64 = 0
        for index in 0..<8 { bits |= UInt64(bytes[at + index]) << (8 * UInt64(index)) }
        at += 8
        return Double(bitPattern: bits)
    }

    mutating func date() throws(JournalEntryError) -> Date? {
        try byte() == 0 ? nil : Date(timeIntervalSince1970: try double())
    }

    mutating func raw<T: RawRepresentable<String>>(_ type: T.Type) throws(JournalEntryError) -> T {
        let text = try string()
        guard let value = T(rawValue: text) else { throw JournalEntryError("unknown \(T.self) \(text)") }
        return value
    }

    mutating func timeline() throws(JournalEntryError) -> TimelineEntry {
        let inquiry = try id(), event = try string()
        let at = Date(timeIntervalSince1970: try double())
        let actor = Actor(kind: try raw(Actor.Kind.self), id: try string())
        let role = try string()
        let from = try optional().map { text throws(JournalEntryError) -> LifecycleState in
            guard let state = LifecycleState(rawValue: text) else { throw JournalEntryError("unknown state \(text)") }
            return state
        }
        return TimelineEntry(inquiry: inquiry, event: event, at: at, actor: actor, role: role, from: from, to: try raw(LifecycleState.self),
                             department: try string(), note: try optional())
    }

    mutating func record() throws(JournalEntryError) -> LifecycleRecord {
        let id = try id()
        let state = try raw(LifecycleState.self)
        let department = try string()
        var owner: Actor?
        if let kind = try optional() {
            guard let kind = Actor.Kind(rawValue: kind) else { throw JournalEntryError("unknown owner kind \(kind)") }
            owner = Actor(kind: kind, id: try string())
        }
        let answered = try byte() == 1
        let lastMoveID = try optional()
        let resolution = try optional().map { text throws(JournalEntryError) -> Resolution in
            guard let resolution = Resolution(rawValue: text) else { throw JournalEntryError("unknown resolution \(text)") }
            return resolution
        }
        var duplicateOf: InquiryID?
        if version >= 3, let text = try optional() {
            guard let other = InquiryID(text) else { throw JournalEntryError("bad inquiry id \(text)") }
            duplicateOf = other
        }
        let lifecycle = InquiryLifecycle(restoring: id, state: state, department: department, owner: owner, answered: answered,
                                         lastMoveID: lastMoveID, resolution: resolution, duplicateOf: duplicateOf)
        let slaDepartment = try string()
        var clocks: [SLAClock] = []
        for _ in 0..<4 {
            var clock = SLAClock(target: try double(), startingAt: Date(timeIntervalSince1970: 0))
            clock.accrued = try double()
            clock.runningSince = try date()
            let flags = try byte()
            clock.met = flags & 1 != 0
            clock.warned = flags & 2 != 0
            clock.breached = flags & 4 != 0
            // Version 1 kept no due times: the clock ran around the clock, and its due time
            // is worked out from what it counted (not from the placeholder start above).
            clock.due = version >= 2 ? try date() : nil
            clock.warnAt = version >= 2 ? try date() : nil
            clocks.append(clock)
        }
        let sla = InquirySLA(restoring: slaDepartment, legFirstResponse: clocks[0], legResolution: clocks[1], wholeFirstResponse: clocks[2],
                             wholeResolution: clocks[3])
        let rank = Int(Int64(bitPattern: try varint()))
        guard let priority = Priority(rank: rank) else { throw JournalEntryError("unknown priority \(rank)") }
        let lease = try date()
        let deliveries = UInt16(clamping: try varint())
        let caseNumber = Int(Int64(bitPattern: try varint()))
        return LifecycleRecord(lifecycle: lifecycle, priority: priority, sla: sla, leaseExpiresAt: lease, deliveries: deliveries,
                               caseNumber: caseNumber)
    }
}
