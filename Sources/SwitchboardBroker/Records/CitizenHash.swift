import Crypto
import Foundation
import SwitchboardCore
import SwitchboardStore

/// A keyed hash of a citizen's handle (HMAC-SHA-256 under a key of this installation):
/// the audit of erasures and the logs name a citizen by it, so a repeated request can be
/// recognised without the handle being kept anywhere. Without the key, nobody can test
/// a guessed handle against it.
public struct CitizenHash: Sendable {
    /// The key's bytes (a `SymmetricKey` is made per use: it is not `Sendable`).
    private let key: [UInt8]

    public init(key: [UInt8]) {
        self.key = key
    }

    /// The hash of `handle` on `platform`, after normalisation (`@Jo` and `jo` are one).
    public func callAsFunction(platform: Platform, handle: String) -> String {
        let message = Data("\(platform.rawValue):\(CitizenHandle.normalized(handle))".utf8)
        return HMAC<SHA256>.authenticationCode(for: message, using: SymmetricKey(data: key)).map { String(format: "%02x", $0) }.joined()
    }

    /// Reads the key from `path`, or makes a new random one there (mode 0600) on first use.
    public static func loadOrCreateKey(at path: String) throws -> [UInt8] {
        if let data = FileManager.default.contents(atPath: path) {
            guard data.count >= 32 else { throw KeyFileError(path: path) }
            return Array(data)
        }
        let key = SymmetricKey(size: .bits256).withUnsafeBytes { Array($0) }
        guard FileManager.default.createFile(atPath: path, contents: Data(key), attributes: [.posixPermissions: 0o600]) else {
            throw KeyFileError(path: path)
        }
        return key
    }

    public struct KeyFileError: Error, CustomStringConvertible {
        public let path: String
        public var description: String {
            "the erasure audit key \(path) cannot be read or written (it must hold at least 32 bytes); check the data directory's permissions"
        }
    }
}
