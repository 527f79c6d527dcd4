import Foundation
import SwitchboardCore

/// What a post a gateway sent (`sb.ingest`) becomes, as pure values: the envelope read
/// and checked, and a new inquiry routed by the rules (or, when it came through an
/// account that is not an official one, sent to the front office's review of channels,
/// marked), numbered, with its SLA clocks started and its stored documents written.
///
/// Whether the post is new at all (a retry, a follow-up in a conversation, an edit) is
/// the inquiry machine's to decide first, from its memory of posts and inquiries.
struct Intake {
    private var decoder: EnvelopeDecoder
    private var router: Router
    private var frontOffice: String
    private var sla: SLAPolicy

    init(configuration: SwitchboardConfiguration) {
        decoder = configuration.envelopeDecoder
        router = configuration.router
        frontOffice = configuration.frontOffice
        sla = configuration.sla
    }

    /// A new inquiry, ready to be written and queued.
    struct Accepted {
        var inquiry: AcceptedInquiry
        var decision: RoutingDecision
        /// Why the account it came through is not an official one, and which entry it
        /// imitates; nil when it is official.
        var unofficial: (reason: String, imitates: ChannelEntry?)?
        /// The platform's conversation id (`source.thread`): a direct message.
        var thread: String?

        var id: InquiryID { inquiry.id }
    }

    /// The envelope in one frame, read and checked (see 2/SB-ENVELOPE).
    func read(_ body: [[UInt8]]) throws(IngestError) -> Inquiry {
        guard body.count == 1 else {
            throw IngestError(.invalidJSON, field: nil, "the request body must be exactly one frame holding the JSON envelope; got \(body.count)")
        }
        return try decoder.decode(body[0])
    }

    /// Where the rules would send `inquiry`, and why (`sb.route.explain`).
    func explain(_ inquiry: Inquiry) -> RoutingDecision { router.explain(inquiry) }

    /// Accepts `inquiry`, whose envelope is `bytes`, as a new inquiry numbered
    /// `caseNumber`, given what the registry says of the account it came through.
    func accept(_ inquiry: Inquiry, bytes: [UInt8], channel: ChannelVerdict, caseNumber: Int, knownNew: Bool, now: Date) -> Accepted {
        var decision = router.route(inquiry)
        let unofficial = Self.unofficialReason(channel)
        if unofficial != nil {
            // A citizen's question is never dropped: it goes to the front office's review
            // of channels, marked.
            decision = RoutingDecision(department: frontOffice, priority: decision.priority,
                                       tags: decision.tags + ["unofficial_channel"], rule: "channel-review", explanation: [])
        }
        let id = InquiryID.generate(at: now)
        let receivedAt = Timestamp.format(now)
        let record = LifecycleRecord(
            lifecycle: InquiryLifecycle(id: id, department: decision.department), priority: decision.priority,
            sla: InquirySLA(department: decision.department, priority: decision.priority, policy: sla, at: now),
            caseNumber: caseNumber
        )
        var routing = decision.json
        if let unofficial {
            var flag = JSONWriter()
            flag.add("reason", unofficial.reason)
            flag.add("imitates", unofficial.imitates?.id)
            flag.add("imitates_handle", unofficial.imitates?.handle)
            routing = String(routing.dropLast()) + #","unofficial_channel":"# + flag.result + "}"
        }
        let accepted = AcceptedInquiry(key: inquiry.deduplicationKey, envelopeJSON: Self.splice(bytes, id: id, receivedAt: receivedAt),
                                       routingJSON: routing, receivedAt: receivedAt, record: record, author: inquiry.author.handle,
                                       knownNew: knownNew)
        return Accepted(inquiry: accepted, decision: decision, unofficial: unofficial, thread: inquiry.source.thread)
    }

    /// Why an account is not an official one, and which entry it imitates; nil if official.
    static func unofficialReason(_ verdict: ChannelVerdict) -> (reason: String, imitates: ChannelEntry?)? {
        switch verdict {
        case .official: nil
        case .inactive(let entry): ("\(entry.status.rawValue)", entry)
        case .lookalike(let entry, _): ("lookalike", entry)
        case .unknown: ("unregistered", nil)
        }
    }

    /// The envelope exactly as the gateway sent it, with the broker's two fields put in
    /// front: no decode and re-encode of what the citizen wrote.
    static func splice(_ bytes: [UInt8], id: InquiryID, receivedAt: String) -> String {
        // The decoder accepted it, so it is a JSON object: its first non-blank byte is "{".
        guard let brace = bytes.firstIndex(of: UInt8(ascii: "{")) else { return String(decoding: bytes, as: UTF8.self) }
        let rest = bytes[(brace + 1)...]
        let empty = rest.first { $0 != 0x20 && $0 != 0x0A && $0 != 0x0D && $0 != 0x09 } == UInt8(ascii: "}")
        var text = #"{"id":"\#(id)","received_at":"\#(receivedAt)""#
        if !empty { text += "," }
        text += String(decoding: rest, as: UTF8.self)
        return text
    }

    /// The author's handle and the conversation id in a stored envelope.
    static func party(of envelope: String) -> (author: String?, thread: String?) {
        guard let document = try? JSONValue.parse(Array(envelope.utf8)) else { return (nil, nil) }
        return (document["author"]?["handle"]?.stringValue, document["source"]?["thread"]?.stringValue)
    }
}
