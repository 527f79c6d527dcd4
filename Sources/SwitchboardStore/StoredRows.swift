import Foundation
import GRDB
import SwitchboardCore

/// What both stores read and write the same way: the documents' JSON coders, the
/// `lifecycle` and `timeline.entry` columns, and the records built from a row's columns
/// by name, whichever database the row came from (``StoredRow``). One reader per
/// record, so the SQLite and PostgreSQL stores cannot drift apart.
enum StoredDocuments {
    static let channelEncoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .secondsSince1970
        encoder.outputFormatting = [.sortedKeys]
        return encoder
    }()

    static let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .secondsSince1970
        return decoder
    }()
}

/// A row of either store, read by column name; a column missing or NULL reads as nil.
protocol StoredRow {
    func string(_ column: String) -> String?
    func int(_ column: String) -> Int?
    func double(_ column: String) -> Double?
}

extension Row: StoredRow {
    func string(_ column: String) -> String? { self[column] }
    func int(_ column: String) -> Int? { self[column] }
    func double(_ column: String) -> Double? { self[column] }
}

/// The records a row's columns hold.
enum StoredRows {
    /// The inquiry a row of `id, department, priority` names.
    static func duplicate(_ row: some StoredRow) -> DuplicateOf? {
        guard let id = row.string("id").flatMap(InquiryID.init) else { return nil }
        return DuplicateOf(id: id, department: row.string("department") ?? "", priority: Priority(rank: row.int("priority") ?? 0) ?? .normal)
    }

    /// A post and the inquiry it became, from a row of `platform, external_id, id,
    /// department, priority`.
    static func original(_ row: some StoredRow) -> (key: DeduplicationKey, original: DuplicateOf)? {
        guard let platform = row.string("platform").flatMap(Platform.init(rawValue:)), let original = duplicate(row) else { return nil }
        return (DeduplicationKey(platform: platform, externalID: row.string("external_id") ?? ""), original)
    }

    /// The record a row holds (columns `state`, `department`, `owner_kind`, `owner_id`,
    /// `priority`, `lease_expires_at`, `deliveries`, `lifecycle`); a row written before
    /// lifecycles existed gets a fresh record queued at its department.
    static func record(_ row: some StoredRow, id: InquiryID) throws -> LifecycleRecord {
        let priority = Priority(rank: row.int("priority") ?? 0) ?? .normal
        let department = row.string("department") ?? ""
        let deliveries = UInt16(clamping: row.int("deliveries") ?? 0)
        guard let json = row.string("lifecycle"), let state = row.string("state").flatMap(LifecycleState.init(rawValue:)) else {
            return LifecycleRecord(lifecycle: InquiryLifecycle(id: id, department: department), priority: priority,
                                   sla: InquirySLA(department: department, priority: priority, policy: SLAPolicy(), at: Date()),
                                   deliveries: deliveries)
        }
        return try LifecycleColumn.record(json, id: id, state: state, department: department, owner: owner(row), priority: priority,
                                          lease: row.double("lease_expires_at").map(Date.init(timeIntervalSince1970:)), deliveries: deliveries)
    }

    /// An inquiry as the broker loads it (columns of ``record(_:id:)`` and `platform`,
    /// `external_id`, `envelope`, `routing`, `received_at`, `seq`).
    static func inquiry(_ row: some StoredRow, id: InquiryID) throws -> StoredInquiry? {
        guard let platform = row.string("platform").flatMap(Platform.init(rawValue:)) else { return nil }
        var record = try record(row, id: id)
        record.caseNumber = row.int("seq") ?? 0
        return StoredInquiry(id: id, key: DeduplicationKey(platform: platform, externalID: row.string("external_id") ?? ""),
                             envelopeJSON: row.string("envelope") ?? "", routingJSON: row.string("routing") ?? "",
                             receivedAt: row.string("received_at") ?? "", record: record)
    }

    /// A public status, from a row of the record's columns with `id`, `seq`,
    /// `received_at` and `last_entry` (the timeline's last row).
    static func publicStatus(_ row: some StoredRow) throws -> PublicStatus? {
        guard let id = row.string("id").flatMap(InquiryID.init) else { return nil }
        let updated = try row.string("last_entry").map(TimelineColumn.decode)?.last?.at
        return PublicStatus(caseNumber: row.int("seq") ?? 0, record: try record(row, id: id), receivedAt: row.string("received_at") ?? "",
                            updatedAt: updated)
    }

    /// The manager's report's inquiries, from rows of the record's columns with `id`,
    /// `platform`, `received_at`, `unofficial` and one timeline row's `entry` each, in
    /// order of the inquiry and then of its timeline.
    static func reportInquiries(_ rows: some Sequence<some StoredRow>) throws -> [ReportInquiry] {
        var result: [ReportInquiry] = []
        var current: InquiryID?
        for row in rows {
            guard let id = row.string("id").flatMap(InquiryID.init), let platform = row.string("platform").flatMap(Platform.init(rawValue:)) else { continue }
            if id != current {
                current = id
                let received = row.string("received_at").flatMap(CalendarDate.parse) ?? id.createdAt
                result.append(ReportInquiry(platform: platform, receivedAt: received, record: try record(row, id: id),
                                            unofficial: row.string("unofficial") != nil, timeline: []))
            }
            if let entry = row.string("entry") { result[result.count - 1].timeline += try TimelineColumn.decode(entry) }
        }
        return result
    }

    static func owner(_ row: some StoredRow) -> Actor? {
        row.string("owner_kind").flatMap(Actor.Kind.init(rawValue:)).map { Actor(kind: $0, id: row.string("owner_id") ?? "") }
    }

    /// One line of a listing, from a row of the inquiry's columns with `unsent` and
    /// `unofficial` beside them.
    static func summary(_ row: some StoredRow, at now: Date) -> InquirySummary? {
        guard let id = row.string("id").flatMap(InquiryID.init), let state = row.string("state").flatMap(LifecycleState.init(rawValue:)),
              let platform = row.string("platform").flatMap(Platform.init(rawValue:)) else { return nil }
        var summary = InquirySummary(id: id, department: row.string("department") ?? "", state: state,
                                     priority: Priority(rank: row.int("priority") ?? 0) ?? .normal, owner: owner(row),
                                     receivedAt: row.string("received_at") ?? "", platform: platform)
        summary.preview = preview(row.string("envelope"))
        summary.caseNumber = row.int("seq") ?? 0
        summary.unsent = row.int("unsent") ?? 0
        summary.unofficialChannel = row.string("unofficial")
        if let text = row.string("lifecycle"), let column = try? StoredDocuments.decoder.decode(LifecycleColumn.self, from: Data(text.utf8)) {
            (summary.slaSecondsLeft, summary.slaState) = tightest(column.sla, at: now)
        }
        return summary
    }

    /// A message to a citizen from a `message` row.
    static func outbound(_ row: some StoredRow) -> OutboundMessage? {
        guard let id = row.string("id").flatMap(InquiryID.init), let inquiry = row.string("inquiry_id").flatMap(InquiryID.init),
              let platform = row.string("platform").flatMap(Platform.init(rawValue:)),
              let kind = row.string("kind").flatMap(OutboundMessage.Kind.init(rawValue:)) else { return nil }
        return OutboundMessage(id: id, inquiry: inquiry, kind: kind, platform: platform, account: row.string("account") ?? "",
                               inReplyTo: row.string("in_reply_to") ?? "", text: row.string("text") ?? "", sent: row.string("sent_at") != nil,
                               author: row.string("author"), recipient: row.string("recipient"), thread: row.string("thread"))
    }

    /// One message of a conversation, either way, from a `message` row.
    static func conversationMessage(_ row: some StoredRow) -> ConversationMessage? {
        guard let messageID = row.string("id").flatMap(InquiryID.init), let platform = row.string("platform").flatMap(Platform.init(rawValue:)) else {
            return nil
        }
        let sentAt = row.string("sent_at")
        let ended = row.string("status").flatMap(MessageStatus.init(rawValue:))
        let direction = row.string("direction") ?? "out"
        let status: MessageStatus = ended == .failed ? .failed : direction == "in" || sentAt != nil ? .posted : ended ?? .waiting
        var message = ConversationMessage(id: messageID, direction: direction, kind: row.string("kind") ?? "", platform: platform,
                                          account: row.string("account"), author: row.string("author"), text: row.string("text") ?? "",
                                          status: status, statusAt: status == .failed ? row.string("ended_at") : sentAt ?? row.string("ended_at"),
                                          reason: row.string("reason"), failureCode: row.string("failure_code"), externalID: row.string("external_id"))
        message.delivery = row.string("delivery")
        return message
    }

    /// A message as the official record's export holds it.
    static func exportMessage(_ row: some StoredRow) -> ExportMessage {
        ExportMessage(id: row.string("id") ?? "", direction: row.string("direction") ?? "", kind: row.string("kind") ?? "",
                      platform: row.string("platform") ?? "", account: row.string("account"), text: row.string("text") ?? "",
                      sentAt: row.string("sent_at"))
    }

    /// The first 60 characters of the envelope's text, on one line.
    static func preview(_ envelope: String?) -> String? {
        guard let envelope, case .object(let fields)? = try? JSONValue.parse(Array(envelope.utf8)),
              let text = fields.first(where: { $0.key == "text" })?.value.stringValue else { return nil }
        let line = text.split(whereSeparator: \.isNewline).joined(separator: " ")
        return line.count > 60 ? String(line.prefix(59)) + "…" : line
    }

    /// The clock closest to its target among those still running or breached: the
    /// seconds until it falls due (in its calendar's terms: a clock that falls due on
    /// Monday morning has the weekend left), and its state.
    static func tightest(_ sla: InquirySLA, at now: Date) -> (Double?, String?) {
        let clocks = [sla.legFirstResponse, sla.legResolution, sla.wholeFirstResponse, sla.wholeResolution].filter { !$0.met }
        guard let clock = clocks.min(by: { $0.secondsLeft(at: now) < $1.secondsLeft(at: now) }) else { return (nil, nil) }
        return (clock.secondsLeft(at: now).rounded(), clock.state)
    }
}

/// The consecutive journal batches one projection transaction applies, folded: each
/// inquiry row once, in the state the last batch left it (an inquiry accepted, delivered
/// and acknowledged in the window is one INSERT, not an INSERT and two UPDATEs), and one
/// timeline row per inquiry holding every entry the batches gave it.
struct ProjectionWindow {
    private(set) var inserts: [AcceptedInquiry] = []
    /// Moves of inquiries inserted before the window.
    private(set) var records: [InquiryID: LifecycleRecord] = [:]
    let batches: [JournalBatch]

    init(_ batches: [JournalBatch]) {
        self.batches = batches
        var inserted: [InquiryID: Int] = [:]
        for batch in batches {
            for inquiry in batch.inserts {
                inserted[inquiry.id] = inserts.count
                inserts.append(inquiry)
            }
            for (id, record) in batch.records {
                if let index = inserted[id] { inserts[index].record = record } else { records[id] = record }
            }
        }
    }

    /// Each inquiry's timeline entries in the window, in the order inquiries first appear,
    /// leaving out those of duplicates that were not written.
    func timelines(skipping skipped: [InquiryID: DuplicateOf]) -> [(inquiry: InquiryID, entries: [TimelineEntry])] {
        var order: [InquiryID] = []
        var entries: [InquiryID: [TimelineEntry]] = [:]
        for batch in batches {
            for entry in batch.timeline where skipped[entry.inquiry] == nil {
                if entries[entry.inquiry]?.append(entry) == nil {
                    entries[entry.inquiry] = [entry]
                    order.append(entry.inquiry)
                }
            }
        }
        return order.map { ($0, entries[$0] ?? []) }
    }
}

extension InquiryStore {
    /// Applies the journal's entries after the projection's position, in transactions of
    /// up to `perTransaction` entries: after a crash, before the broker reads anything.
    /// Returns how many entries it applied.
    @discardableResult
    public func catchUp(from journal: any InquiryJournal, perTransaction: Int = 256) throws(StoreError) -> Int {
        let projected = try projectedPosition()
        let entries = try journal.entries(after: projected)
        // The journal keeps every entry after the projection's position; one that starts
        // later belongs to another projection (a database restored from a backup beside
        // the journal of the broker that kept running): replaying it would skip moves.
        if let first = entries.first?.position, first > projected + 1 {
            throw StoreError(operation: "replay the journal", underlying: JournalGap(projected: projected, firstEntry: first))
        }
        var applied = 0
        while applied < entries.count {
            let slice = entries[applied..<min(entries.count, applied + perTransaction)]
            var decoded: [(position: UInt64, batch: JournalBatch)] = []
            for entry in slice {
                do {
                    decoded.append((entry.position, try JournalEntry.decode(entry.entry)))
                } catch {
                    throw StoreError(operation: "replay journal entry \(entry.position)", underlying: error)
                }
            }
            _ = try project(decoded)
            applied += slice.count
        }
        return applied
    }
}

/// The `lifecycle` column: what of the state machine the row's columns do not hold
/// (`answered`, `lastMoveID`, `resolution`) and the SLA clocks, as JSON. State,
/// department and owner are stored once, in their columns (`state`, `department`,
/// `owner_kind`, `owner_id`), which the indexes need; rows written before this kept a
/// copy of them in the JSON, which is never read. Read with `JSONDecoder`; written by
/// hand, because it is written on every move and JSONEncoder was a fifth of the
/// broker's time.
struct LifecycleColumn: Decodable {
    struct Rest: Decodable {
        var answered: Bool
        var lastMoveID: String?
        /// The key rows written before moves other than replies had ids kept it under.
        var lastReplyID: String?
        var resolution: Resolution?
        var duplicateOf: String?
    }

    var lifecycle: Rest
    var sla: InquirySLA

    /// The column for `record`.
    static func json(_ record: LifecycleRecord) -> String {
        write(record, whole: false)
    }

    /// The whole lifecycle, columns included, as the official record's export shows it
    /// (see 7/SB-PRIVACY, "Export").
    static func document(_ record: LifecycleRecord) -> String {
        write(record, whole: true)
    }

    /// The record a row holds: the columns, and the JSON for the rest.
    static func record(_ json: String, id: InquiryID, state: LifecycleState, department: String, owner: Actor?,
                       priority: Priority, lease: Date?, deliveries: UInt16) throws -> LifecycleRecord {
        let column = try StoredDocuments.decoder.decode(Self.self, from: Data(json.utf8))
        let lifecycle = InquiryLifecycle(restoring: id, state: state, department: department, owner: owner, answered: column.lifecycle.answered,
                                         lastMoveID: column.lifecycle.lastMoveID ?? column.lifecycle.lastReplyID, resolution: column.lifecycle.resolution,
                                         duplicateOf: column.lifecycle.duplicateOf.flatMap(InquiryID.init))
        return LifecycleRecord(lifecycle: lifecycle, priority: priority, sla: column.sla, leaseExpiresAt: lease, deliveries: deliveries)
    }

    private static func write(_ record: LifecycleRecord, whole: Bool) -> String {
        let lifecycle = record.lifecycle, sla = record.sla
        var column = JSONWriter(capacity: 768)
        column.object("lifecycle") { machine in
            if whole {
                machine.add("id", lifecycle.id.description)
                machine.add("state", lifecycle.state.rawValue)
                machine.add("department", lifecycle.department)
                if let owner = lifecycle.owner {
                    machine.object("owner") { actor in
                        actor.add("kind", owner.kind.rawValue)
                        actor.add("id", owner.id)
                    }
                }
            }
            machine.addBool("answered", lifecycle.answered)
            machine.add("lastMoveID", lifecycle.lastMoveID)
            machine.add("resolution", lifecycle.resolution?.rawValue)
            if let other = lifecycle.duplicateOf { machine.add("duplicateOf", other.description) }
        }
        column.object("sla") { clocks in
            clocks.add("department", sla.department)
            for (key, clock) in [("legFirstResponse", sla.legFirstResponse), ("legResolution", sla.legResolution),
                                 ("wholeFirstResponse", sla.wholeFirstResponse), ("wholeResolution", sla.wholeResolution)] {
                clocks.object(key) { writer in
                    writer.add("target", clock.target)
                    writer.add("accrued", clock.accrued)
                    if let since = clock.runningSince { writer.add("runningSince", since.timeIntervalSince1970) }
                    if let due = clock.due { writer.add("due", due.timeIntervalSince1970) }
                    if let warnAt = clock.warnAt { writer.add("warnAt", warnAt.timeIntervalSince1970) }
                    writer.addBool("met", clock.met)
                    writer.addBool("warned", clock.warned)
                    writer.addBool("breached", clock.breached)
                }
            }
        }
        return column.result
    }
}

/// The `timeline.entry` column, written by hand in ``TimelineEntry``'s Codable shape
/// (dates as seconds since 1970) because timeline rows are written on every move. A row
/// holds one entry (an object), or the entries one projection transaction gave an
/// inquiry (an array of them).
enum TimelineColumn {
    static func json(_ entries: [TimelineEntry]) -> String {
        entries.count == 1 ? json(entries[0]) : "[" + entries.map(json).joined(separator: ",") + "]"
    }

    /// The entries a row holds, in order.
    static func decode(_ column: String) throws -> [TimelineEntry] {
        let data = Data(column.utf8)
        if column.first == "[" { return try StoredDocuments.decoder.decode([TimelineEntry].self, from: data) }
        return [try StoredDocuments.decoder.decode(TimelineEntry.self, from: data)]
    }

    static func json(_ entry: TimelineEntry) -> String {
        var writer = JSONWriter(capacity: 256)
        writer.add("inquiry", entry.inquiry.description)
        writer.add("event", entry.event)
        writer.add("at", entry.at.timeIntervalSince1970)
        writer.object("actor") { actor in
            actor.add("kind", entry.actor.kind.rawValue)
            actor.add("id", entry.actor.id)
        }
        writer.add("role", entry.role)
        writer.add("from", entry.from?.rawValue)
        writer.add("to", entry.to.rawValue)
        writer.add("department", entry.department)
        writer.add("note", entry.note)
        return writer.result
    }
}
