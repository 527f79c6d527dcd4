import Dispatch
import Foundation
import Logging
import Majordomo
import Synchronization
import SwitchboardCore
import SwitchboardGateway
import SwitchboardProtocol
import ZeroMQ
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// The tokens the gateway posts with, replaced on SIGHUP, and the accounts whose token a
/// platform refused: their messages wait (neither lost nor failed) until new credentials
/// come.
final class Credentials: Sendable {
    /// Why and since when a platform refuses an account's token.
    struct Refusal: Equatable, Sendable {
        var platform: Platform
        var handle: String
        var reason: String
        var since: Date
    }

    private let tokens: Mutex<[String: [UInt8]]>
    private let refused = Mutex<[String: Refusal]>([:])

    init(_ tokens: [String: Secret]) { self.tokens = Mutex(tokens.mapValues(\.bytes)) }

    func token(for account: String) -> [UInt8]? { tokens.withLock { $0[account] } }

    /// New credentials: an account whose token changed may post again.
    func replace(with fresh: [String: Secret]) {
        let changed = tokens.withLock { current -> [String] in
            let ids = fresh.keys.filter { current[$0] != fresh[$0]?.bytes }
            current = fresh.mapValues(\.bytes)
            return ids
        }
        refused.withLock { for id in changed { $0.removeValue(forKey: id) } }
    }

    func markRefused(_ account: PostingAccount, reason: String) {
        refused.withLock { $0[account.id] = $0[account.id] ?? Refusal(platform: account.platform, handle: account.handle, reason: reason, since: Date()) }
    }

    func isRefused(_ account: String) -> Bool { refused.withLock { $0[account] != nil } }
    /// Accounts needing re-authorisation, by account id.
    var needingReauthorization: [String: Refusal] { refused.withLock { $0 } }
}

/// The worker of `outbound.<platform>`: takes each message the broker hands it, posts it
/// through the Graph API from the account it names, and answers the broker with the
/// post's id or a failure document.
///
/// One thread owns the platform's socket (a ZeroMQ socket belongs to one thread) and
/// announces a credit, so the broker hands it several messages at once; each account
/// posts on a lane of its own, in order. A message waiting for a rate limit or new
/// credentials holds its own account's lane only: the platform's other accounts go on.
final class OutboundWorker: Sendable {
    /// Messages the broker may hand one platform's worker before it answers: enough for
    /// every account's lane to have work while one account waits.
    static let credit = 100

    let platform: Platform
    private let poster: any PlatformPoster
    private let credentials: Credentials
    private let journal: PostedJournal
    private let metrics: GatewayMetrics
    private let logger: Logger
    private let connect: @Sendable (String, Int) throws -> MajordomoWorker
    /// Each account's lane, by account id: a serial queue, so one account posts in order.
    private let lanes: [String: DispatchQueue]
    /// Messages being posted, with every request of the broker's that waits on each (a
    /// message handed out again while its lane posts it waits for that answer rather
    /// than being taken for a crash).
    private let posting = Mutex<[String: [WorkerRequest]]>([:])
    /// Answers the lanes finished, for the socket's thread to send.
    private let finished = Mutex<[(message: String, answer: [UInt8])]>([])

    init(poster: any PlatformPoster, credentials: Credentials, journal: PostedJournal,
         metrics: GatewayMetrics, logger: Logger, connect: @escaping @Sendable (String, Int) throws -> MajordomoWorker) {
        platform = poster.platform
        self.poster = poster
        self.credentials = credentials
        self.journal = journal
        self.metrics = metrics
        self.logger = logger
        self.connect = connect
        let platform = poster.platform
        lanes = Dictionary(poster.accounts.map { ($0.id, DispatchQueue(label: "switchboard-gateway-\(platform.rawValue)-\($0.id)")) },
                           uniquingKeysWith: { first, _ in first })
    }

    func start() {
        let thread = Thread { [self] in
            // Named from inside: on Linux only a thread's own name change reaches `top -H`.
            Thread.current.name = "sb-gw-\(platform.rawValue)"
            while true {
                do {
                    try run()
                } catch {
                    logger.error("publishing worker stopped; starting again", metadata: ["platform": "\(platform.rawValue)", "error": "\(error)"])
                    Thread.sleep(forTimeInterval: 1)
                }
            }
        }
        thread.start()
    }

    private func run() throws {
        let worker = try connect(ServiceName.outbound(platform.rawValue), Self.credit)
        defer { worker.disconnect() }
        logger.info("publishing for the broker", metadata: ["mdp.service": "\(ServiceName.outbound(platform.rawValue))"])
        while true {
            // A short wait: the lanes' answers are sent between two looks at the socket.
            if let request = try worker.receive(timeout: .milliseconds(10)) { take(request, worker: worker) }
            for done in finished.withLock({ list -> [(message: String, answer: [UInt8])] in defer { list.removeAll() }; return list }) {
                for request in posting.withLock({ $0.removeValue(forKey: done.message) }) ?? [] {
                    try worker.reply(to: request, body: [Frame(done.answer)])
                }
            }
        }
    }

    /// Puts one message on its account's lane, or answers at once what needs no post.
    private func take(_ request: WorkerRequest, worker: MajordomoWorker) {
        let body = request.body.first?.bytes ?? []
        guard let post = try? JSONDecoder().decode(OutboundPost.self, from: Data(body)) else {
            try? worker.reply(to: request, body: [Frame(PublishRefusal(code: .rejectedByPlatform,
                                                                        reason: "the gateway could not read the message the broker sent").document)])
            return
        }
        let already = posting.withLock { waiting -> Bool in
            if waiting[post.messageID] != nil {
                waiting[post.messageID]?.append(request)
                return true
            }
            waiting[post.messageID] = [request]
            return false
        }
        guard !already else { return }
        let account = self.account(named: post.account)
        let lane = account.flatMap { lanes[$0.id] } ?? DispatchQueue.global()
        lane.async { [self] in
            let answer = publish(post, from: account)
            finished.withLock { $0.append((post.messageID, answer)) }
        }
    }

    private func account(named handle: String) -> PostingAccount? {
        let wanted = handle.lowercased().trimmingCharacters(in: CharacterSet(charactersIn: "@ "))
        return poster.accounts.first { $0.handle.lowercased().trimmingCharacters(in: CharacterSet(charactersIn: "@ ")) == wanted }
    }

    /// Posts one message, waiting out rate limits and refused tokens on this account's
    /// lane; returns what the broker is told.
    private func publish(_ post: OutboundPost, from account: PostingAccount?) -> [UInt8] {
        switch journal.state(of: post.messageID) {
        case .posted(let id)?:
            // Posted before a crash: the broker hears it now, and nothing is posted again.
            return Self.posted(id)
        case .attempted?:
            return refuse(post, PublishRefusal(code: .deliveryUncertain, reason: "the gateway stopped while posting this message: it may or may "
                + "not be on \(platform.rawValue). Check the conversation there, and send it again only if it is not"))
        case .refused?, nil:
            break
        }
        guard let account else {
            return refuse(post, PublishRefusal(code: .rejectedByPlatform, reason: "this gateway has no credentials for \(post.account) on "
                + "\(platform.rawValue); add it with a token to the gateway's configuration and reload the gateway"))
        }
        if let refusal = poster.check(post, from: account) { return refuse(post, refusal) }
        var backoff: TimeInterval = 1
        while true {
            guard !credentials.isRefused(account.id), let token = credentials.token(for: account.id) else {
                Thread.sleep(forTimeInterval: 0.5)   // until SIGHUP brings new credentials
                continue
            }
            do {
                try journal.attempt(post.messageID)
            } catch {
                logger.critical("\(error)")
                Thread.sleep(forTimeInterval: 1)
                continue
            }
            switch poster.post(post, from: account, token: token) {
            case .posted(let id):
                do { try journal.posted(post.messageID, as: id) } catch { logger.critical("\(error)") }
                metrics.add("switchboard_gateway_posts_total", [("platform", platform.rawValue), ("account", account.handle), ("result", "posted")])
                if ProcessInfo.processInfo.environment["SWITCHBOARD_GATEWAY_TEST_EXIT_AFTER_POST"] == "1" {
                    // Fault injection for the crash test: stop between the platform's
                    // answer and the broker's acknowledgement.
                    exit(70)
                }
                return Self.posted(id)
            case .retry(let after, let reason):
                try? journal.refused(post.messageID)
                let seconds = after ?? backoff * Double.random(in: 0.8...1.2)
                backoff = min(backoff * 2, 60)
                metrics.add("switchboard_gateway_rate_limit_waits_total", [("platform", platform.rawValue)])
                metrics.add("switchboard_gateway_rate_limit_wait_seconds_total", [("platform", platform.rawValue)], seconds)
                logger.warning("posting waits", metadata: ["platform": "\(platform.rawValue)", "account": "\(account.handle)",
                                                           "seconds": "\(Int(seconds.rounded(.up)))", "reason": "\(reason)"])
                Thread.sleep(forTimeInterval: seconds)
            case .reauthorize(let reason):
                try? journal.refused(post.messageID)
                credentials.markRefused(account, reason: reason)
                logger.error("an account needs re-authorisation; its messages wait until new credentials are given (SIGHUP reloads them)",
                             metadata: ["platform": "\(platform.rawValue)", "account": "\(account.handle)", "reason": "\(reason)"])
            case .failed(let code, let reason):
                return refuse(post, PublishRefusal(code: code, reason: reason))
            }
        }
    }

    private func refuse(_ post: OutboundPost, _ refusal: PublishRefusal) -> [UInt8] {
        try? journal.refused(post.messageID)
        metrics.add("switchboard_gateway_posts_total", [("platform", platform.rawValue), ("account", post.account), ("result", "failed"),
                                                        ("code", refusal.code.rawValue)])
        logger.warning("message not posted", metadata: ["platform": "\(platform.rawValue)", "message.id": "\(post.messageID)", "code": "\(refusal.code.rawValue)"])
        return refusal.document
    }

    static func posted(_ id: String?) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        var answer = ["status": "posted"]
        if let id, !id.isEmpty { answer["external_id"] = id }
        return Array((try? encoder.encode(answer)) ?? Data())
    }
}
