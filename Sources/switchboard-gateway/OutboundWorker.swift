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
    private let tokens: Mutex<[String: [UInt8]]>
    private let refused = Mutex<[String: String]>([:])

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

    func markRefused(_ account: String, reason: String) { refused.withLock { $0[account] = reason } }
    func isRefused(_ account: String) -> Bool { refused.withLock { $0[account] != nil } }
    /// Accounts needing re-authorisation, with why.
    var needingReauthorization: [String: String] { refused.withLock { $0 } }
}

/// The worker of `outbound.<platform>`: takes each message the broker hands it, posts it
/// through the Graph API from the account it names, and answers the broker with the
/// post's id or a failure document. One thread per platform (a ZeroMQ socket belongs to
/// one thread); a message waiting for a rate limit or new credentials holds that
/// platform's thread, heartbeating the broker meanwhile.
final class OutboundWorker: Sendable {
    let platform: Platform
    private let accounts: [MetaAccount]
    private let apiBase: String
    private let credentials: Credentials
    private let journal: PostedJournal
    private let metrics: GatewayMetrics
    private let logger: Logger
    private let connect: @Sendable (String) throws -> MajordomoWorker

    init(platform: Platform, accounts: [MetaAccount], apiBase: String, credentials: Credentials, journal: PostedJournal,
         metrics: GatewayMetrics, logger: Logger, connect: @escaping @Sendable (String) throws -> MajordomoWorker) {
        self.platform = platform
        self.accounts = accounts
        self.apiBase = apiBase
        self.credentials = credentials
        self.journal = journal
        self.metrics = metrics
        self.logger = logger
        self.connect = connect
    }

    func start() {
        let thread = Thread { [self] in
            while true {
                do {
                    try run()
                } catch {
                    logger.error("publishing worker stopped; starting again", metadata: ["platform": "\(platform.rawValue)", "error": "\(error)"])
                    Thread.sleep(forTimeInterval: 1)
                }
            }
        }
        thread.name = "switchboard-gateway-\(platform.rawValue)"
        thread.start()
    }

    private func run() throws {
        let worker = try connect(ServiceName.outbound(platform.rawValue))
        defer { worker.disconnect() }
        logger.info("publishing for the broker", metadata: ["mdp.service": "\(ServiceName.outbound(platform.rawValue))"])
        while true {
            guard let request = try worker.receive(timeout: .seconds(1)) else { continue }
            let answer = publish(request.body.first?.bytes ?? [], worker: worker)
            try worker.reply(to: request, body: [Frame(answer)])
        }
    }

    /// Posts one message, waiting out rate limits and refused tokens; returns what the
    /// broker is told.
    private func publish(_ body: [UInt8], worker: MajordomoWorker) -> [UInt8] {
        guard let post = try? JSONDecoder().decode(OutboundPost.self, from: Data(body)) else {
            return PublishRefusal(code: .rejectedByPlatform, reason: "the gateway could not read the message the broker sent").document
        }
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
        let wanted = post.account.lowercased().trimmingCharacters(in: CharacterSet(charactersIn: "@ "))
        guard let account = accounts.first(where: { $0.handle.lowercased().trimmingCharacters(in: CharacterSet(charactersIn: "@ ")) == wanted }) else {
            return refuse(post, PublishRefusal(code: .rejectedByPlatform, reason: "this gateway has no credentials for \(post.account) on "
                + "\(platform.rawValue); add it with a token under meta.accounts and reload the gateway"))
        }
        let call: MetaPublishing.Call
        switch MetaPublishing.call(for: post, account: account) {
        case .success(let planned): call = planned
        case .failure(let refusal): return refuse(post, refusal)
        }
        var backoff: TimeInterval = 1
        while true {
            guard !credentials.isRefused(account.id), let token = credentials.token(for: account.id) else {
                wait(1, worker: worker)   // until SIGHUP brings new credentials
                continue
            }
            do {
                try journal.attempt(post.messageID)
            } catch {
                logger.critical("\(error)")
                wait(1, worker: worker)
                continue
            }
            let (status, answer, retryAfter) = send(call, token: token)
            let result = status == 0 ? .retry(after: nil, reason: "the platform did not answer") : MetaPublishing.result(status: status, body: answer, retryAfter: retryAfter)
            switch result {
            case .posted(let id):
                do { try journal.posted(post.messageID, as: id) } catch { logger.critical("\(error)") }
                metrics.add("switchboard_gateway_posts_total", [("platform", platform.rawValue), ("result", "posted")])
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
                logger.warning("posting waits", metadata: ["platform": "\(platform.rawValue)", "seconds": "\(Int(seconds.rounded(.up)))", "reason": "\(reason)"])
                wait(seconds, worker: worker)
            case .reauthorize(let reason):
                try? journal.refused(post.messageID)
                credentials.markRefused(account.id, reason: reason)
                logger.error("an account needs re-authorisation; its messages wait until new credentials are given (SIGHUP reloads them)",
                             metadata: ["platform": "\(platform.rawValue)", "account": "\(account.handle)", "reason": "\(reason)"])
            case .failed(let code, let reason):
                return refuse(post, PublishRefusal(code: code, reason: reason))
            }
        }
    }

    private func refuse(_ post: OutboundPost, _ refusal: PublishRefusal) -> [UInt8] {
        try? journal.refused(post.messageID)
        metrics.add("switchboard_gateway_posts_total", [("platform", platform.rawValue), ("result", "failed"), ("code", refusal.code.rawValue)])
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

    /// Waits, keeping the broker's heartbeat going (it would give the message to
    /// another worker otherwise).
    private func wait(_ seconds: TimeInterval, worker: MajordomoWorker) {
        let until = Date().addingTimeInterval(seconds)
        while Date() < until {
            try? worker.heartbeat()
            Thread.sleep(forTimeInterval: min(0.2, max(0, until.timeIntervalSinceNow)))
        }
    }

    /// One HTTPS call; status 0 when the platform did not answer.
    private func send(_ call: MetaPublishing.Call, token: [UInt8]) -> (Int, [UInt8], String?) {
        guard let url = URL(string: "\(apiBase)/\(call.path)") else { return (0, [], nil) }
        var request = URLRequest(url: url, timeoutInterval: 15)
        request.httpMethod = "POST"
        request.httpBody = Data(call.body)
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        request.setValue("Bearer " + String(decoding: token, as: UTF8.self), forHTTPHeaderField: "Authorization")
        let done = DispatchSemaphore(value: 0)
        let outcome = Mutex<(Int, [UInt8], String?)>((0, [], nil))
        URLSession.shared.dataTask(with: request) { data, response, _ in
            let http = response as? HTTPURLResponse
            outcome.withLock { $0 = (http?.statusCode ?? 0, Array(data ?? Data()), http?.value(forHTTPHeaderField: "Retry-After")) }
            done.signal()
        }.resume()
        done.wait()
        return outcome.withLock { $0 }
    }
}
