import Foundation
import Logging
import Synchronization
import SwitchboardCore
import SwitchboardGateway
import SwitchboardProtocol

/// One Bluesky account's session, shared by its poller and its replies: signed in with
/// the app password (`com.atproto.server.createSession`), refreshed with the refresh token
/// when the server says `ExpiredToken` (`refreshSession`), and signed in again when that
/// fails, so that neither the cursor nor a reply in flight is lost. A password the server
/// refuses marks the account as needing re-authorisation; a new one (SIGHUP) is used at
/// the next call.
final class BlueskySession: Sendable {
    let account: BlueskyAccount
    private let credentials: Credentials
    private let logger: Logger
    private struct Tokens: Sendable {
        var access: String
        var refresh: String
        var did: String
        /// The app password the session was made with.
        var password: [UInt8]
    }
    private let tokens = Mutex<Tokens?>(nil)

    /// Why a call could not be made.
    enum Failure: Error {
        case refused(String)
        case throttled(TimeInterval)
        case failed(String)
    }

    init(account: BlueskyAccount, credentials: Credentials, logger: Logger) {
        self.account = account
        self.credentials = credentials
        self.logger = logger
    }

    var posting: PostingAccount { PostingAccount(platform: .bluesky, id: account.id, handle: account.handle) }
    var did: String? { tokens.withLock { $0?.did } }

    /// An XRPC call (`path` is the method and its query) with the session's access token.
    func call(_ method: String, _ path: String, body: [UInt8]? = nil) throws(Failure) -> PlatformHTTP.Answer {
        var session = try current()
        var answer = PlatformHTTP.call(method, "\(account.service)/xrpc/\(path)", body: body, token: Array(session.access.utf8))
        if Self.expired(answer) {
            session = try refreshed(session)
            answer = PlatformHTTP.call(method, "\(account.service)/xrpc/\(path)", body: body, token: Array(session.access.utf8))
        }
        if answer.status == 429 {
            throw .throttled(RateLimitReset.wait(answer.headers["ratelimit-reset"], .epochSeconds, now: Date()) ?? 60)
        }
        return answer
    }

    static func expired(_ answer: PlatformHTTP.Answer) -> Bool {
        guard answer.status == 400 || answer.status == 401 else { return false }
        let error = (try? JSONValue.parse(answer.body))?["error"]?.stringValue
        return error == "ExpiredToken" || error == "InvalidToken"
    }

    private func current() throws(Failure) -> Tokens {
        guard !credentials.isRefused(account.id), let password = credentials.token(for: account.id) else {
            throw .refused("the account needs re-authorisation")
        }
        if let session = tokens.withLock({ $0 }), session.password == password { return session }
        return try signIn(password)
    }

    private func signIn(_ password: [UInt8]) throws(Failure) -> Tokens {
        let body = Array((try? JSONSerialization.data(withJSONObject: ["identifier": account.identifier, "password": String(decoding: password, as: UTF8.self)],
                                                      options: [.sortedKeys])) ?? Data())
        let answer = PlatformHTTP.call("POST", "\(account.service)/xrpc/com.atproto.server.createSession", body: body, token: nil)
        let document = try? JSONValue.parse(answer.body)
        switch answer.status {
        case 200..<300:
            guard let access = document?["accessJwt"]?.stringValue, let refresh = document?["refreshJwt"]?.stringValue,
                  let did = document?["did"]?.stringValue else { throw .failed("createSession answered without tokens") }
            let session = Tokens(access: access, refresh: refresh, did: did, password: password)
            tokens.withLock { $0 = session }
            logger.info("bluesky session opened", metadata: ["account": "\(account.handle)"])
            return session
        case 401, 400:
            let said = [document?["error"]?.stringValue, document?["message"]?.stringValue].compactMap { $0 }.joined(separator: ": ")
            let reason = "the app password was refused: \(said.isEmpty ? "HTTP \(answer.status)" : said)"
            credentials.markRefused(posting, reason: reason)
            logger.error("a bluesky account needs re-authorisation; its mentions and replies wait until a new app password is given (SIGHUP reloads it)",
                         metadata: ["account": "\(account.handle)"])
            throw .refused(reason)
        case 429:
            throw .throttled(RateLimitReset.wait(answer.headers["ratelimit-reset"], .epochSeconds, now: Date()) ?? 60)
        default:
            throw .failed("createSession answered HTTP \(answer.status)")
        }
    }

    /// A fresh access token from the refresh token; a new sign-in when that fails.
    private func refreshed(_ session: Tokens) throws(Failure) -> Tokens {
        let answer = PlatformHTTP.call("POST", "\(account.service)/xrpc/com.atproto.server.refreshSession", token: Array(session.refresh.utf8))
        if (200..<300).contains(answer.status), let document = try? JSONValue.parse(answer.body),
           let access = document["accessJwt"]?.stringValue, let refresh = document["refreshJwt"]?.stringValue {
            let renewed = Tokens(access: access, refresh: refresh, did: document["did"]?.stringValue ?? session.did, password: session.password)
            tokens.withLock { $0 = renewed }
            logger.info("bluesky session refreshed", metadata: ["account": "\(account.handle)"])
            return renewed
        }
        return try signIn(session.password)
    }
}
