import Foundation
import Majordomo
import SwitchboardCore
import SwitchboardProtocol
import ZeroMQ

/// Imports a `.jsonl` file of envelopes: validated line by line (bad lines reported, the
/// rest still sent), a window of requests in flight, progress on a terminal, and a
/// checkpoint of the acknowledged lines so a re-run resumes. The checkpoint belongs to
/// the file and the broker it was sent to (by the broker's installation id): the same
/// file sent to another broker starts from its first line.
struct BatchImport {
    let path: String
    let broker: BrokerOptions
    let restart: Bool
    /// Requests in flight at once.
    let window = 64

    var progressPath: String { path + ".progress" }

    func run() throws {
        guard let data = FileManager.default.contents(atPath: path) else {
            printError("cannot read \(path)")
            throw Exit.usage
        }
        var lines = data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).map(Array.init)
        // The newline that ends the last line does not start another one: counting that
        // empty "line" as done would skip the first line appended to the file later.
        if lines.last?.isEmpty == true { lines.removeLast() }
        let client = try broker.client()
        defer { client.close() }
        let installation = try Self.installation(of: client, broker: broker)
        var checkpoints = ImportProgress.read(progressPath)
        let resumeAfter = restart ? 0 : checkpoints.lines[installation] ?? 0
        if resumeAfter > 0 {
            note("resuming after line \(resumeAfter): this broker acknowledged the lines before it earlier (from \(progressPath); --restart sends them again)")
        } else if !restart, !checkpoints.lines.isEmpty {
            note("starting from line 1: \(progressPath) records progress with another broker, not this one")
        }

        var bad: [(line: Int, reason: String)] = []
        /// Lines the broker acknowledged (accepted or duplicate). A rejected line is not
        /// done: once fixed, the same command sends it (and whatever follows it again,
        /// which the broker answers as duplicates).
        var processed = Set<Int>()
        var work: [(line: Int, key: String, body: [UInt8])] = []
        let decoder = EnvelopeDecoder()
        for (index, bytes) in lines.enumerated() where index + 1 > resumeAfter {
            guard !Self.isBlank(bytes) else { continue }
            do {
                let inquiry = try decoder.decode(bytes)
                work.append((index + 1, "\(inquiry.source.platform.rawValue)\u{1F}\(inquiry.source.externalID)", bytes))
            } catch {
                bad.append((index + 1, "\(error)"))
            }
        }

        var counts: [String: Int] = [:]
        var pending: [String: Int] = [:]          // key → line
        var bodies: [String: [UInt8]] = [:]       // key → envelope, sent again after a switch of broker
        var switches = 0                          // brokers tried since the last answer
        var unansweredSince: ContinuousClock.Instant?
        var next = 0
        let start = ContinuousClock.now
        let progress = Progress(total: work.count)
        while next < work.count || !pending.isEmpty {
            while next < work.count, pending.count < window {
                let item = work[next]
                try client.send(ServiceName.ingest, body: [Frame(item.body)])
                pending[item.key] = item.line
                bodies[item.key] = item.body
                next += 1
            }
            let reply = try client.receive(timeout: broker.timeoutDuration)
            // No answer, or a standby's: the next broker gets what is in flight (an
            // envelope the first one stored comes back as a duplicate). Every broker
            // standing by is a takeover under way (seconds, 9/SB-HA): they are asked in
            // turn, a round at a time, until the timeout has passed.
            let since = unansweredSince ?? .now
            if reply.map(client.isRedirect) ?? true, client.endpoints.count > 1,
               switches < client.endpoints.count || ContinuousClock.now - since < broker.timeoutDuration {
                unansweredSince = since
                switches += 1
                if switches % client.endpoints.count == 0 { Thread.sleep(forTimeInterval: 0.2) }
                try client.failOver()
                note("switched to the broker at \(client.endpoint); sending the \(pending.count) envelopes in flight again")
                for key in pending.keys { if let body = bodies[key] { try client.send(ServiceName.ingest, body: [Frame(body)]) } }
                continue
            }
            guard let reply, !client.isRedirect(reply) else {
                saveCheckpoint(processed, resumeAfter: resumeAfter, lines: lines, into: &checkpoints, for: installation)
                printError("no reply from the broker at \(broker.endpoint) within \(broker.timeout)s; is switchboardd running\(broker.keyHint)? "
                           + "Lines acknowledged so far are recorded in \(progressPath); run the same command again to resume.")
                throw Exit.unreachable
            }
            let answer = (try? JSONDecoder().decode(IngestAnswer.self, from: Data(reply.body.first?.bytes ?? [])))
                ?? IngestAnswer(status: .error, error: ErrorDetail(code: .invalidJSON, message: "the broker's answer is not an ingest answer"))
            let key = "\(answer.platform ?? "")\u{1F}\(answer.externalID ?? "")"
            switches = 0
            unansweredSince = nil
            // Rejections name no key: they are charged to the oldest line in flight.
            let answered = pending[key] != nil ? key : pending.min { $0.value < $1.value }?.key
            let line = answered.flatMap { pending.removeValue(forKey: $0) }
            if let answered { bodies[answered] = nil }
            let stored = answer.status == .accepted || answer.status == .duplicate
            if let line {
                if stored {
                    processed.insert(line)
                } else {
                    bad.append((line, "\(answer.error?.code.rawValue ?? answer.status.rawValue): \(answer.error?.message ?? "")"))
                }
            }
            counts[stored ? answer.status.rawValue : "rejected", default: 0] += 1
            progress.show(done: counts.values.reduce(0, +), since: start)
            if processed.count % 500 == 0 { saveCheckpoint(processed, resumeAfter: resumeAfter, lines: lines, into: &checkpoints, for: installation) }
        }
        progress.finish()
        saveCheckpoint(processed, resumeAfter: resumeAfter, lines: lines, into: &checkpoints, for: installation)
        for (line, reason) in bad.sorted(by: { $0.line < $1.line }) {
            FileHandle.standardError.write(Data("line \(line): \(reason)\n".utf8))
        }
        print("accepted \(counts["accepted", default: 0]), duplicate \(counts["duplicate", default: 0]), rejected \(bad.count)")
        if work.isEmpty, bad.isEmpty, resumeAfter > 0 {
            note("nothing was sent: every line up to \(resumeAfter) was acknowledged by this broker before; --restart sends the file again "
                 + "(the broker answers what it has as duplicates)")
        }
        if !bad.isEmpty {
            FileHandle.standardError.write(Data("fix the lines above and run the same command again: it goes on from line \(bad.map(\.line).min() ?? 1)\n".utf8))
            throw Exit.refused
        }
    }

    /// Records, for this broker, the last line up to which every line is done with
    /// (blank lines count).
    private func saveCheckpoint(_ processed: Set<Int>, resumeAfter: Int, lines: [[UInt8]], into progress: inout ImportProgress, for installation: String) {
        var line = resumeAfter
        while line < lines.count, processed.contains(line + 1) || Self.isBlank(lines[line]) { line += 1 }
        progress.lines[installation] = line
        progress.write(progressPath)
    }

    private func note(_ text: String) {
        FileHandle.standardError.write(Data("\(text)\n".utf8))
    }

    /// The broker's installation id (`sb.departments`), which a checkpoint is kept under.
    static func installation(of client: MajordomoClient, broker: BrokerOptions) throws -> String {
        guard let reply = try client.request(ServiceName.departments, body: [Frame("{}")], timeout: broker.timeoutDuration, retries: 0) else {
            printError("no reply from the broker at \(broker.endpoint) within \(broker.timeout)s; is switchboardd running\(broker.keyHint)?")
            throw Exit.unreachable
        }
        guard let list = try? JSONDecoder().decode(DepartmentList.self, from: Data(reply.body.first?.bytes ?? [])), let id = list.installation else {
            printError("the broker did not say which installation it is; is switchboard as new as switchboardd?")
            throw Exit.refused
        }
        return id
    }
}

/// `FILE.progress`: per broker (installation id), the line up to which the broker
/// acknowledged every line of the file.
struct ImportProgress: Codable {
    var lines: [String: Int] = [:]

    /// The file as written, or nothing (a missing file, or the bare line number earlier
    /// versions wrote without naming the broker: then no line counts as done).
    static func read(_ path: String) -> ImportProgress {
        guard let data = FileManager.default.contents(atPath: path) else { return ImportProgress() }
        return (try? JSONDecoder().decode(ImportProgress.self, from: data)) ?? ImportProgress()
    }

    func write(_ path: String) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        guard let data = try? encoder.encode(self) else { return }
        try? data.write(to: URL(fileURLWithPath: path), options: .atomic)
    }
}

extension BatchImport {
    static func isBlank(_ line: [UInt8]) -> Bool {
        !line.contains { $0 != UInt8(ascii: " ") && $0 != UInt8(ascii: "\r") && $0 != UInt8(ascii: "\t") }
    }
}

/// A one-line progress bar on standard error, only on a terminal.
final class Progress {
    let total: Int
    private let enabled = isatty(STDERR_FILENO) == 1
    private var lastDrawn = ContinuousClock.now - .seconds(1)

    init(total: Int) { self.total = total }

    func show(done: Int, since start: ContinuousClock.Instant) {
        guard enabled, total > 0, ContinuousClock.now - lastDrawn >= .milliseconds(100) || done == total else { return }
        lastDrawn = ContinuousClock.now
        let elapsed = ContinuousClock.now - start
        let seconds = elapsed.seconds
        let rate = seconds > 0 ? Double(done) / seconds : 0
        let left = rate > 0 ? Double(total - done) / rate : 0
        let width = 30, filled = width * done / total
        let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
        FileHandle.standardError.write(Data("\r[\(bar)] \(done)/\(total)  \(Int(rate))/s  \(Int(left.rounded()))s left ".utf8))
    }

    func finish() {
        if enabled { FileHandle.standardError.write(Data("\n".utf8)) }
    }
}
