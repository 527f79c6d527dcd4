import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A TCP proxy on loopback that can stop forwarding without closing anything: what a cut
/// cable or a frozen firewall does to a connection. Both ends keep their sockets open and
/// hear nothing, so only a timeout tells them; ``thaw()`` lets the bytes through again.
public final class FreezableProxy: Sendable {
    /// Where clients connect instead of the target.
    public let port: UInt16
    private let switches = Switches()
    private let finished = DispatchSemaphore(value: 0)

    /// What the owner and the forwarding thread share.
    private final class Switches: Sendable {
        let frozen = Atomic<Bool>(false)
        let stopping = Atomic<Bool>(false)
    }

    /// Listens on a free loopback port and forwards every connection to `127.0.0.1:targetPort`.
    public init(targetPort: UInt16) throws {
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var on: Int32 = 1
        setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &on, socklen_t(MemoryLayout<Int32>.size))
        var address = Self.loopback(port: 0)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        guard withUnsafeMutablePointer(to: &address, { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, length) } }) == 0,
              listen(listener, 64) == 0 else {
            close(listener)
            throw ProxyError(description: "cannot listen: \(String(cString: strerror(errno)))")
        }
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listener, $0, &length) } }
        port = UInt16(bigEndian: address.sin_port)
        let thread = Thread { [switches, finished] in
            Self.forward(listener: listener, to: targetPort, switches)
            finished.signal()
        }
        thread.name = "test-proxy"
        thread.start()
    }

    deinit { stop() }

    /// Stops forwarding; connections stay open.
    public func freeze() { switches.frozen.store(true, ordering: .releasing) }

    /// Forwards again what waited.
    public func thaw() { switches.frozen.store(false, ordering: .releasing) }

    /// Closes the listener and every connection.
    public func stop() {
        guard !switches.stopping.exchange(true, ordering: .acquiringAndReleasing) else { return }
        finished.wait()
    }

    private static func loopback(port: UInt16) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = port.bigEndian
        return address
    }

    private static func forward(listener: Int32, to targetPort: UInt16, _ switches: Switches) {
        var peers: [Int32: Int32] = [:]      // each end of a connection -> the other end
        func drop(_ fd: Int32) {
            guard let other = peers.removeValue(forKey: fd) else { return }
            peers[other] = nil
            close(fd)
            close(other)
        }
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while !switches.stopping.load(ordering: .acquiring) {
            let isFrozen = switches.frozen.load(ordering: .acquiring)
            var fds = [pollfd(fd: listener, events: Int16(POLLIN), revents: 0)]
            if !isFrozen { fds += peers.keys.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) } }
            guard poll(&fds, nfds_t(fds.count), 20) > 0 else { continue }
            for entry in fds where entry.revents != 0 {
                if entry.fd == listener {
                    let client = accept(listener, nil, nil)
                    guard client >= 0 else { continue }
                    let server = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
                    var address = loopback(port: targetPort)
                    let connected = withUnsafeMutablePointer(to: &address) {
                        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(server, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
                    }
                    guard connected == 0 else { close(client); close(server); continue }
                    peers[client] = server
                    peers[server] = client
                    continue
                }
                guard let other = peers[entry.fd] else { continue }
                let count = read(entry.fd, &buffer, buffer.count)
                guard count > 0 else { drop(entry.fd); continue }
                var sent = 0
                while sent < count {
                    let written = buffer.withUnsafeBytes { write(other, $0.baseAddress! + sent, count - sent) }
                    guard written > 0 else { break }
                    sent += written
                }
            }
        }
        for fd in Array(peers.keys) { drop(fd) }
        close(listener)
    }
}

public struct ProxyError: Error, CustomStringConvertible {
    public let description: String
}
