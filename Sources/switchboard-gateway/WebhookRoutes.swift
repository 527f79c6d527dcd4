import Foundation
import HTTPTypes
import Hummingbird
import Logging
import SwitchboardCore
import SwitchboardGateway
import SwitchboardProtocol

/// The gateway's HTTP side: Meta's webhook (the verification handshake and signed
/// deliveries), the signed generic webhook, and `/healthz` and `/metrics`. A delivery is
/// checked against its signature over the raw bytes before anything of it is read.
struct WebhookRoutes: Sendable {
    let settings: GatewayConfiguration
    let lane: IngestLane
    let metrics: GatewayMetrics
    let credentials: Credentials
    let logger: Logger
    /// X's posts taken in, for matching deletions.
    let xMemory: XMemory

    /// Meta batches up to 1,000 items; a body past this is not a webhook.
    static let maxBody = 4 << 20

    func router() -> Hummingbird.Router<BasicRequestContext> {
        let router = Hummingbird.Router()
        // An account whose token a platform refused needs a person: said here, not only logged.
        router.get("healthz") { _, _ in
            let refused = credentials.needingReauthorization
            guard !refused.isEmpty else { return Self.text(.ok, "ok\n") }
            let lines = refused.values.sorted { ($0.platform.rawValue, $0.handle) < ($1.platform.rawValue, $1.handle) }.map { account in
                "\(account.platform.rawValue) \(account.handle) needs re-authorisation (\(account.reason)); "
                    + "its replies wait: put a new token in its token file and reload the gateway (kill -HUP)"
            }
            return Self.text(.serviceUnavailable, lines.joined(separator: "\n") + "\n")
        }
        router.get("metrics") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                     body: .init(byteBuffer: ByteBuffer(string: metrics.render(reauthorization: credentials.needingReauthorization.count))))
        }
        if let meta = settings.meta {
            let webhook = MetaWebhook(accounts: meta.accounts)
            router.get("webhooks/meta") { request, _ in verify(request, token: meta.verifyToken) }
            router.post("webhooks/meta") { request, _ in
                var request = request
                let body = Array(buffer: try await request.collectBody(upTo: Self.maxBody))
                return await receiveMeta(body, signature: request.headers[HTTPField.Name("X-Hub-Signature-256")!], secret: meta.appSecret, webhook: webhook)
            }
        }
        if let x = settings.x, let secret = x.consumerSecret {
            // X's challenge-response check, at registration and hourly: answered at once.
            router.get("webhooks/x") { request, _ in
                guard let token = request.uri.queryParameters["crc_token"] else { return Self.text(.badRequest, "crc_token is missing\n") }
                return Response(status: .ok, headers: [.contentType: "application/json"],
                                body: .init(byteBuffer: ByteBuffer(string: XActivity.crcResponse(token: String(token), consumerSecret: secret.bytes))))
            }
            router.post("webhooks/x") { request, _ in
                var request = request
                let body = Array(buffer: try await request.collectBody(upTo: Self.maxBody))
                return await receiveX(body, signature: request.headers[HTTPField.Name("x-twitter-webhooks-signature")!], secret: secret, accounts: x.accounts)
            }
        }
        if let generic = settings.generic {
            router.post("webhooks/generic") { request, _ in
                var request = request
                let body = Array(buffer: try await request.collectBody(upTo: Self.maxBody))
                return await receiveGeneric(body, timestamp: request.headers[HTTPField.Name(GenericWebhook.timestampHeader)!],
                                            signature: request.headers[HTTPField.Name(GenericWebhook.signatureHeader)!], secret: generic.secret)
            }
        }
        return router
    }

    /// Meta's subscription handshake: the challenge back, verbatim, for the right token.
    private func verify(_ request: Request, token: Secret) -> Response {
        let query = request.uri.queryParameters
        guard query["hub.mode"] == "subscribe", let given = query["hub.verify_token"],
              Array(String(given).utf8) == token.bytes, let challenge = query["hub.challenge"] else {
            logger.warning("webhook verification refused: wrong mode or verify token")
            return Self.text(.forbidden, "forbidden\n")
        }
        return Self.text(.ok, String(challenge))
    }

    private func receiveMeta(_ body: [UInt8], signature: String?, secret: Secret, webhook: MetaWebhook) async -> Response {
        guard WebhookSignature.isValid(signature, message: body, secret: secret.bytes) else {
            metrics.add("switchboard_gateway_bad_signatures_total", [("source", "meta")])
            metrics.add("switchboard_gateway_webhooks_total", [("source", "meta"), ("result", "refused")])
            logger.warning("webhook refused: missing or wrong X-Hub-Signature-256", metadata: ["source": "meta", "bytes": "\(body.count)"])
            return Self.text(.forbidden, "the signature does not match\n")
        }
        let items: [MetaWebhook.Item]
        do {
            items = try webhook.items(body)
        } catch {
            metrics.add("switchboard_gateway_webhooks_total", [("source", "meta"), ("result", "refused")])
            logger.warning("webhook refused", metadata: ["source": "meta", "error": "\(error)"])
            return Self.text(.badRequest, "\(error)\n")
        }
        var envelopes: [Inquiry] = []
        var statuses: [OutboundStatusRequest] = []
        for item in items {
            switch item {
            case .inquiry(let envelope): envelopes.append(envelope)
            case .status(let status): statuses.append(status)
            case .ownMessage(let platform, _): metrics.add("switchboard_gateway_items_total", [("platform", platform.rawValue), ("outcome", "own_message")])
            case .unknownAccount(let id):
                metrics.add("switchboard_gateway_items_total", [("platform", "meta"), ("outcome", "unknown_account")])
                logger.warning("webhook item for an account this gateway does not serve; add it under meta.accounts", metadata: ["meta.id": "\(id)"])
            case .ignored(let what): metrics.add("switchboard_gateway_items_total", [("platform", "meta"), ("outcome", "ignored"), ("kind", what)])
            }
        }
        if !statuses.isEmpty {
            let encoder = JSONEncoder()
            let reported = await lane.request(ServiceName.outboundStatus, statuses.compactMap { try? Array(encoder.encode($0)) },
                                              timeout: settings.ingestTimeout)
            metrics.add("switchboard_gateway_items_total", [("platform", statuses[0].platform), ("outcome", "status")], reported.accepted)
            guard reported.stored else {
                metrics.add("switchboard_gateway_webhooks_total", [("source", "meta"), ("result", "retry")])
                return Self.text(.serviceUnavailable, "not recorded yet; deliver again\n")
            }
        }
        return await ingest(envelopes.map(\.json), platforms: envelopes.map(\.source.platform.rawValue), source: "meta")
    }

    private func receiveX(_ body: [UInt8], signature: String?, secret: Secret, accounts: [XAccount]) async -> Response {
        guard XActivity.isSigned(signature, body: body, consumerSecret: secret.bytes) else {
            metrics.add("switchboard_gateway_bad_signatures_total", [("source", "x")])
            metrics.add("switchboard_gateway_webhooks_total", [("source", "x"), ("result", "refused")])
            logger.warning("webhook refused: missing or wrong x-twitter-webhooks-signature", metadata: ["source": "x", "bytes": "\(body.count)"])
            return Self.text(.forbidden, "the signature does not match\n")
        }
        var envelopes: [Inquiry] = []
        for item in XActivity.items(body, accounts: accounts) {
            switch item {
            case .inquiry(let envelope, let authorID):
                xMemory.remember(envelope, authorID: authorID)
                envelopes.append(envelope)
            case .deletion(let id, let authorID):
                guard let account = accounts.first(where: { $0.userID == XActivity.forUser(body) }),
                      let withdrawal = xMemory.deletion(of: id, authorID: authorID, account: account) else {
                    metrics.add("switchboard_gateway_items_total", [("platform", "x"), ("outcome", "ignored"), ("kind", "unknown_deletion")])
                    continue
                }
                envelopes.append(withdrawal)
            case .ownPost: metrics.add("switchboard_gateway_items_total", [("platform", "x"), ("outcome", "own_message")])
            case .unknownAccount(let id):
                metrics.add("switchboard_gateway_items_total", [("platform", "x"), ("outcome", "unknown_account")])
                logger.warning("webhook for an x account this gateway does not serve; add it under x.accounts", metadata: ["x.user_id": "\(id)"])
            case .ignored(let what): metrics.add("switchboard_gateway_items_total", [("platform", "x"), ("outcome", "ignored"), ("kind", what)])
            }
        }
        return await ingest(envelopes.map(\.json), platforms: envelopes.map(\.source.platform.rawValue), source: "x")
    }

    private func receiveGeneric(_ body: [UInt8], timestamp: String?, signature: String?, secret: Secret) async -> Response {
        let envelopes: [[UInt8]]
        do {
            envelopes = try GenericWebhook.envelopes(body: body, timestamp: timestamp, signature: signature, secret: secret.bytes, now: Date())
        } catch {
            if case .notEnvelopes = error {} else {
                metrics.add("switchboard_gateway_bad_signatures_total", [("source", "generic")])
            }
            metrics.add("switchboard_gateway_webhooks_total", [("source", "generic"), ("result", "refused")])
            logger.warning("webhook refused", metadata: ["source": "generic", "error": "\(error)"])
            if case .notEnvelopes = error { return Self.text(.badRequest, "\(error)\n") }
            return Self.text(.unauthorized, "\(error)\n")
        }
        return await ingest(envelopes, platforms: envelopes.map { IngestLane.key(of: $0).split(separator: "\u{1F}").first.map(String.init) ?? "?" },
                            source: "generic")
    }

    /// 200 once the broker answered every envelope; 503 (the platform delivers again)
    /// otherwise. Envelopes the broker rejects for what they are are counted and logged
    /// with their code: sending them again would not help.
    private func ingest(_ envelopes: [[UInt8]], platforms: [String], source: String) async -> Response {
        let outcome = await lane.ingest(envelopes, timeout: settings.ingestTimeout)
        let platform = platforms.first ?? "none"
        for (name, count) in [("accepted", outcome.accepted), ("duplicate", outcome.duplicate), ("threaded", outcome.threaded),
                              ("unanswered", outcome.unanswered)] {
            metrics.add("switchboard_gateway_items_total", [("platform", platform), ("outcome", name)], count)
        }
        for (code, count) in outcome.rejected {
            metrics.add("switchboard_gateway_items_total", [("platform", platform), ("outcome", "rejected"), ("code", code)], count)
            logger.error("the broker rejected items of a delivery; they are not retried", metadata: ["source": "\(source)", "code": "\(code)", "items": "\(count)"])
        }
        guard outcome.stored else {
            metrics.add("switchboard_gateway_webhooks_total", [("source", source), ("result", "retry")])
            logger.warning("delivery not stored in time; answered 503 so that the platform delivers it again", metadata: [
                "source": "\(source)", "items": "\(envelopes.count)", "unanswered": "\(outcome.unanswered)",
            ])
            return Self.text(.serviceUnavailable, "not stored yet; deliver again\n")
        }
        metrics.add("switchboard_gateway_webhooks_total", [("source", source), ("result", "ok")])
        return Self.text(.ok, "ok\n")
    }

    static func text(_ status: HTTPResponse.Status, _ body: String) -> Response {
        Response(status: status, headers: [.contentType: "text/plain; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: body)))
    }
}
