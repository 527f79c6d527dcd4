import DaemonHarness
import Foundation
import Logging
import Majordomo
import Synchronization
import SwitchboardCore
import SwitchboardProtocol
import SwitchboardStore
import TestSupport
import ZeroMQ
@testable import SwitchboardBroker

/// An in-process broker engine on a free loopback port with fast heartbeats.
func startEngine(
    heartbeat: Duration = .milliseconds(100), liveness: Int = 3, logs: CapturedLogs = CapturedLogs(),
    dataDirectory: String = temporaryDirectory(), configuration: SwitchboardConfiguration = .demo(),
    endpoint: String = "tcp://127.0.0.1:*", store: SQLiteInquiryStore? = nil, journal: SQLiteInquiryJournal? = nil, stats: StatsBoard? = nil
) throws -> BrokerEngine {
    var options = BrokerEngine.Options()
    options.endpoint = endpoint
    options.eventsEndpoint = "tcp://127.0.0.1:*"
    options.timerInterval = .milliseconds(20)
    options.configuration = configuration
    options.broker.heartbeatInterval = heartbeat
    options.broker.heartbeatLiveness = liveness
    options.stats = stats
    let store = try store ?? SQLiteInquiryStore(directory: dataDirectory)
    let journal = try journal ?? SQLiteInquiryJournal(directory: (store.path as NSString).deletingLastPathComponent)
    let engine = try BrokerEngine(options: options, store: store, journal: journal, logger: logs.logger(label: "test.broker"))
    _ = try engine.start()
    return engine
}

/// A Majordomo worker running on its own thread, answering with `handler` until stopped.
final class WorkerThread: Sendable {
    private let stopRequested = Mutex(false)
    private let done = DispatchSemaphore(value: 0)
    let served = Mutex(0)
    let received = Mutex(0)
    let registered = Mutex(false)

    /// - Parameter standbys: more brokers to try after `endpoint` (9/SB-HA).
    init(
        endpoint: String, standbys: [String] = [], service: String, heartbeat: Duration = .milliseconds(100),
        handler: @escaping @Sendable (WorkerRequest) -> [Frame]?
    ) {
        let thread = Thread { [self] in
            defer { done.signal() }
            guard let context = try? Context(),
                  let worker = try? MajordomoWorker(context: context, endpoints: [endpoint] + standbys, service: service, heartbeatInterval: heartbeat)
            else { return }
            registered.withLock { $0 = true }
            while !stopRequested.withLock({ $0 }) {
                guard let request = try? worker.receive(timeout: .milliseconds(20)) else { continue }
                received.withLock { $0 += 1 }
                // A nil answer simulates a crash: the socket closes without a reply or
                // a DISCONNECT, so the broker can only learn of it by heartbeat silence.
                guard let body = handler(request) else { return }
                try? worker.reply(to: request, body: body)
                served.withLock { $0 += 1 }
            }
            worker.disconnect()
        }
        thread.start()
    }

    /// Asks the worker to leave after the request it is handling, without waiting.
    func requestStop() {
        stopRequested.withLock { $0 = true }
    }

    func stop() {
        requestStop()
        done.wait()
    }
}

/// A spawned `switchboardd` process, for end-to-end tests: the harness the benchmark
/// uses too. The alias lets every file of this target name it without importing
/// DaemonHarness itself.
typealias SpawnedDaemon = DaemonHarness.SpawnedDaemon

/// An envelope as a capture gateway would send it to `sb.ingest`.
func envelope(_ externalID: String, text: String = "My bin was not collected", platform: String = "x", account: String = "@RivertonCity") -> Frame {
    Frame(#"{"source":{"platform":"\#(platform)","account":"\#(account)","external_id":"\#(externalID)"},"author":{"handle":"@resident"},"text":"\#(text)","captured_at":"2026-11-22T09:30:00Z"}"#)
}

/// Parses a one-frame JSON body into a dictionary.
func jsonObject(_ frames: [Frame]?) -> [String: Any] {
    guard let frame = frames?.first else { return [:] }
    return (try? JSONSerialization.jsonObject(with: Data(frame.bytes))) as? [String: Any] ?? [:]
}

/// What a department worker learns from a delivered inquiry.
struct Delivery: Sendable {
    let inquiryID: String
    let count: Int
    let department: String
    let text: String

    /// Decoded through the wire model, as a Swift worker would.
    init?(_ request: WorkerRequest) {
        guard request.body.count == 1,
              let model = try? JSONDecoder().decode(InquiryDelivery.self, from: Data(request.body[0].bytes)),
              let text = model.inquiry.text else { return nil }
        (inquiryID, count, department, self.text) = (model.delivery.inquiryID, model.delivery.count, model.delivery.department, text)
    }
}

/// Deliveries seen by test workers, shared across threads.
final class DeliveryLog: Sendable {
    let entries = Mutex<[Delivery]>([])
    func append(_ delivery: Delivery) { entries.withLock { $0.append(delivery) } }
    var all: [Delivery] { entries.withLock { $0 } }
}

/// Runs one of the package's executables to completion, with `input` on standard input.
func runTool(_ name: String, _ arguments: [String], input: String = "", environment: [String: String] = [:]) throws -> (status: Int32, output: String, error: String) {
    try runProgram(SpawnedDaemon.executable(name), arguments, input: input, environment: environment)
}

/// Runs a program found on PATH (`promtool`, `sqlite3`), as `runTool` runs the package's own.
func runInstalled(_ name: String, _ arguments: [String], input: String = "") throws -> (status: Int32, output: String, error: String) {
    try runProgram(URL(fileURLWithPath: "/usr/bin/env"), [name] + arguments, input: input)
}

func runProgram(_ executable: URL, _ arguments: [String], input: String = "", environment: [String: String] = [:]) throws -> (status: Int32, output: String, error: String) {
    let process = Process()
    if !environment.isEmpty { process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 } }
    process.executableURL = executable
    process.arguments = arguments
    let stdin = Pipe(), stdout = Pipe(), stderr = Pipe()
    process.standardInput = stdin
    process.standardOutput = stdout
    process.standardError = stderr
    try process.run()
    stdin.fileHandleForWriting.write(Data(input.utf8))
    try stdin.fileHandleForWriting.close()
    let output = stdout.fileHandleForReading.readDataToEndOfFile()
    let error = stderr.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: output, as: UTF8.self), String(decoding: error, as: UTF8.self))
}
