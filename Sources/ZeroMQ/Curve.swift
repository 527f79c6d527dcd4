import CZeroMQ

/// A CURVE key pair, both keys in Z85 text (40 characters each).
public struct CurveKeyPair: Sendable, Hashable {
    public let publicKey: String
    public let secretKey: String

    public init(publicKey: String, secretKey: String) {
        self.publicKey = publicKey
        self.secretKey = secretKey
    }

    /// Generates a fresh key pair (`zmq_curve_keypair`). Fails with `ENOTSUP` when libzmq
    /// was built without CURVE support.
    public static func generate() throws(ZMQError) -> CurveKeyPair {
        var publicKey = [CChar](repeating: 0, count: 41)
        var secretKey = [CChar](repeating: 0, count: 41)
        try ZMQCall.check("zmq_curve_keypair") { zmq_curve_keypair(&publicKey, &secretKey) }
        return CurveKeyPair(publicKey: Z85.string(publicKey), secretKey: Z85.string(secretKey))
    }
}

/// ZeroMQ's Z85 encoding (32/Z85): four bytes become five printable characters.
public enum Z85 {
    /// Encodes `bytes`, whose count must be a multiple of 4, else `EINVAL`.
    public static func encode(_ bytes: [UInt8]) throws(ZMQError) -> String {
        guard bytes.count % 4 == 0 else { throw .failed(function: "zmq_z85_encode", errno: .invalidArgument) }
        var text = [CChar](repeating: 0, count: bytes.count * 5 / 4 + 1)
        _ = try ZMQCall.checkPointer("zmq_z85_encode") { zmq_z85_encode(&text, bytes, bytes.count) }
        return string(text)
    }

    /// Decodes Z85 `text`, whose length must be a multiple of 5 and whose characters
    /// must be in the Z85 alphabet, else `EINVAL`.
    public static func decode(_ text: String) throws(ZMQError) -> [UInt8] {
        let utf8 = Array(text.utf8)
        guard utf8.count % 5 == 0, utf8.allSatisfy(isZ85) else {
            throw .failed(function: "zmq_z85_decode", errno: .invalidArgument)
        }
        if utf8.isEmpty { return [] }   // libzmq rejects the empty string; the encoding of no bytes is ""
        var bytes = [UInt8](repeating: 0, count: utf8.count * 4 / 5)
        _ = try ZMQCall.checkPointer("zmq_z85_decode") { zmq_z85_decode(&bytes, text) }
        return bytes
    }

    private static let alphabet = Set("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#".utf8)
    private static func isZ85(_ byte: UInt8) -> Bool { alphabet.contains(byte) }

    static func string(_ text: [CChar]) -> String {
        String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
