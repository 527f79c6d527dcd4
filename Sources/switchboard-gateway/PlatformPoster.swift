import Dispatch
import Foundation
import Synchronization
import SwitchboardCore
import SwitchboardGateway
import SwitchboardProtocol
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// An official account the gateway posts from, on one platform: `id` keys its token.
struct PostingAccount: Sendable, Equatable {
    var platform: Platform
    var id: String
    var handle: String
}

/// One platform's way of posting, for the publishing worker, which keeps for every
/// platform alike the journal (never twice), the lanes (one account waits, the others go
/// on), the waits and the re-authorisation state.
protocol PlatformPoster: Sendable {
    var platform: Platform { get }
    var accounts: [PostingAccount] { get }
    /// What is wrong with the message before anything is posted (too long, no post to
    /// answer): a refusal ends it, reported to the agent.
    func check(_ post: OutboundPost, from account: PostingAccount) -> PublishRefusal?
    /// Posts it once (blocking), and says what the platform's answer means.
    func post(_ post: OutboundPost, from account: PostingAccount, token: [UInt8]) -> PublishOutcome
}

/// Facebook (comments and Messenger), Instagram and WhatsApp, through the Graph API.
struct MetaPoster: PlatformPoster {
    let platform: Platform
    let metaAccounts: [MetaAccount]
    let apiBase: String

    var accounts: [PostingAccount] { metaAccounts.map { PostingAccount(platform: $0.platform, id: $0.id, handle: $0.handle) } }

    func check(_ post: OutboundPost, from account: PostingAccount) -> PublishRefusal? {
        guard let meta = metaAccounts.first(where: { $0.id == account.id }) else { return nil }
        if case .failure(let refusal) = MetaPublishing.call(for: post, account: meta) { return refusal }
        return nil
    }

    func post(_ post: OutboundPost, from account: PostingAccount, token: [UInt8]) -> PublishOutcome {
        guard let meta = metaAccounts.first(where: { $0.id == account.id }),
              case .success(let call) = MetaPublishing.call(for: post, account: meta) else {
            return .failed(.rejectedByPlatform, reason: "the gateway could not plan this post")
        }
        let answer = PlatformHTTP.call("POST", "\(apiBase)/\(call.path)", body: call.body, token: token)
        guard answer.status != 0 else { return .retry(after: nil, reason: "the platform did not answer") }
        return MetaPublishing.result(status: answer.status, body: answer.body, retryAfter: answer.headers["retry-after"])
    }
}

/// Mastodon: a reply to the citizen's status, read first for its visibility and author.
struct MastodonPoster: PlatformPoster {
    let platform = Platform.mastodon
    let mastodonAccounts: [MastodonAccount]

    var accounts: [PostingAccount] { mastodonAccounts.map { PostingAccount(platform: .mastodon, id: $0.id, handle: $0.handle) } }

    func check(_ post: OutboundPost, from account: PostingAccount) -> PublishRefusal? {
        guard let target = post.inReplyTo, !target.isEmpty else {
            return PublishRefusal(code: .rejectedByPlatform, reason: "the message names no status to answer")
        }
        guard post.text.count < MastodonPublishing.maxCharacters else {
            return PublishRefusal(code: .textTooLong, reason: "the text is \(post.text.count) characters; Mastodon takes at most "
                + "\(MastodonPublishing.maxCharacters) with the citizen's @name: shorten it and reply again")
        }
        return nil
    }

    func post(_ post: OutboundPost, from account: PostingAccount, token: [UInt8]) -> PublishOutcome {
        guard let instance = mastodonAccounts.first(where: { $0.id == account.id })?.instance, let target = post.inReplyTo else {
            return .failed(.rejectedByPlatform, reason: "the gateway could not plan this post")
        }
        let parent = PlatformHTTP.call("GET", "\(instance)/api/v1/statuses/\(target)", token: token)
        guard (200..<300).contains(parent.status), let status = try? JSONValue.parse(parent.body) else {
            return MastodonPublishing.result(status: parent.status, body: parent.body, rateLimitReset: parent.headers["x-ratelimit-reset"], now: Date())
        }
        let body: [UInt8]
        switch MastodonPublishing.reply(to: post, parent: status) {
        case .success(let planned): body = planned
        case .failure(let refusal): return .failed(refusal.code, reason: refusal.reason)
        }
        // Mastodon keeps an Idempotency-Key for an hour: a post sent again with the
        // message's id is not posted twice (the journal covers longer).
        let answer = PlatformHTTP.call("POST", "\(instance)/api/v1/statuses", body: body, token: token,
                                       headers: ["Idempotency-Key": post.messageID])
        return MastodonPublishing.result(status: answer.status, body: answer.body, rateLimitReset: answer.headers["x-ratelimit-reset"], now: Date())
    }
}

/// X: a reply under the citizen's post.
struct XPoster: PlatformPoster {
    let platform = Platform.x
    let xAccounts: [XAccount]
    let apiBase: String

    var accounts: [PostingAccount] { xAccounts.map { PostingAccount(platform: .x, id: $0.id, handle: $0.handle) } }

    func check(_ post: OutboundPost, from account: PostingAccount) -> PublishRefusal? {
        if case .failure(let refusal) = XPublishing.reply(to: post) { return refusal }
        return nil
    }

    func post(_ post: OutboundPost, from account: PostingAccount, token: [UInt8]) -> PublishOutcome {
        guard case .success(let body) = XPublishing.reply(to: post) else { return .failed(.rejectedByPlatform, reason: "the gateway could not plan this post") }
        let answer = PlatformHTTP.call("POST", "\(apiBase)/2/tweets", body: body, token: token)
        return XPublishing.result(status: answer.status, body: answer.body, rateLimitReset: answer.headers["x-rate-limit-reset"], now: Date())
    }
}

/// Bluesky: a reply in the citizen's thread, the citizen's post read first for its `cid`
/// and its thread's root.
struct BlueskyPoster: PlatformPoster {
    let platform = Platform.bluesky
    let sessions: [BlueskySession]

    var accounts: [PostingAccount] { sessions.map(\.posting) }

    func check(_ post: OutboundPost, from account: PostingAccount) -> PublishRefusal? {
        guard let target = post.inReplyTo, !target.isEmpty else {
            return PublishRefusal(code: .rejectedByPlatform, reason: "the message names no post to answer")
        }
        return BlueskyPublishing.checkLength(post.text)
    }

    func post(_ post: OutboundPost, from account: PostingAccount, token: [UInt8]) -> PublishOutcome {
        guard let session = sessions.first(where: { $0.account.id == account.id }), let target = post.inReplyTo else {
            return .failed(.rejectedByPlatform, reason: "the gateway could not plan this post")
        }
        do {
            let uris = target.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? target
            let read = try session.call("GET", "app.bsky.feed.getPosts?uris=\(uris)")
            guard (200..<300).contains(read.status) else {
                return BlueskyPublishing.result(status: read.status, body: read.body, rateLimitReset: read.headers["ratelimit-reset"], now: Date())
            }
            guard let parent = (try? JSONValue.parse(read.body))?["posts"]?[0], let repo = session.did else {
                return .failed(.postUnavailable, reason: "not delivered: the citizen's post is gone (deleted, or blocked)")
            }
            let body: [UInt8]
            switch BlueskyPublishing.record(post, repo: repo, parent: parent, now: Date()) {
            case .success(let record): body = record
            case .failure(let refusal): return .failed(refusal.code, reason: refusal.reason)
            }
            let answer = try session.call("POST", "com.atproto.repo.createRecord", body: body)
            return BlueskyPublishing.result(status: answer.status, body: answer.body, rateLimitReset: answer.headers["ratelimit-reset"], now: Date())
        } catch {
            switch error {
            case .refused(let reason): return .reauthorize(reason: reason)
            case .throttled(let seconds): return .retry(after: max(1, seconds), reason: "throttled by Bluesky")
            case .failed(let description): return .retry(after: nil, reason: description)
            }
        }
    }
}

/// One blocking HTTPS call with a bearer token; status 0 when the platform did not answer.
/// Header names come back lower-cased.
enum PlatformHTTP {
    struct Answer: Sendable {
        var status: Int
        var body: [UInt8]
        var headers: [String: String]
    }

    static func call(_ method: String, _ address: String, body: [UInt8]? = nil, token: [UInt8]?, headers: [String: String] = [:],
                     timeout: TimeInterval = 15) -> Answer {
        guard let url = URL(string: address) else { return Answer(status: 0, body: [], headers: [:]) }
        var request = URLRequest(url: url, timeoutInterval: timeout)
        request.httpMethod = method
        if let body {
            request.httpBody = Data(body)
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        }
        if let token { request.setValue("Bearer " + String(decoding: token, as: UTF8.self), forHTTPHeaderField: "Authorization") }
        for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
        let done = DispatchSemaphore(value: 0)
        let outcome = Mutex(Answer(status: 0, body: [], headers: [:]))
        URLSession.shared.dataTask(with: request) { data, response, _ in
            let http = response as? HTTPURLResponse
            var fields: [String: String] = [:]
            for (name, value) in http?.allHeaderFields ?? [:] {
                if let name = name as? String, let value = value as? String { fields[name.lowercased()] = value }
            }
            outcome.withLock { $0 = Answer(status: http?.statusCode ?? 0, body: Array(data ?? Data()), headers: fields) }
            done.signal()
        }.resume()
        done.wait()
        return outcome.withLock { $0 }
    }
}
