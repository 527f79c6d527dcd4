import Crypto
import Foundation

/// HMAC-SHA256 signatures over the raw bytes of a webhook's body, as Meta sends them in
/// `X-Hub-Signature-256` (`sha256=` and 64 hex digits) and as the generic webhook asks
/// (over the timestamp, a dot and the body). Checked before anything of the body is read,
/// compared in constant time.
public enum WebhookSignature {
    /// `sha256=` + lower-case hex of HMAC-SHA256(`secret`, `message`).
    public static func sign(_ message: some Sequence<UInt8>, secret: [UInt8]) -> String {
        let mac = HMAC<SHA256>.authenticationCode(for: Array(message), using: SymmetricKey(data: secret))
        return "sha256=" + mac.map { String(format: "%02x", $0) }.joined()
    }

    /// Whether `header` is the signature of `message` under `secret`. A missing or
    /// malformed header is simply not valid.
    public static func isValid(_ header: String?, message: some Sequence<UInt8>, secret: [UInt8]) -> Bool {
        guard let header, header.hasPrefix("sha256="), header.utf8.count == 71 else { return false }
        let hex = Array(header.utf8.dropFirst(7))
        var given = [UInt8]()
        given.reserveCapacity(32)
        var index = 0
        while index < hex.count {
            guard let high = nibble(hex[index]), let low = nibble(hex[index + 1]) else { return false }
            given.append(high << 4 | low)
            index += 2
        }
        return HMAC<SHA256>.isValidAuthenticationCode(given, authenticating: Array(message), using: SymmetricKey(data: secret))
    }

    private static func nibble(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
