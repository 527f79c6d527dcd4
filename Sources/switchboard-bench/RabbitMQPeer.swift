import Foundation

/// RabbitMQ measured in the same run, on the same disk, with the same shape of load:
/// `bench/amqp-load` (C, rabbitmq-c) publishing persistent 512-byte messages with
/// publisher confirms into durable classic queues, and consumers acknowledging each by
/// hand with a prefetch equal to the workers' credit. The broker itself is a private
/// Debian `rabbitmq-server` on loopback, started by `scripts/rabbitmq.sh` (as `make
/// bench` does) and named here by its port.
struct RabbitMQPeer {
    struct Result {
        var queues: Int
        /// Quorum queues (replicated), not classic ones.
        var quorum = false
        var confirmedPerSecond: Double
        var deliveredPerSecond: Double
        var confirmP50: Double
        var confirmP99: Double
        var lost: Int
    }

    var loadGenerator: String
    var port: Int
    var publishers, consumers, prefetch, window, size, seconds: Int

    func measure(queues: Int, quorum: Bool = false) throws -> Result {
        guard FileManager.default.isExecutableFile(atPath: loadGenerator) else {
            throw BenchError("no RabbitMQ load generator at \(loadGenerator): `make bench` builds it (gcc, librabbitmq-dev)")
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: loadGenerator)
        process.arguments = ["--port", "\(port)", "--queues", "\(queues)", "--publishers", "\(publishers)", "--consumers", "\(consumers)",
                             "--prefetch", "\(prefetch)", "--window", "\(window)", "--size", "\(size)", "--seconds", "\(seconds)", "--warmup", "1", "--quorum", quorum ? "1" : "0"]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self)
        guard process.terminationStatus == 0 else {
            throw BenchError("amqp-load failed (exit \(process.terminationStatus)); is RabbitMQ listening on 127.0.0.1:\(port)? scripts/rabbitmq.sh start DIR \(port)")
        }
        var fields: [String: Double] = [:]
        for pair in text.split(whereSeparator: \.isWhitespace) {
            let parts = pair.split(separator: "=", maxSplits: 1)
            if parts.count == 2, let value = Double(parts[1]) { fields[String(parts[0])] = value }
        }
        guard let confirmed = fields["confirmed"], let delivered = fields["delivered"], let elapsed = fields["seconds"], elapsed > 0 else {
            throw BenchError("amqp-load printed no figures: \(text)")
        }
        return Result(queues: queues, quorum: quorum, confirmedPerSecond: confirmed / elapsed, deliveredPerSecond: delivered / elapsed,
                      confirmP50: fields["confirm_p50_ms"] ?? 0, confirmP99: fields["confirm_p99_ms"] ?? 0, lost: Int(fields["lost"] ?? 0))
    }
}
