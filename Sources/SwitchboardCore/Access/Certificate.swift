import Foundation

/// A CURVE certificate in ZeroMQ's text form (czmq's `zcert`, ZPL-style): a `metadata`
/// section of `name = "value"` lines and a `curve` section with `public-key` and, in
/// the secret file only, `secret-key`, both Z85. Peers in other languages load these
/// files with their usual tools (czmq, pyzmq's `zmq.auth.load_certificate`).
public struct Certificate: Sendable, Equatable {
    public var publicKey: String
    public var secretKey: String?
    public var metadata: [(key: String, value: String)]

    public init(publicKey: String, secretKey: String?, metadata: [(key: String, value: String)] = []) {
        self.publicKey = publicKey
        self.secretKey = secretKey
        self.metadata = metadata
    }

    public static func == (a: Certificate, b: Certificate) -> Bool {
        a.publicKey == b.publicKey && a.secretKey == b.secretKey && a.metadata.map(\.key) == b.metadata.map(\.key)
            && a.metadata.map(\.value) == b.metadata.map(\.value)
    }

    public func metadata(_ key: String) -> String? { metadata.first { $0.key == key }?.value }

    /// The public file (`NAME.key`) or, with `includingSecret`, the secret one
    /// (`NAME.key_secret`).
    public func text(includingSecret: Bool, generatedAt: Date = Date()) -> String {
        var lines = [
            "#   ****  Generated on \(generatedAt.formatted(.iso8601)) by Switchboard  ****",
            includingSecret ? "#   ZeroMQ CURVE **Secret** Certificate" : "#   ZeroMQ CURVE Public Certificate",
            includingSecret ? "#   DO NOT PROVIDE THIS FILE TO OTHER USERS nor change its permissions."
                : "#   Exchange securely, or use a secure mechanism to verify the contents of this file after exchange.",
            "",
            "metadata",
        ]
        for (key, value) in metadata { lines.append("    \(key) = \"\(value)\"") }
        lines.append("curve")
        lines.append("    public-key = \"\(publicKey)\"")
        if includingSecret, let secretKey { lines.append("    secret-key = \"\(secretKey)\"") }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Reads either file; errors name the line.
    public static func parse(_ text: String) throws(AccessError) -> Certificate {
        var section = ""
        var metadata: [(key: String, value: String)] = []
        var publicKey: String?
        var secretKey: String?
        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            if !raw.hasPrefix(" ") && !raw.hasPrefix("\t") {
                section = line
                continue
            }
            guard let equals = line.firstIndex(of: "=") else { throw .invalid("expected name = \"value\"", line: index + 1) }
            let key = line[..<equals].trimmingCharacters(in: .whitespaces)
            var value = line[line.index(after: equals)...].trimmingCharacters(in: .whitespaces)
            if value.hasPrefix("\""), value.hasSuffix("\""), value.count >= 2 { value = String(value.dropFirst().dropLast()) }
            switch (section, key) {
            case ("curve", "public-key"): publicKey = value
            case ("curve", "secret-key"): secretKey = value
            case ("metadata", _): metadata.append((key, value))
            default: continue
            }
        }
        guard let publicKey else { throw .invalid("no curve public-key") }
        for key in [publicKey] + (secretKey.map { [$0] } ?? []) where !isKey(key) {
            throw .invalid("a CURVE key is 40 characters of Z85")
        }
        return Certificate(publicKey: publicKey, secretKey: secretKey, metadata: metadata)
    }

    /// Reads a certificate file.
    public static func load(path: String) throws(AccessError) -> Certificate {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw .invalid("cannot read the key file \(path)")
        }
        do {
            return try parse(text)
        } catch {
            throw .invalid("\(path): \(error)")
        }
    }

    /// Writes the public file `DIR/NAME.key` and the secret file `DIR/NAME.key_secret`
    /// (mode 0600); returns their paths.
    public func save(directory: String, name: String) throws(AccessError) -> (publicFile: String, secretFile: String) {
        let publicFile = (directory as NSString).appendingPathComponent("\(name).key")
        let secretFile = publicFile + "_secret"
        let manager = FileManager.default
        guard !manager.fileExists(atPath: publicFile), !manager.fileExists(atPath: secretFile) else {
            throw .invalid("\(publicFile) already exists; choose another --name or --out")
        }
        do {
            try manager.createDirectory(atPath: directory, withIntermediateDirectories: true)
            guard manager.createFile(atPath: secretFile, contents: Data(text(includingSecret: true).utf8), attributes: [.posixPermissions: 0o600]) else {
                throw AccessError.invalid("cannot write \(secretFile)")
            }
            try Data(text(includingSecret: false).utf8).write(to: URL(fileURLWithPath: publicFile))
        } catch let error as AccessError {
            throw error
        } catch {
            throw .invalid("cannot write the key files in \(directory): \(error.localizedDescription)")
        }
        return (publicFile, secretFile)
    }

    /// Whether `text` looks like a Z85 CURVE key.
    public static func isKey(_ text: String) -> Bool {
        text.utf8.count == 40 && text.utf8.allSatisfy { z85.contains($0) }
    }

    private static let z85 = Set("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#".utf8)
}
