import Foundation
import SwitchboardCore
import SwitchboardProtocol
import SwitchboardStore
import ZeroMQ

/// Every answer the inquiry side sends a client, as one JSON frame.
enum InquiryReply {
    case accepted(id: InquiryID, key: DeduplicationKey, department: String, priority: Priority)
    case duplicate(of: DuplicateOf, key: DeduplicationKey)
    /// A citizen's follow-up joined the conversation of the inquiry it answers.
    case threaded(into: DuplicateOf, key: DeduplicationKey)
    /// An edit or deletion recorded on the inquiry the post became.
    case changed(of: DuplicateOf, key: DeduplicationKey)
    case rejected(IngestError)
    /// An agent's move (claim, renew, release, reply, ask, handoff, return, close,
    /// reopen), answered as SwitchboardProtocol's `InquiryMove`.
    case move(MoveAnswer)
    /// `sb.agent.show`, answered as SwitchboardProtocol's `InquiryDetail`.
    case detail(DetailAnswer)
    /// An answer with a model in SwitchboardProtocol, which clients decode.
    case model(any Encodable)
    case agentError(AgentError)
    case lifecycleError(LifecycleError, allowed: [String]?)
    /// The store could not be written: try again later.
    case unavailable

    /// The department an ingest's answer names: where the inquiry waits.
    var department: String? {
        switch self {
        case .accepted(_, _, let department, _): department
        case .duplicate(let original, _), .threaded(let original, _), .changed(let original, _): original.department
        default: nil
        }
    }

    /// Hand-written on the hot path (ingest) and around stored documents (claims, show);
    /// JSONEncoder for the models of the rest.
    var frame: Frame {
        var writer = JSONWriter()
        switch self {
        case .accepted(let id, let key, let department, let priority):
            Self.write(&writer, status: "accepted", link: nil, DuplicateOf(id: id, department: department, priority: priority), key)
        case .duplicate(let original, let key):
            Self.write(&writer, status: "duplicate", link: "duplicate_of", original, key)
        case .threaded(let inquiry, let key):
            Self.write(&writer, status: "accepted", link: "thread_of", inquiry, key)
        case .changed(let inquiry, let key):
            Self.write(&writer, status: "accepted", link: "change_of", inquiry, key)
        case .rejected(let error):
            writer.add("status", "rejected")
            writer.object("error") { detail in
                detail.add("code", error.code.rawValue)
                detail.add("message", error.message)
                detail.add("field", error.field)
            }
        case .unavailable:
            return Self.error(code: AgentError.unavailable.code, message: AgentError.unavailable.description)
        case .agentError(let error):
            return Self.error(code: error.code, message: error.description)
        case .lifecycleError(let error, let allowed):
            // Keys in sorted order, as every agent answer has them.
            writer.object("error") { detail in
                if case .invalidTransition(_, _, let moves) = error { detail.add("allowed", strings: allowed ?? moves) }
                detail.add("code", error.code.rawValue)
                detail.add("message", error.description)
                if case .invalidTransition(let state, _, _) = error { detail.add("state", state.rawValue) }
            }
            writer.add("status", "error")
        case .move(let answer):
            answer.write(&writer)
        case .detail(let answer):
            answer.write(&writer)
        case .model(let answer):
            return Frame(Self.json(answer))
        }
        return Frame(writer.bytes)
    }

    /// An ingest answer naming the inquiry: `link` repeats its id under the name that
    /// says how this envelope relates to it.
    private static func write(_ writer: inout JSONWriter, status: String, link: String?, _ inquiry: DuplicateOf, _ key: DeduplicationKey) {
        writer.add("status", status)
        writer.add("id", inquiry.id.description)
        if let link { writer.add(link, inquiry.id.description) }
        writer.add("department", inquiry.department)
        writer.add("priority", inquiry.priority.rawValue)
        writer.add("platform", key.platform.rawValue)
        writer.add("external_id", key.externalID)
    }

    private static func error(code: ErrorCode, message: String) -> Frame {
        var writer = JSONWriter()
        writer.add("status", "error")
        writer.object("error") { detail in
            detail.add("code", code.rawValue)
            detail.add("message", message)
        }
        return Frame(writer.bytes)
    }

    /// Sorted keys and plain slashes, as every agent answer is written.
    private static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()

    /// An inquiry as a move left it, and what the requester may do next. With a claim,
    /// the envelope and routing decision go out as the bytes stored, not parsed and
    /// written again.
    struct MoveAnswer {
        var record: LifecycleRecord
        var allowed: [String]
        /// Stored JSON documents (a claim's answer only).
        var envelope: String?
        var routing: String?
        var caseNumber: String?
        /// A reply or question this move queued.
        var message: InquiryMove.QueuedMessage?

        init(_ record: LifecycleRecord, for actor: Actor, actingFor: String?, envelope: String? = nil, routing: String? = nil) {
            self.record = record
            allowed = record.lifecycle.allowedCommands(for: actor, actingFor: actingFor)
            self.envelope = envelope
            self.routing = routing
        }

        /// `InquiryMove`'s keys, in sorted order.
        func write(_ writer: inout JSONWriter) {
            writer.add("allowed", strings: allowed)
            writer.add("case", caseNumber)
            writer.add("department", record.lifecycle.department)
            writer.add("id", record.id.description)
            if let envelope { writer.add("inquiry", raw: InquiryReply.stored(envelope)) }
            writer.add("lease_expires_at", record.leaseExpiresAt.map(Timestamp.format))
            if let message { writer.add("message", raw: InquiryReply.json(message)) }
            writer.add("owner", record.lifecycle.owner.map { "\($0)" })
            writer.add("priority", record.priority.rawValue)
            if let routing { writer.add("routing", raw: InquiryReply.stored(routing)) }
            writer.add("state", record.lifecycle.state.rawValue)
            writer.add("status", "ok")
        }
    }

    /// One inquiry, its SLA clocks at `now` and its whole timeline. The stored envelope
    /// and routing decision go out as stored; the clocks and the timeline through their
    /// models.
    struct DetailAnswer {
        var stored: StoredInquiry
        var timeline: [TimelineEntry]
        var now: Date
        /// The calendar the clocks count in, for the time each has counted.
        var calendar: BusinessCalendar
        /// The same citizen's other open inquiries.
        var otherOpen: [InquiryDetail.OtherInquiry] = []
        /// The same citizen's inquiries merged into this one.
        var mergedHere: [InquiryDetail.OtherInquiry] = []
        /// The case number of the inquiry this one was merged into.
        var duplicateOfCase: String?
        var caseNumber: String
        var conversation: [ConversationItem]

        init(stored: StoredInquiry, timeline: [TimelineEntry], messages: [ConversationMessage], numbering: CaseNumbering, now: Date,
             calendar: BusinessCalendar = .alwaysOpen) {
            self.stored = stored
            self.timeline = timeline
            self.now = now
            self.calendar = calendar
            caseNumber = numbering.format(stored.record.caseNumber)
            conversation = Self.conversation(stored, messages)
        }

        /// The citizen's first post (from the stored envelope), then every message in the
        /// order it was written.
        static func conversation(_ stored: StoredInquiry, _ messages: [ConversationMessage]) -> [ConversationItem] {
            let envelope = (try? JSONValue.parse(Array(stored.envelopeJSON.utf8))) ?? .null
            let platform = stored.key.platform.rawValue
            let first = ConversationItem(
                direction: "in", kind: "post", at: envelope["captured_at"]?.stringValue ?? stored.receivedAt,
                text: envelope["text"]?.stringValue, by: envelope["author"]?["handle"]?.stringValue, platform: platform,
                account: envelope["source"]?["account"]?.stringValue, messageStatus: "received",
                externalID: stored.key.externalID)
            return [first] + messages.map { message in
                let incoming = message.direction == "in"
                // A citizen's follow-up, a new version of their post (`edit`), or its withdrawal (`deleted`).
                let kind = incoming ? (message.kind == "citizen" ? "follow_up" : message.kind) : message.kind
                return ConversationItem(
                    direction: message.direction, kind: kind, at: Timestamp.format(message.id.createdAt),
                    // Retention and erasure leave the row with empty text.
                    text: message.text.isEmpty ? nil : message.text,
                    by: incoming ? envelope["author"]?["handle"]?.stringValue : message.author, platform: message.platform.rawValue,
                    account: message.account,
                    // A posted message shows what the platform said since: delivered, read.
                    messageStatus: incoming ? "received" : message.status == .posted ? message.delivery ?? "posted" : message.status.rawValue,
                    statusAt: incoming ? nil : message.statusAt, reason: message.reason, code: message.failureCode,
                    externalID: message.externalID)
            }
        }

        var department: String { stored.record.lifecycle.department }

        var clocks: [InquiryDetail.Clock] {
            let sla = stored.record.sla
            return [("department_first_response", sla.legFirstResponse), ("department_resolution", sla.legResolution),
                    ("first_response", sla.wholeFirstResponse), ("resolution", sla.wholeResolution)].map { name, clock in
                InquiryDetail.Clock(clock: name, targetSeconds: clock.target,
                                    elapsedSeconds: (clock.elapsed(at: now, in: calendar) * 10).rounded() / 10, state: clock.state,
                                    dueAt: clock.dueDate.flatMap { $0 == .distantFuture ? nil : Timestamp.format($0) })
            }
        }

        /// `InquiryDetail`'s keys, in sorted order.
        func write(_ writer: inout JSONWriter) {
            let record = stored.record
            writer.add("case", caseNumber)
            writer.add("conversation", raw: InquiryReply.json(conversation))
            writer.add("deliveries", Int(record.deliveries))
            writer.add("department", record.lifecycle.department)
            if let other = record.lifecycle.duplicateOf { writer.add("duplicate_of", other.description) }
            if let duplicateOfCase { writer.add("duplicate_of_case", duplicateOfCase) }
            writer.add("id", stored.id.description)
            writer.add("inquiry", raw: InquiryReply.stored(stored.envelopeJSON))
            writer.add("lease_expires_at", record.leaseExpiresAt.map(Timestamp.format))
            if !mergedHere.isEmpty { writer.add("merged_here", raw: InquiryReply.json(mergedHere)) }
            writer.add("other_open", raw: InquiryReply.json(otherOpen))
            writer.add("owner", record.lifecycle.owner.map { "\($0)" })
            writer.add("priority", record.priority.rawValue)
            writer.add("received_at", stored.receivedAt)
            if let resolution = record.lifecycle.resolution { writer.add("resolution", resolution.rawValue) }
            writer.add("routing", raw: InquiryReply.stored(stored.routingJSON))
            writer.add("sla", raw: InquiryReply.json(clocks))
            writer.add("state", record.lifecycle.state.rawValue)
            writer.add("status", "ok")
            writer.add("timeline", raw: InquiryReply.json(timeline.map(InquiryReply.item)))
        }
    }

    /// A stored document (envelope, routing decision) to embed as it is. The broker
    /// writes both columns and never leaves one empty; null rather than a broken answer
    /// if one ever is.
    static func stored(_ json: String) -> String { json.isEmpty ? "null" : json }

    /// A model as JSON text: a whole answer, or a part of one written by hand.
    static func json(_ model: some Encodable) -> String {
        String(decoding: (try? encoder.encode(model)) ?? Data("null".utf8), as: UTF8.self)
    }

    static func item(_ entry: TimelineEntry) -> TimelineItem {
        TimelineItem(event: entry.event, at: Timestamp.format(entry.at), actor: "\(entry.actor)", role: entry.role,
                     from: entry.from?.rawValue, to: entry.to.rawValue, department: entry.department, note: entry.note)
    }
}

/// ISO 8601 in UTC with milliseconds (`2026-11-24T06:02:41.123Z`), the form of every
/// time on the wire. Written by hand: Foundation's format style was 3% of the engine's
/// time, for a timestamp on every event. Milliseconds are truncated, as Foundation's are.
public enum Timestamp {
    public static func format(_ date: Date) -> String {
        // Whole seconds first, then the fraction truncated: 0.999 stored as 0.99899… is
        // .998, as Foundation writes it.
        let seconds = date.timeIntervalSince1970.rounded(.down)
        let milliseconds = Int64(seconds) * 1_000 + Int64((date.timeIntervalSince1970 - seconds) * 1_000)
        let (days, dayMilliseconds) = milliseconds.floorDivided(by: 86_400_000)
        let (year, month, day) = civil(days: days)
        var bytes = [UInt8]()
        bytes.reserveCapacity(24)
        func digits(_ value: Int64, _ count: Int) {
            var divisor: Int64 = 1
            for _ in 1..<count { divisor *= 10 }
            var value = value
            for _ in 0..<count {
                bytes.append(UInt8(ascii: "0") + UInt8(value / divisor))
                value %= divisor
                divisor /= 10
            }
        }
        digits(year, 4); bytes.append(UInt8(ascii: "-"))
        digits(month, 2); bytes.append(UInt8(ascii: "-"))
        digits(day, 2); bytes.append(UInt8(ascii: "T"))
        digits(dayMilliseconds / 3_600_000, 2); bytes.append(UInt8(ascii: ":"))
        digits(dayMilliseconds / 60_000 % 60, 2); bytes.append(UInt8(ascii: ":"))
        digits(dayMilliseconds / 1_000 % 60, 2); bytes.append(UInt8(ascii: "."))
        digits(dayMilliseconds % 1_000, 3); bytes.append(UInt8(ascii: "Z"))
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The proleptic Gregorian date of a day counted from 1970-01-01 (Howard Hinnant's
    /// `civil_from_days`).
    static func civil(days: Int64) -> (year: Int64, month: Int64, day: Int64) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1_460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
        let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }
}

private extension Int64 {
    /// Quotient and remainder rounded toward negative infinity (times before 1970).
    func floorDivided(by divisor: Int64) -> (Int64, Int64) {
        let (quotient, remainder) = quotientAndRemainder(dividingBy: divisor)
        return remainder < 0 ? (quotient - 1, remainder + divisor) : (quotient, remainder)
    }
}
