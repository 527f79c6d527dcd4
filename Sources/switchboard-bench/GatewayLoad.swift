import DaemonHarness
import Foundation
import Histogram
import Synchronization
import SwitchboardGateway
#if canImport(Glibc)
import Glibc
#endif

/// A `switchboard-gateway` spawned for the benchmark, in front of a spawned broker: Meta's
/// webhook signed with a fresh app secret, one Facebook page (the demo city's
/// `RivertonCityHall`), no publishing token.
final class GatewayProcess {
    let port: UInt16
    let secret: [UInt8]
    private let process = Process()

    init(brokerEndpoint: String, directory: String) throws {
        port = Loopback.freePort()
        secret = Array(UUID().uuidString.utf8)
        func secretFile(_ name: String, _ value: [UInt8]) throws -> String {
            let path = directory + "/" + name
            guard FileManager.default.createFile(atPath: path, contents: Data(value), attributes: [.posixPermissions: 0o600]) else {
                throw BenchError("cannot write \(path)")
            }
            return path
        }
        let config = """
            broker:
              endpoint: \(brokerEndpoint)
            listen: 127.0.0.1:\(port)
            state: \(directory)/state
            meta:
              app_secret_file: \(try secretFile("app-secret", secret))
              verify_token_file: \(try secretFile("verify-token", Array("bench".utf8)))
              accounts:
                - { platform: facebook, id: "1001", handle: RivertonCityHall }
            """
        try config.write(toFile: directory + "/gateway.yaml", atomically: true, encoding: .utf8)
        process.executableURL = SpawnedDaemon.executable("switchboard-gateway")
        process.arguments = ["--config", directory + "/gateway.yaml", "--log-level", "warning"]
        process.standardOutput = FileHandle.nullDevice
        do {
            try process.run()
        } catch {
            throw BenchError("switchboard-gateway did not start (\(process.executableURL?.path ?? "-")): \(error); build it with the benchmark")
        }
        let deadline = ContinuousClock.now + .seconds(30)
        while (try? HTTPConnection(port: port).get("/healthz")) != 200 {
            guard process.isRunning, ContinuousClock.now < deadline else { throw BenchError("switchboard-gateway did not answer /healthz") }
            Thread.sleep(forTimeInterval: 0.01)   // polling interval of a deadline-bound wait
        }
    }

    /// Peak resident set size, in bytes.
    var peakMemory: Int { Loopback.memory(pid: process.processIdentifier).peak }

    func stop() {
        process.terminate()
        process.waitUntilExit()
    }
}

/// One keep-alive HTTP/1.1 connection on a blocking socket: the load generator's side
/// costs a write and a read per webhook, so what is measured is the gateway. Each belongs
/// to one load thread.
final class HTTPConnection: @unchecked Sendable {   // one thread at a time uses it
    private let fd: Int32
    private var buffer = [UInt8]()

    init(port: UInt16) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
        guard connected else {
            close(fd)
            throw BenchError("cannot connect to 127.0.0.1:\(port)")
        }
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
    }

    deinit { close(fd) }

    func get(_ path: String) throws -> Int {
        try exchange(Array("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".utf8))
    }

    /// POSTs a body with headers; returns the status.
    func post(_ path: String, body: [UInt8], headers: [(String, String)]) throws -> Int {
        var head = "POST \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: \(body.count)\r\n"
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        return try exchange(Array((head + "\r\n").utf8) + body)
    }

    private func exchange(_ request: [UInt8]) throws -> Int {
        var sent = 0
        while sent < request.count {
            let n = request.withUnsafeBytes { send(fd, $0.baseAddress! + sent, request.count - sent, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { throw BenchError("the gateway closed the connection") }
            sent += n
        }
        // The head, then as many bytes of body as Content-Length says.
        var headEnd: Int?
        while headEnd == nil {
            try fill()
            headEnd = Self.find([13, 10, 13, 10], in: buffer).map { $0 + 4 }
        }
        let head = String(decoding: buffer[..<headEnd!], as: UTF8.self)
        let status = Int(head.split(separator: " ").dropFirst().first ?? "") ?? 0
        let length = head.split(separator: "\r\n").first { $0.lowercased().hasPrefix("content-length:") }
            .flatMap { Int($0.split(separator: ":")[1].trimmingCharacters(in: .whitespaces)) } ?? 0
        while buffer.count < headEnd! + length { try fill() }
        buffer.removeFirst(headEnd! + length)
        return status
    }

    private func fill() throws {
        var chunk = [UInt8](repeating: 0, count: 16_384)
        let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress!, $0.count, 0) }
        guard n > 0 else { throw BenchError("the gateway closed the connection") }
        buffer.append(contentsOf: chunk[..<n])
    }

    static func find(_ needle: [UInt8], in bytes: [UInt8]) -> Int? {
        guard bytes.count >= needle.count else { return nil }
        for index in 0...(bytes.count - needle.count) where bytes[index] == needle[0] && Array(bytes[index..<index + needle.count]) == needle {
            return index
        }
        return nil
    }
}

/// Signed Messenger deliveries of `entries` messages each, every message new, whose
/// texts route through the demo city's rules to the departments measured.
struct WebhookDeliveries: Sendable {
    let entries: Int
    let secret: [UInt8]
    let texts: [String]
    let run = UInt32.random(in: 0...UInt32.max)

    func delivery(_ sequence: Int, connection: Int) -> (body: [UInt8], signature: String) {
        let now = Int(Date().timeIntervalSince1970 * 1_000)
        let items = (0..<entries).map { index in
            let text = texts[(sequence + index) % texts.count]
            return #"{"id":"1001","time":\#(now / 1_000),"messaging":[{"sender":{"id":"psid-\#(connection)-\#(index)"},"recipient":{"id":"1001"},"#
                + #""timestamp":\#(now),"message":{"mid":"m-\#(run)-\#(connection)-\#(sequence)-\#(index)","text":"\#(text)"}}]}"#
        }
        let body = Array((#"{"object":"page","entry":["# + items.joined(separator: ",") + "]}").utf8)
        return (body, WebhookSignature.sign(body, secret: secret))
    }
}

func nanos(_ duration: Duration) -> UInt64 {
    UInt64(duration.components.seconds) * 1_000_000_000 + UInt64(duration.components.attoseconds / 1_000_000_000)
}

enum GatewayLoad {
    /// `connections` clients each posting one delivery after another; counts the entries
    /// of deliveries answered 200 (every one stored by the broker) and times each answer.
    static func closedLoop(port: UInt16, connections: Int, deliveries: WebhookDeliveries, duration: Duration, warmup: Duration) throws -> LoadResult {
        let start = ContinuousClock.now
        let measureFrom = start + warmup, until = measureFrom + duration
        let results = Mutex(Tally())
        let threads = try (0..<connections).map { index -> @Sendable () -> Void in
            let connection = try HTTPConnection(port: port)
            return {
                var sequence = 0
                while ContinuousClock.now < until {
                    let (body, signature) = deliveries.delivery(sequence, connection: index)
                    sequence += 1
                    let sent = ContinuousClock.now
                    let status = (try? connection.post("/webhooks/meta", body: body, headers: [("X-Hub-Signature-256", signature)])) ?? 0
                    let answered = ContinuousClock.now
                    guard sent >= measureFrom, answered <= until else { continue }
                    results.withLock { r in
                        if status == 200 {
                            r.completed += deliveries.entries
                            r.histogram.record(nanos(answered - sent))
                        } else {
                            r.failed += 1
                        }
                    }
                }
            }
        }
        try run(threads)
        return try result(results.withLock { $0 }, seconds: duration.seconds)
    }

    /// Deliveries at a fixed rate, spread over `connections` clients; each answer is timed
    /// from when its delivery was due, so a gateway falling behind shows in the latency.
    static func openLoop(port: UInt16, connections: Int, rate: Double, deliveries: WebhookDeliveries, duration: Duration) throws -> LoadResult {
        let start = ContinuousClock.now + .milliseconds(100)
        let total = Int(rate * duration.seconds)
        let next = Atomic<Int>(0)
        let results = Mutex(Tally())
        let threads = try (0..<connections).map { index -> @Sendable () -> Void in
            let connection = try HTTPConnection(port: port)
            return {
                while true {
                    let sequence = next.wrappingAdd(1, ordering: .relaxed).oldValue
                    guard sequence < total else { return }
                    let due = start + .nanoseconds(Int64(Double(sequence) / rate * 1e9))
                    let wait = due - ContinuousClock.now
                    if wait > .zero { Thread.sleep(forTimeInterval: wait.seconds) }
                    let (body, signature) = deliveries.delivery(sequence, connection: index)
                    let status = (try? connection.post("/webhooks/meta", body: body, headers: [("X-Hub-Signature-256", signature)])) ?? 0
                    let answered = ContinuousClock.now
                    results.withLock { r in
                        if status == 200 {
                            r.completed += deliveries.entries
                            r.histogram.record(nanos(max(.zero, answered - due)))
                        } else {
                            r.failed += 1
                        }
                    }
                }
            }
        }
        try run(threads)
        return try result(results.withLock { $0 }, seconds: duration.seconds)
    }

    /// Runs each client on a thread of its own and waits for all of them.
    private static func run(_ clients: [@Sendable () -> Void]) throws {
        let done = DispatchGroup()
        for client in clients {
            done.enter()
            Thread {
                client()
                done.leave()
            }.start()
        }
        done.wait()
    }

    /// Entries acknowledged, deliveries not answered 200, and the answers' times.
    struct Tally {
        var completed = 0
        var failed = 0
        var histogram = Histogram<UInt64>(highestTrackableValue: 60_000_000_000, numberOfSignificantValueDigits: .three)
    }

    private static func result(_ r: Tally, seconds: Double) throws -> LoadResult {
        if r.failed > 0 { progress("  \(r.failed) deliveries were not answered 200 (the platform would send them again)") }
        guard r.completed > 0 else {
            throw BenchError(r.failed > 0 ? "the gateway answered no delivery 200 (is the broker storing?)"
                : "no delivery was both sent and answered within the \(Int(seconds)) s measured; measure longer (--seconds)")
        }
        return LoadResult(completed: r.completed, seconds: seconds, histogram: r.histogram)
    }
}
