import ArgumentParser
import NIOSSL
import Synchronization
import SwitchboardGateway

/// The certificate chain and key the gateway serves TLS with, when it terminates TLS
/// itself (`tls:` in the configuration). SIGHUP replaces them: each new connection's
/// handshake takes the current ones, so a renewed certificate needs no restart and no
/// connection is dropped.
final class TLSCredentials: Sendable {
    private struct Pair: Sendable {
        var chain: [NIOSSLCertificate]
        var key: NIOSSLPrivateKey
    }

    private let current: Mutex<Pair>

    init(_ tls: GatewayConfiguration.TLS) throws { current = Mutex(try Self.read(tls)) }

    /// Reads a new pair; a file that does not parse changes nothing.
    func replace(with tls: GatewayConfiguration.TLS) throws {
        let fresh = try Self.read(tls)
        current.withLock { $0 = fresh }
    }

    private static func read(_ tls: GatewayConfiguration.TLS) throws -> Pair {
        let chain: [NIOSSLCertificate]
        do {
            chain = try NIOSSLCertificate.fromPEMBytes(tls.certificateChain)
        } catch {
            throw ValidationError("tls.certificate: \(tls.certificatePath) holds no PEM certificate (\(error))")
        }
        guard !chain.isEmpty else { throw ValidationError("tls.certificate: \(tls.certificatePath) holds no PEM certificate") }
        do {
            // The secret is read trimmed; PEM wants its last line ended.
            return Pair(chain: chain, key: try NIOSSLPrivateKey(bytes: tls.key.bytes + [UInt8(ascii: "\n")], format: .pem))
        } catch {
            throw ValidationError("tls.key: \(tls.key.origin) holds no PEM private key (an encrypted key is not supported)")
        }
    }

    /// The server's configuration: TLS 1.2 at least, the certificate read at each handshake.
    var configuration: TLSConfiguration {
        let pair = current.withLock { $0 }
        var configuration = TLSConfiguration.makeServerConfiguration(certificateChain: pair.chain.map { .certificate($0) },
                                                                     privateKey: .privateKey(pair.key))
        configuration.minimumTLSVersion = .tlsv12
        configuration.sslContextCallback = { [self] _, promise in
            let now = current.withLock { $0 }
            var override = NIOSSLContextConfigurationOverride()
            override.certificateChain = now.chain.map { .certificate($0) }
            override.privateKey = .privateKey(now.key)
            promise.succeed(override)
        }
        return configuration
    }
}
