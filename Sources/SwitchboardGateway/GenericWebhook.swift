import Foundation
import SwitchboardCore

/// The signed generic webhook, for web forms, e-mail bridges and any source without a
/// driver of its own: a `POST` of one 2/SB-INGEST envelope or a JSON array of them, with
/// `X-Switchboard-Timestamp` (Unix seconds) and `X-Switchboard-Signature` (`sha256=` and
/// the hex HMAC-SHA256 of the timestamp, a dot and the raw body, keyed with the shared
/// secret). A timestamp more than five minutes from the gateway's clock is refused, so a
/// captured request cannot be replayed later.
public enum GenericWebhook {
    public static let timestampHeader = "X-Switchboard-Timestamp"
    public static let signatureHeader = "X-Switchboard-Signature"
    /// How far a timestamp may be from now, either way.
    public static let window: TimeInterval = 5 * 60

    public enum Refusal: Error, Equatable, CustomStringConvertible {
        case unsigned
        case badSignature
        case stale(seconds: Int)
        case notEnvelopes(String)

        public var description: String {
            switch self {
            case .unsigned: "the request has no \(timestampHeader) and \(signatureHeader) headers"
            case .badSignature: "the signature does not match the body and timestamp under the shared secret"
            case .stale(let seconds): "the timestamp is \(seconds) s from the gateway's clock (at most 300 s): a replay, or a clock to set right"
            case .notEnvelopes(let reason): "the body is not an envelope or an array of envelopes: \(reason)"
            }
        }
    }

    /// The envelopes of a signed request, each as the bytes it was sent as (the broker
    /// reads them strictly), once the signature and the timestamp are checked.
    public static func envelopes(body: [UInt8], timestamp: String?, signature: String?, secret: [UInt8], now: Date) throws(Refusal) -> [[UInt8]] {
        guard let timestamp, let signature else { throw .unsigned }
        guard WebhookSignature.isValid(signature, message: Array(timestamp.utf8) + [UInt8(ascii: ".")] + body, secret: secret) else {
            throw .badSignature
        }
        guard let seconds = Double(timestamp), abs(now.timeIntervalSince1970 - seconds) <= window else {
            throw .stale(seconds: Int(abs(now.timeIntervalSince1970 - (Double(timestamp) ?? 0))))
        }
        let value: JSONValue
        do { value = try JSONValue.parse(body) } catch { throw .notEnvelopes("\(error)") }
        switch value {
        case .object: return [body]
        case .array(let items):
            guard !items.isEmpty else { throw .notEnvelopes("the array is empty") }
            return items.map(\.bytes)
        default: throw .notEnvelopes("expected an object or an array")
        }
    }
}

extension JSONValue {
    /// The value written back as JSON, to send one element of an array on its own.
    var bytes: [UInt8] {
        var out: [UInt8] = []
        write(to: &out)
        return out
    }

    private func write(to out: inout [UInt8]) {
        switch self {
        case .null: out += Array("null".utf8)
        case .bool(let flag): out += Array((flag ? "true" : "false").utf8)
        case .number(let number):
            let whole = number == number.rounded() && abs(number) < 1e15
            out += Array((whole ? String(Int64(number)) : String(number)).utf8)
        case .string(let text): Self.quote(text, to: &out)
        case .array(let items):
            out.append(UInt8(ascii: "["))
            for (index, item) in items.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                item.write(to: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .object(let members):
            out.append(UInt8(ascii: "{"))
            for (index, member) in members.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                Self.quote(member.key, to: &out)
                out.append(UInt8(ascii: ":"))
                member.value.write(to: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
    }

    private static func quote(_ text: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): out += [UInt8(ascii: "\\"), UInt8(ascii: "\"")]
            case UInt8(ascii: "\\"): out += [UInt8(ascii: "\\"), UInt8(ascii: "\\")]
            case 0..<0x20: out += Array(String(format: "\\u%04x", byte).utf8)
            default: out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
    }
}
