import Foundation
import SwitchboardCore
import SwitchboardGateway
import SwitchboardProtocol
import Testing
import TestSupport

/// Meta's payloads as its documentation shows them, read into envelopes the broker's own
/// strict decoder accepts; signatures over the raw bytes.
@Suite struct MetaWebhookTests {
    let webhook = MetaWebhook(accounts: [
        MetaAccount(platform: .facebook, id: "1001", handle: "RivertonCityHall"),
        MetaAccount(platform: .instagram, id: "2002", handle: "riverton.city"),
        MetaAccount(platform: .whatsapp, id: "3003", handle: "+1 555 0100"),
    ])

    func envelopes(_ json: String) throws -> [Inquiry] {
        try webhook.items(Array(json.utf8)).compactMap { if case .inquiry(let envelope) = $0 { envelope } else { nil } }
    }

    @Test func everyEntryAndChangeOfABatchIsTaken() throws {
        let json = """
            {"object":"page","entry":[
              {"id":"1001","time":1764750000,"changes":[
                {"field":"feed","value":{"item":"comment","verb":"add","comment_id":"c-1","post_id":"p-1","parent_id":"p-1","from":{"id":"77","name":"Ana R"},"message":"Bins not collected on Elm St","created_time":1764750000}},
                {"field":"feed","value":{"item":"comment","verb":"add","comment_id":"c-2","post_id":"p-1","parent_id":"p-1","from":{"id":"1001","name":"Riverton"},"message":"Thanks, we are on it","created_time":1764750001}}]},
              {"id":"1001","time":1764750002,"messaging":[
                {"sender":{"id":"psid-9"},"recipient":{"id":"1001"},"timestamp":1764750002123,"message":{"mid":"m-1","text":"Is the pool open?"}},
                {"sender":{"id":"1001"},"recipient":{"id":"psid-9"},"timestamp":1764750003000,"message":{"mid":"m-2","text":"Yes","is_echo":true}},
                {"sender":{"id":"psid-9"},"recipient":{"id":"1001"},"timestamp":1764750004000,"delivery":{"mids":["m-2"],"watermark":1764750004000}}]},
              {"id":"9999","time":1764750005,"messaging":[{"sender":{"id":"x"},"recipient":{"id":"9999"},"timestamp":1,"message":{"mid":"m-9","text":"?"}}]}
            ]}
            """
        let items = try webhook.items(Array(json.utf8))
        #expect(items.count == 6)
        #expect(items.contains(.ownMessage(platform: .facebook, externalID: "c-2")), "the page's own comment is the city's")
        #expect(items.contains(.ownMessage(platform: .facebook, externalID: "m-2")), "an echo is the city's")
        #expect(items.contains(.unknownAccount(id: "9999")), "an id nobody configured is not guessed")
        let taken = try envelopes(json)
        #expect(taken.map(\.source.externalID) == ["c-1", "m-1"])
        let comment = taken[0]
        #expect(comment.source.platform == .facebook && comment.source.account == "RivertonCityHall" && comment.source.inReplyTo == "p-1")
        #expect(comment.author.handle == "77" && comment.author.displayName == "Ana R")
        #expect(comment.capturedAt == "2025-12-03T08:20:00.000Z", "feed times are seconds")
        #expect(taken[1].capturedAt == "2025-12-03T08:20:02.123Z", "Messenger times are milliseconds")
        // Every envelope is one the broker's strict decoder takes.
        for envelope in taken { _ = try EnvelopeDecoder().decode(envelope.json) }
    }

    @Test func instagramCommentsAndWhatsAppMessages() throws {
        let instagram = try envelopes("""
            {"object":"instagram","entry":[{"id":"2002","time":1764750000,"changes":[{"field":"comments","value":{"from":{"id":"55","username":"citizen_k"},"media":{"id":"media-1"},"id":"ig-c-1","text":"Where do I report a pothole?"}}]}]}
            """)
        #expect(instagram.first?.source.externalID == "ig-c-1" && instagram.first?.author.handle == "citizen_k" && instagram.first?.source.inReplyTo == "media-1")
        let whatsapp = try envelopes("""
            {"object":"whatsapp_business_account","entry":[{"id":"waba","changes":[{"field":"messages","value":{"messaging_product":"whatsapp",
             "metadata":{"display_phone_number":"15550100","phone_number_id":"3003"},"contacts":[{"profile":{"name":"Ana"},"wa_id":"4915112345"}],
             "messages":[{"from":"4915112345","id":"wamid.A1","timestamp":"1764750000","type":"text","text":{"body":"Stra\\u00dfenlaterne kaputt"},"context":{"id":"wamid.Q0"}}],
             "statuses":[{"id":"wamid.Q0","status":"read","timestamp":"1764750001","recipient_id":"4915112345"}]}}]}]}
            """)
        let statuses = try webhook.items(Array("""
            {"object":"whatsapp_business_account","entry":[{"id":"waba","changes":[{"field":"messages","value":{"messaging_product":"whatsapp",
             "metadata":{"phone_number_id":"3003"},"statuses":[{"id":"wamid.Q0","status":"read"},
             {"id":"wamid.Q1","status":"failed","errors":[{"code":131047,"title":"Re-engagement message"}]}]}}]}]}
            """.utf8))
        #expect(statuses.first == .status(OutboundStatusRequest(platform: "whatsapp", externalID: "wamid.Q0", status: .read)))
        // Messenger's read receipt is a watermark on the citizen's conversation.
        let read = try webhook.items(Array("""
            {"object":"page","entry":[{"id":"1001","time":1764750010,"messaging":[{"sender":{"id":"psid-42"},"recipient":{"id":"1001"},
             "timestamp":1764750010000,"read":{"watermark":1764750009123}}]}]}
            """.utf8))
        #expect(read == [.status(OutboundStatusRequest(platform: "facebook", recipient: "psid-42", watermark: "2025-12-03T08:20:09.123Z", status: .read))])
        guard case .status(let failed)? = statuses.last else { Issue.record("a failed status is not reported"); return }
        #expect(failed.status == .failed && failed.code == "messaging_window_closed" && failed.reason?.contains("Re-engagement") == true)
        let message = try #require(whatsapp.first)
        #expect(message.text == "Straßenlaterne kaputt")
        #expect(message.source.inReplyTo == "wamid.Q0" && message.author.displayName == "Ana")
        #expect(message.capturedAt == "2025-12-03T08:20:00.000Z", "WhatsApp times are seconds, as a string")
        for envelope in instagram + whatsapp { _ = try EnvelopeDecoder().decode(envelope.json) }
    }

    @Test func theSignatureIsOverTheRawBytes() {
        let secret = Array("app-secret".utf8)
        // Escaped Unicode stays escaped: the signature is over the bytes, not a re-encoding.
        let body = Array(#"{"object":"page","entry":[{"id":"1001","messaging":[{"message":{"text":"\u00e4"}}]}]}"#.utf8)
        let header = WebhookSignature.sign(body, secret: secret)
        #expect(header.hasPrefix("sha256=") && header.count == 71)
        #expect(WebhookSignature.isValid(header, message: body, secret: secret))
        #expect(WebhookSignature.isValid(header.uppercased().replacingOccurrences(of: "SHA256=", with: "sha256="), message: body, secret: secret))
        #expect(!WebhookSignature.isValid(header, message: body + [0x20], secret: secret))
        #expect(!WebhookSignature.isValid(header, message: body, secret: Array("other".utf8)))
        #expect(!WebhookSignature.isValid(nil, message: body, secret: secret))
        #expect(!WebhookSignature.isValid("sha256=zz", message: body, secret: secret))
    }

    @Test func theGenericWebhookRefusesUnsignedStaleAndForgedRequests() throws {
        let secret = Array("shared".utf8), now = Date(timeIntervalSince1970: 1_764_750_000)
        let body = Array(#"[{"a":1},{"b":"\u00e4"}]"#.utf8)
        func signed(_ timestamp: String) -> String { WebhookSignature.sign(Array(timestamp.utf8) + [UInt8(ascii: ".")] + body, secret: secret) }
        let parts = try GenericWebhook.envelopes(body: body, timestamp: "1764750000", signature: signed("1764750000"), secret: secret, now: now)
        #expect(parts.map { String(decoding: $0, as: UTF8.self) } == [#"{"a":1}"#, #"{"b":"ä"}"#])
        #expect(throws: GenericWebhook.Refusal.unsigned) { try GenericWebhook.envelopes(body: body, timestamp: nil, signature: nil, secret: secret, now: now) }
        #expect(throws: GenericWebhook.Refusal.badSignature) {
            try GenericWebhook.envelopes(body: body, timestamp: "1764750000", signature: signed("1764749999"), secret: secret, now: now)
        }
        #expect(throws: GenericWebhook.Refusal.stale(seconds: 301)) {
            try GenericWebhook.envelopes(body: body, timestamp: "1764749699", signature: signed("1764749699"), secret: secret, now: now)
        }
    }

    @Test func secretsComeFromPrivateFilesOrTheEnvironmentOnly() throws {
        let directory = temporaryDirectory()
        let file = directory + "/secret"
        try "s3cret\n".write(toFile: file, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: file)
        func parse(_ yaml: String) throws(ConfigurationError) -> GatewayConfiguration {
            try GatewayConfiguration.parse(yaml: yaml, environment: ["HOOK": "from-env"])
        }
        let open = "generic:\n  secret_file: \(file)\n"
        do {
            _ = try parse(open)
            Issue.record("a secret file others may read was accepted")
        } catch {
            #expect(error.description == "line 2, generic.secret_file: \(file) may be read by others (mode 644); chmod 600 \(file)")
        }
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: file)
        #expect(try parse(open).generic?.secret.bytes == Array("s3cret".utf8))
        #expect(try parse("generic:\n  secret_env: HOOK\n").generic?.secret.bytes == Array("from-env".utf8))
        #expect(throws: ConfigurationError.self) { try parse("generic:\n  secret: inline\n") }
        do {
            _ = try parse("generic:\n  secret_env: HOOK\nlisten: 8443\n")
            Issue.record("a listen address without a host was accepted")
        } catch {
            #expect(error.description.contains("line 3, listen: listen must be HOST:PORT"))
        }
        #expect(!"\(try parse(open).generic!.secret)".contains("s3cret"), "a secret never prints")
    }

    @Test func tlsNeedsACertificateAndAPrivateKeyFile() throws {
        let directory = temporaryDirectory()
        let certificate = directory + "/fullchain.pem", key = directory + "/privkey.pem"
        try "-----BEGIN CERTIFICATE-----\n".write(toFile: certificate, atomically: true, encoding: .utf8)
        try "-----BEGIN PRIVATE KEY-----\n".write(toFile: key, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: key)
        func parse(_ tls: String) throws(ConfigurationError) -> GatewayConfiguration {
            try GatewayConfiguration.parse(yaml: "generic:\n  secret_env: HOOK\ntls:\n" + tls, environment: ["HOOK": "h"])
        }
        let parsed = try parse("  certificate: \(certificate)\n  key_file: \(key)\n").tls
        #expect(parsed?.certificatePath == certificate && parsed?.key.origin == key)
        #expect(try parse("  certificate: \(certificate)\n  key_file: \(key)\n").tls?.certificateChain == Array("-----BEGIN CERTIFICATE-----\n".utf8))
        do {
            _ = try parse("  key_file: \(key)\n")
            Issue.record("tls without a certificate was accepted")
        } catch {
            #expect(error.description.contains("tls.certificate is required"))
        }
        do {
            _ = try parse("  certificate: \(certificate)\n  key: inline\n")
            Issue.record("a private key written in the configuration was accepted")
        } catch {
            #expect(error.description.contains("tls.key must not be written in the configuration"))
        }
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: key)
        #expect(throws: ConfigurationError.self) { try parse("  certificate: \(certificate)\n  key_file: \(key)\n") }
    }
}
