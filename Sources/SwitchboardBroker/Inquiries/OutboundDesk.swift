import Foundation
import SwitchboardCore
import SwitchboardProtocol

/// Which posted messages a platform's status names: one post, or every message to a
/// citizen posted up to a watermark and not yet known to be in that status.
enum OutboundMessageQuery: Sendable {
    case posted(platform: Platform, externalID: String)
    case watermark(platform: Platform, recipient: String, sentBy: String, notYet: String)
}

/// The replies and questions on their way to a publishing gateway (`outbound.<platform>`),
/// as a pure machine: which wait, which platforms have a gateway to post them, what a
/// gateway's answer says, and which statuses were already recorded.
///
/// It decides nothing about the inquiry a message belongs to: the inquiry machine turns
/// what it reports (a failure, a message to cancel) into moves and timeline entries.
struct OutboundDesk {
    /// Messages queued for their gateway and not yet posted, failed or cancelled.
    private var waiting: [InquiryID: OutboundMessage] = [:]
    /// The platforms whose publishing gateway has a worker connected, as the engine last
    /// saw: a message for another waits, and the agent is told so at once.
    var gatewaysOnline: Set<Platform> = []
    /// Statuses already recorded (`message/status`), so that each shows once.
    private var statusesSeen: Set<String> = []
    /// Messages posted whose `sent` the projection may not hold yet, until it holds the
    /// batch that records it: a platform can report a status (`sb.outbound.status`) the
    /// moment after the gateway's answer, before the store could find the post.
    private var postedLately: [InquiryID: PostedLately] = [:]

    struct PostedLately {
        var message: OutboundMessage
        var postedAs: String?
        var sentAt: String
        /// The batch that records the post.
        var batch: UInt64
    }

    /// A queued message, as the agent's answer names it.
    typealias Queued = InquiryMove.QueuedMessage

    /// Messages a restart found queued and not yet posted: each goes back in its queue.
    mutating func restore(_ messages: [OutboundMessage]) -> [(service: String, entry: QueueEntry)] {
        messages.map { message in
            waiting[message.id] = message
            return (message.service, QueueEntry(id: message.id, priority: .normal))
        }
    }

    /// Takes `message` to post: `queued` when a gateway serves its platform, else `held`
    /// with a sentence for the agent.
    mutating func queue(_ message: OutboundMessage) -> Queued {
        waiting[message.id] = message
        let platform = message.platform.rawValue
        guard gatewaysOnline.contains(message.platform) else {
            return Queued(id: message.id.description, platform: platform, status: "held",
                          note: "held: no gateway serves \(platform); it will be posted when one connects")
        }
        return Queued(id: message.id.description, platform: platform, status: "queued", note: nil)
    }

    /// The post document for the gateway that took the message's queue entry (see
    /// 3/SB-CASE, "Outbound messages"); nil when it is no longer waiting.
    func post(_ id: InquiryID) -> [UInt8]? {
        guard let message = waiting[id] else { return nil }
        var body = JSONWriter()
        body.add("message_id", message.id.description)
        body.add("inquiry_id", message.inquiry.description)
        body.add("kind", message.kind.rawValue)
        body.add("platform", message.platform.rawValue)
        body.add("account", message.account)
        body.add("in_reply_to", message.inReplyTo)
        body.add("recipient", message.recipient)
        body.add("thread", message.thread)
        body.add("text", message.text)
        return body.bytes
    }

    /// The inquiry a waiting message belongs to.
    func inquiry(ofMessage id: InquiryID) -> InquiryID? { waiting[id]?.inquiry }

    /// The gateway answered for the message: it no longer waits.
    mutating func answered(_ id: InquiryID) -> OutboundMessage? { waiting.removeValue(forKey: id) }

    /// The gateway posted `message` (as `postedAs`, when the platform gave an id) at
    /// `sentAt`, which batch `batch` records.
    mutating func posted(_ message: OutboundMessage, as postedAs: String?, at sentAt: String, inBatch batch: UInt64) {
        postedLately[message.id] = PostedLately(message: message, postedAs: postedAs, sentAt: sentAt, batch: batch)
    }

    /// The projection holds every batch through `position`: the store finds those posts.
    mutating func projected(through position: UInt64) {
        guard !postedLately.isEmpty else { return }
        postedLately = postedLately.filter { $0.value.batch > position }
    }

    /// The messages posted lately that `query` names, as the store would find them once
    /// the projection holds their post.
    func postedLately(_ query: OutboundMessageQuery) -> [OutboundMessage] {
        postedLately.values.filter { posted in
            let message = posted.message
            switch query {
            case .posted(let platform, let externalID):
                return message.platform == platform && posted.postedAs == externalID
            case .watermark(let platform, let recipient, let sentBy, _):
                return message.platform == platform && message.recipient == recipient && posted.sentAt <= sentBy
            }
        }.map(\.message).sorted { $0.id < $1.id }
    }

    /// Questions about `inquiry` not yet posted, taken out: the conversation moved on.
    mutating func cancelQuestions(of inquiry: InquiryID) -> [OutboundMessage] {
        let stale = waiting.values.filter { $0.inquiry == inquiry && $0.kind == .question }
        for message in stale { waiting.removeValue(forKey: message.id) }
        return stale.sorted { $0.id < $1.id }
    }

    /// An erasure deleted these inquiries' messages: they no longer wait.
    mutating func forget(inquiries: Set<InquiryID>) -> [OutboundMessage] {
        postedLately = postedLately.filter { !inquiries.contains($0.value.message.inquiry) }
        let erased = waiting.values.filter { inquiries.contains($0.inquiry) }
        for message in erased { waiting.removeValue(forKey: message.id) }
        return erased
    }

    /// Whether this is the first time `status` is reported for `message` (a platform may
    /// say "delivered" many times; the timeline shows it once).
    mutating func isFirst(_ status: OutboundStatusRequest.Status, of message: InquiryID) -> Bool {
        guard statusesSeen.insert("\(message)/\(status.rawValue)").inserted else { return false }
        if statusesSeen.count > 100_000 { statusesSeen = ["\(message)/\(status.rawValue)"] }
        return true
    }

    /// Messages waiting for their gateway, per platform: how many, and since when the
    /// oldest waits (for `/metrics`, `/stats` and the status page).
    func unsent() -> [Platform: (count: Int, oldest: Date)] {
        var result: [Platform: (count: Int, oldest: Date)] = [:]
        for message in waiting.values {
            let queued = message.queuedAt
            if let known = result[message.platform] {
                result[message.platform] = (known.count + 1, min(known.oldest, queued))
            } else {
                result[message.platform] = (1, queued)
            }
        }
        return result
    }

    /// What a publishing gateway's REPLY says (see 3/SB-CASE, "Outbound messages").
    enum GatewayAnswer: Equatable {
        case posted(externalID: String?)
        case failed(code: String, reason: String)

        /// Anything but a failure document is a confirmation, as before failures had one.
        init(_ reply: [[UInt8]]) {
            guard reply.count == 1, let bytes = reply.first, bytes.first == UInt8(ascii: "{"),
                  let document = try? JSONValue.parse(bytes) else {
                self = .posted(externalID: nil)
                return
            }
            if document["status"]?.stringValue == "failed" {
                self = .failed(code: document["code"]?.stringValue ?? "gateway_failed",
                               reason: document["reason"]?.stringValue ?? "the gateway gave no reason")
            } else {
                self = .posted(externalID: document["external_id"]?.stringValue)
            }
        }
    }
}
