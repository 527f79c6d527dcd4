import Dispatch
import Foundation
import Logging
import Synchronization
import SwitchboardCore
import SwitchboardGateway
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Keeps one Mastodon account's user stream open (`GET /api/v1/streaming/user`, server-
/// sent events, on the streaming host the instance names): a `notification` has the
/// account's mentions read from the cursor at once, a `status.update` edits the inquiry a
/// citizen's status became, a `delete` withdraws it. Mentions themselves always come
/// through the REST API from the cursor, so the stream adds speed, never a gap: after
/// every (re)connection the mentions are read from the cursor before the stream is
/// trusted again. A stream silent past `silence` (Mastodon sends `:thump` every few
/// seconds) is reopened.
final class MastodonStreamer: NSObject, URLSessionDataDelegate, @unchecked Sendable {
    private let poller: MastodonPoller
    private let credentials: Credentials
    private let lane: IngestLane
    private let metrics: GatewayMetrics
    private let logger: Logger
    private let silence: TimeInterval
    /// Touched only on the session's delegate queue (one operation at a time).
    private var parser = EventStreamParser()
    private let lastHeard = Mutex(Date())
    private let ended = DispatchSemaphore(value: 0)
    private let events = Mutex<[(event: String, data: String)]>([])
    private let wake = DispatchSemaphore(value: 0)
    private let status = Mutex(0)

    init(poller: MastodonPoller, credentials: Credentials, lane: IngestLane, metrics: GatewayMetrics, logger: Logger, silence: TimeInterval = 60) {
        self.poller = poller
        self.credentials = credentials
        self.lane = lane
        self.metrics = metrics
        self.logger = logger
        self.silence = silence
    }

    var account: MastodonAccount { poller.account }

    func run() async {
        var backoff: TimeInterval = 1
        while !Task.isCancelled {
            guard !credentials.isRefused(account.id), let token = credentials.token(for: account.id) else {
                try? await Task.sleep(for: .seconds(1))
                continue
            }
            let own = try? poller.ownAccountID()
            // Read from the cursor whenever the stream (re)opens: nothing said while it was
            // down is missed. The account's polling loop reads, so reads never overlap.
            poller.requests.request()
            let opened = Date()
            await stream(token: token, ownAccountID: own)
            metrics.add("switchboard_gateway_stream_reconnects_total", [("platform", "mastodon"), ("account", account.handle)])
            backoff = Date().timeIntervalSince(opened) > 30 ? 1 : min(backoff * 2, 60)
            try? await Task.sleep(for: .milliseconds(Int64(backoff * 1_000)))
        }
    }

    /// One connection, until it ends or falls silent; its events are handled as they come.
    private func stream(token: [UInt8], ownAccountID: String?) async {
        let base = streamingBase(token: token)
        guard let url = URL(string: "\(base)/api/v1/streaming/user") else { return }
        var request = URLRequest(url: url, timeoutInterval: silence * 2)
        request.setValue("Bearer " + String(decoding: token, as: UTF8.self), forHTTPHeaderField: "Authorization")
        request.setValue("text/event-stream", forHTTPHeaderField: "Accept")
        let queue = OperationQueue()
        queue.maxConcurrentOperationCount = 1
        let session = URLSession(configuration: .default, delegate: self, delegateQueue: queue)
        defer { session.invalidateAndCancel() }
        lastHeard.withLock { $0 = Date() }
        let task = session.dataTask(with: request)
        task.resume()
        logger.info("mastodon stream opened", metadata: ["account": "\(account.handle)", "url": "\(url.absoluteString)"])
        while true {
            if ended.wait(timeout: .now()) == .success { break }
            if Date().timeIntervalSince(lastHeard.withLock { $0 }) > silence {
                logger.notice("mastodon stream silent; reopening it", metadata: ["account": "\(account.handle)"])
                task.cancel()
                _ = ended.wait(timeout: .now() + 5)
                break
            }
            _ = wake.wait(timeout: .now() + 0.2)
            for (event, data) in events.withLock({ list -> [(event: String, data: String)] in defer { list.removeAll() }; return list }) {
                await handle(event, data, ownAccountID: ownAccountID)
            }
        }
        if status.withLock({ $0 }) == 401 {
            credentials.markRefused(PostingAccount(platform: .mastodon, id: account.id, handle: account.handle),
                                    reason: "the account's access token was refused by the streaming API")
        }
    }

    private func handle(_ event: String, _ data: String, ownAccountID: String?) async {
        switch MastodonStreamEvent.read(event: event, data: data, account: account, ownAccountID: ownAccountID) {
        case .notification:
            poller.requests.request()
        case .deleted(var inquiry):
            // Only the post's author withdraws it: the stream names the status alone.
            guard let author = poller.authors.value(for: inquiry.source.externalID) else { return }
            inquiry.author.handle = author
            await take(inquiry)
        case .edited(let inquiry):
            await take(inquiry)
        case .ignored:
            break
        }
    }

    /// A citizen's edit or deletion to the broker; a broker that does not answer misses it
    /// (the stream has no acknowledgement to hold back), and the log says so.
    private func take(_ inquiry: Inquiry) async {
        let outcome = await lane.ingest([inquiry.json], timeout: 4)
        let kind = inquiry.change?.kind == .edited ? "edited" : "deleted"
        metrics.add("switchboard_gateway_items_total", [("platform", "mastodon"), ("outcome", kind)], outcome.accepted + outcome.threaded)
        if outcome.unanswered > 0 {
            logger.warning("the broker did not take a citizen's edit or deletion from the stream", metadata: ["account": "\(account.handle)", "change": "\(kind)"])
        }
    }

    /// The instance's streaming host (`urls.streaming_api` of `GET /api/v1/instance`,
    /// wss:// read as https://), or the instance itself.
    private func streamingBase(token: [UInt8]) -> String {
        let answer = PlatformHTTP.call("GET", "\(account.instance)/api/v1/instance", token: token)
        guard let streaming = (try? JSONValue.parse(answer.body))?["urls"]?["streaming_api"]?.stringValue, !streaming.isEmpty else {
            return account.instance
        }
        let base = streaming.replacingOccurrences(of: "wss://", with: "https://").replacingOccurrences(of: "ws://", with: "http://")
        return base.hasSuffix("/") ? String(base.dropLast()) : base
    }

    // MARK: URLSessionDataDelegate (on the session's one-at-a-time queue)

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive response: URLResponse,
                    completionHandler: @escaping @Sendable (URLSession.ResponseDisposition) -> Void) {
        let code = (response as? HTTPURLResponse)?.statusCode ?? 0
        status.withLock { $0 = code }
        parser = EventStreamParser()
        completionHandler(code == 200 ? .allow : .cancel)
    }

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive data: Data) {
        lastHeard.withLock { $0 = Date() }
        let taken = parser.take(data)
        guard !taken.isEmpty else { return }
        events.withLock { $0 += taken }
        wake.signal()
    }

    func urlSession(_ session: URLSession, task: URLSessionTask, didCompleteWithError error: (any Error)?) {
        ended.signal()
    }
}
