import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// What the tests and the benchmark ask of the machine about the processes they spawn.
public enum Loopback {
    /// A TCP port on 127.0.0.1 the kernel says is free now.
    public static func freePort() -> UInt16 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        return UInt16(bigEndian: address.sin_port)
    }

    /// Peak and current resident set size of process `pid`, in bytes (VmHWM and VmRSS in
    /// /proc/PID/status); zeros when it is gone.
    public static func memory(pid: Int32) -> (peak: Int, current: Int) {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return (0, 0) }
        func field(_ name: String) -> Int {
            guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix(name) }) else { return 0 }
            // "VmRSS:	   34816 kB"
            return (Int(line.split(whereSeparator: { $0 == " " || $0 == "\t" }).dropFirst().first ?? "0") ?? 0) * 1_024
        }
        return (field("VmHWM:"), field("VmRSS:"))
    }
}
