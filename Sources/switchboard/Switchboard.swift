import ArgumentParser
import Foundation
import Majordomo
import SwitchboardCore
import SwitchboardProtocol
import ZeroMQ

/// `switchboard`: the command-line tool for contact-centre agents and operators.
@main
struct Switchboard: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "switchboard",
        abstract: "Talk to a Switchboard broker: the contact centre's and the operator's tool.",
        discussion: """
            Exit codes: 0 success; 1 the broker refused (its code and message are printed); 2 usage \
            error; 3 the broker did not answer; 4 not found.
            Identity: --agent/SWITCHBOARD_AGENT and --department/SWITCHBOARD_DEPARTMENT in plain mode; \
            --key/SWITCHBOARD_KEY and --server-key/SWITCHBOARD_SERVER_KEY with CURVE. \
            The broker: --endpoint/SWITCHBOARD_BROKER. Each may also be set in \
            ~/.config/switchboard/config.yaml (endpoint, events, agent, department, key, server_key); \
            flags win over the environment, which wins over the file.
            """,
        version: SwitchboardVersion.current,
        subcommands: [
            Queue.self, Claim.self, Show.self, Reply.self, Handoff.self, Return.self, Ask.self, Close.self, Merge.self, Reopen.self, Citizen.self,
            Release.self, Renew.self, Parked.self, Requeue.self, Report.self, Admin.self,
            Watch.self, Stats.self, Top.self, Channels.self, Ingest.self, Route.self, Request.self, ServiceStatus.self, Keys.self,
        ]
    )

    /// As ArgumentParser's, but a usage error exits with 2, the code documented above
    /// (ArgumentParser's own is 64).
    static func main() {
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            if exitCode(for: error) == .validationFailure {
                FileHandle.standardError.write(Data((fullMessage(for: error) + "\n").utf8))
                Foundation.exit(2)
            }
            exit(withError: error)
        }
    }
}

/// Options every subcommand that talks to the broker shares.
struct BrokerOptions: ParsableArguments {
    @Option(help: "The broker's endpoint, e.g. tcp://127.0.0.1:5555; with an active broker and standbys, all of them, separated by commas (the one that serves answers). Default: $SWITCHBOARD_BROKER.")
    var endpoint = CLIConfig.value(environment: "SWITCHBOARD_BROKER", file: "endpoint") ?? "tcp://127.0.0.1:5555"

    @Option(help: "Seconds to wait for a reply before giving up.")
    var timeout: Double = 5

    @Option(name: .customLong("key"), help: "Your key's secret file (from 'switchboard keys generate'), for a broker that requires CURVE. Default: $SWITCHBOARD_KEY.")
    var keyOption: String?

    @Option(name: .customLong("server-key"), help: "The broker's public key file. Default: $SWITCHBOARD_SERVER_KEY.")
    var serverKeyOption: String?

    /// The option, else the environment or the config file.
    var key: String? { keyOption ?? CLIConfig.value(environment: "SWITCHBOARD_KEY", file: "key") }
    var serverKey: String? { serverKeyOption ?? CLIConfig.value(environment: "SWITCHBOARD_SERVER_KEY", file: "server_key") }

    func validate() throws {
        guard timeout > 0 else { throw ValidationError("--timeout must be positive") }
        guard !endpoints.isEmpty else { throw ValidationError("--endpoint is empty; write tcp://127.0.0.1:5555") }
        for endpoint in endpoints where !endpoint.contains("://") {
            throw ValidationError("--endpoint \(endpoint) names no transport; write tcp://\(endpoint)")
        }
        guard (key == nil) == (serverKey == nil) else {
            throw ValidationError("--key and --server-key go together: your secret key file and the broker's public key file")
        }
    }

    /// Without keys, a broker that requires CURVE never answers: say so.
    var keyHint: String {
        key == nil ? " (and if it requires CURVE, pass --key and --server-key)" : ""
    }

    /// Every broker named, in the order they are tried.
    var endpoints: [String] { BrokerEndpoints.parse(endpoint) }

    /// A client for the broker, with CURVE when keys are given. Given several brokers, it
    /// goes on to the next when one does not answer or says it is a standby.
    func client() throws -> MajordomoClient {
        guard let key, let serverKey else {
            return try MajordomoClient(context: try Context(), endpoints: endpoints, redirect: Self.notActive)
        }
        let mine = try Certificate.load(path: key)
        guard let secret = mine.secretKey else { throw CLIError("\(key) holds no secret key; pass the NAME.key_secret file") }
        let server = try Certificate.load(path: serverKey)
        let pair = CurveKeyPair(publicKey: mine.publicKey, secretKey: secret)
        return try MajordomoClient(context: try Context(), endpoints: endpoints, redirect: Self.notActive) { socket throws(ZMQError) in
            try socket.setCurveClient(serverKey: server.publicKey, keyPair: pair)
        }
    }

    /// A standby's answer: the request was not carried out.
    static func notActive(_ reply: ClientMessage) -> Bool {
        ErrorAnswer.isNotActive(reply.body.first?.bytes ?? [])
    }

    var timeoutDuration: Duration { .milliseconds(Int64(timeout * 1_000)) }
}

extension Switchboard {
    /// Sends one MDP request and prints the reply's frames, one per line.
    struct Request: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Send a request to a service and print the reply.")

        @OptionGroup var broker: BrokerOptions
        @Argument(help: "The service (department) to ask.") var service: String
        @Argument(help: "The request body, one frame per argument.") var body: [String] = []

        func run() throws {
            let client = try broker.client()
            defer { client.close() }
            guard let reply = try client.request(service, body: body.map { Frame($0) }, timeout: broker.timeoutDuration, retries: 0) else {
                printError("no reply from '\(service)' within \(broker.timeout)s; check the broker is running at \(broker.endpoint) and run 'switchboard service-status \(service)'")
                throw Exit.unreachable
            }
            for frame in reply.body { print(frame) }
            // An error answer is a failure, whatever the service.
            if let text = reply.body.first?.string, text.hasPrefix("{"), text.contains(#""status":"error""#) || text.contains(#""status":"rejected""#) {
                throw Exit.refused
            }
        }
    }

    /// Asks the broker, through 8/MMI, whether a service has a worker.
    struct ServiceStatus: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Say whether a service has a worker (mmi.service).")

        @OptionGroup var broker: BrokerOptions
        @Argument(help: "The service to look up.") var service: String

        func run() throws {
            let client = try broker.client()
            defer { client.close() }
            guard let reply = try client.request(MMI.service, body: [Frame(service)], timeout: broker.timeoutDuration, retries: 0) else {
                printError("no reply from the broker at \(broker.endpoint) within \(broker.timeout)s; is switchboardd running\(broker.keyHint)?")
                throw Exit.unreachable
            }
            switch reply.body.first {
            case _ where service.hasPrefix(ServiceName.switchboardPrefix):
                print("\(service): served by the broker itself")
            case MMI.found: print("\(service): available (200)")
            case MMI.notFound:
                let client = try broker.client()
                defer { client.close() }
                let known = try client.request(ServiceName.departments, body: [Frame("{}")], timeout: broker.timeoutDuration, retries: 0)
                    .flatMap { try? JSONDecoder().decode(DepartmentList.self, from: Data($0.body.first?.bytes ?? [])) }?.departments
                if let known, !known.contains(where: { $0.id == service }) {
                    print("\(service): not a department of this broker (departments: \(known.map(\.id).joined(separator: ", ")))")
                } else {
                    print("\(service): no worker (404)")
                }
                throw Exit.notFound
            default: print("\(service): unexpected answer \(reply.body.map(\.description))"); throw Exit.refused
            }
        }
    }
}

extension Switchboard {
    /// Key management for CURVE.
    struct Keys: ParsableCommand {
        /// An authorised-keys file as it stands (empty when it does not exist yet), parsed.
        static func keysFile(_ path: String) throws -> (text: String, keys: AuthorizedKeys) {
            guard FileManager.default.fileExists(atPath: path) else { return ("", AuthorizedKeys()) }
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { throw CLIError("cannot read \(path)") }
            do {
                return (text, try AuthorizedKeys.parse(yaml: text))
            } catch {
                throw CLIError("\(path) is not a valid authorised-keys file (\(error)); fix it first, nothing was written")
            }
        }

        static let configuration = CommandConfiguration(abstract: "Create CURVE keys for the broker and its peers.",
                                                        subcommands: [Generate.self])

        struct Generate: ParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Write a key pair as NAME.key (public) and NAME.key_secret (mode 0600), in ZeroMQ's certificate format.",
                discussion: "Add the printed entry to the broker's authorised-keys file, or let --authorized-keys FILE append it (the file is "
                    + "created with its keys: header if missing), then reload the broker. --server makes the broker's own key pair (no role)."
            )

            @Option(help: "Who holds the key: a person or a process.") var name: String
            @Option(help: "gateway, worker, agent, supervisor, registry-admin or ops.") var role: String?
            @Option(help: "The department, for worker, agent and supervisor.") var department: String?
            @Flag(help: "The broker's own key pair.") var server = false
            @Option(help: "Where to write the files.") var out = "."
            @Option(name: .customLong("authorized-keys"), help: "Append the entry to this authorised-keys file (created if missing).")
            var authorizedKeys: String?

            func validate() throws {
                if server {
                    guard role == nil, department == nil else { throw ValidationError("--server takes no --role or --department") }
                } else {
                    guard let role else { throw ValidationError("--role is required (gateway, worker, agent, supervisor, registry-admin or ops), or --server") }
                    _ = try Role(name: role, department: department)
                }
                guard !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || "-_.".contains($0) }) else {
                    throw ValidationError("--name may hold letters, digits, '-', '_' and '.'")
                }
            }

            func run() throws {
                // The file is checked before any key is made: a name it holds already, or a
                // file it cannot read, leaves nothing behind.
                let existing = try authorizedKeys.map(Keys.keysFile)
                if let existing, existing.keys.byName[name] != nil {
                    throw CLIError("\(authorizedKeys ?? "") already has a key named \(name); remove that entry first, or choose another --name")
                }
                let pair = try CurveKeyPair.generate()
                var metadata: [(key: String, value: String)] = [("name", name)]
                if let role { metadata.append(("role", role)) }
                if let department { metadata.append(("department", department)) }
                let certificate = Certificate(publicKey: pair.publicKey, secretKey: pair.secretKey, metadata: metadata)
                let files = try certificate.save(directory: out, name: name)
                print("wrote \(files.publicFile) and \(files.secretFile) (keep the secret file private)")
                if let role {
                    var entry = "  - name: \(name)\n    role: \(role)\n"
                    if let department { entry += "    department: \(department)\n" }
                    entry += "    public_key: \"\(pair.publicKey)\"\n"
                    if let authorizedKeys, let existing {
                        let text = existing.text.isEmpty ? "keys:\n" + entry : existing.text + (existing.text.hasSuffix("\n") ? "" : "\n") + entry
                        do {
                            _ = try AuthorizedKeys.parse(yaml: text)
                        } catch {
                            throw CLIError("the entry would not fit \(authorizedKeys) (\(error)); add it by hand:\n\(entry)")
                        }
                        try text.write(toFile: authorizedKeys, atomically: true, encoding: .utf8)
                        print("added \(name) (\(role)) to \(authorizedKeys); reload the broker to let it in: systemctl reload switchboardd (or kill -HUP)")
                    } else {
                        print("add to the broker's authorised-keys file (or give --authorized-keys FILE to append it):")
                        print(entry, terminator: "")
                    }
                } else {
                    print("start the broker with --server-key \(files.secretFile); give peers \(files.publicFile)")
                }
            }
        }
    }
}

/// A failure the user can act on: printed as `Error: …` and exit status 1.
struct CLIError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Reads a file, or standard input for `-`.
func readInput(_ path: String) throws -> Data {
    if path == "-" { return FileHandle.standardInput.readDataToEndOfFile() }
    guard let data = FileManager.default.contents(atPath: path) else {
        throw CLIError("cannot read \(path); give the path of a JSON envelope file, or - for standard input")
    }
    return data
}

extension Switchboard {
    /// Submits an inquiry envelope to `sb.ingest`, as a capture gateway does.
    struct Ingest: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Submit inquiry envelopes (JSON) to the broker's sb.ingest service.",
            discussion: """
                A .jsonl file (one envelope a line) is imported as a batch: bad lines are reported with their \
                numbers and the rest still go in; progress shows on a terminal; FILE.progress records how far \
                every line was acknowledged by the broker, so a re-run (after fixing bad lines, or appending \
                new ones) goes on from the first line not yet acknowledged (--restart ignores it); anything \
                sent twice is answered "duplicate", never routed twice.
                """
        )

        @OptionGroup var broker: BrokerOptions
        @Argument(help: "The envelope file (.json, or .jsonl for a batch), or - for standard input.") var envelope: String
        @Flag(help: "For a batch: start from the first line, whatever FILE.progress says.") var restart = false

        func run() throws {
            if envelope.hasSuffix(".jsonl") {
                try BatchImport(path: envelope, broker: broker, restart: restart).run()
                return
            }
            let body = try readInput(envelope)
            // Refused here, at once, if it is not even an envelope: no broker is needed for that.
            do {
                _ = try EnvelopeDecoder().decode(Array(body))
            } catch {
                printError("the envelope would be rejected: \(error)")
                throw Exit.usage
            }
            let client = try broker.client()
            defer { client.close() }
            guard let reply = try client.request(ServiceName.ingest, body: [Frame(bytes: body)], timeout: broker.timeoutDuration, retries: 0) else {
                printError("no reply from the broker at \(broker.endpoint) within \(broker.timeout)s; is switchboardd running\(broker.keyHint)? The inquiry may not have been stored: submit it again (duplicates are detected).")
                throw Exit.unreachable
            }
            let text = reply.body.first?.string ?? ""
            print(text)
            let answer = try? JSONDecoder().decode(IngestAnswer.self, from: Data(text.utf8))
            if answer?.status != .accepted && answer?.status != .duplicate { throw Exit.refused }
        }
    }

    /// Shows where the routing rules would send an envelope, and why. Stores nothing.
    struct Route: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show which department an envelope would be routed to, without storing it.",
            discussion: "Asks the running broker, so the answer uses its own rules and registry; --config explains offline with a configuration file."
        )

        @Flag(help: "Print every rule tried and why it matched or not.") var explain = false
        @Option(help: "Explain offline with this configuration file instead of asking the broker.") var config: String?
        @OptionGroup var broker: BrokerOptions
        @Argument(help: "The envelope file, or - for standard input.") var envelope: String

        func run() throws {
            let body = try readInput(envelope)
            let data: Data
            if let config {
                data = try Self.offline(body, config: config)
            } else {
                let client = try broker.client()
                defer { client.close() }
                guard let reply = try client.request(ServiceName.routeExplain, body: [Frame(bytes: body)], timeout: broker.timeoutDuration, retries: 0) else {
                    printError("no reply from the broker at \(broker.endpoint) within \(broker.timeout)s; is switchboardd running\(broker.keyHint)? (--config FILE explains offline)")
                    throw Exit.unreachable
                }
                data = Data(reply.body.first?.bytes ?? [])
            }
            guard let answer = try? JSONDecoder().decode(RouteExplanation.self, from: data) else {
                if let refusal = try? JSONDecoder().decode(ErrorAnswer.self, from: data) {
                    printError("the envelope would be rejected: \(refusal.error.code.rawValue): \(refusal.error.message)")
                } else {
                    printError("the broker's answer to \(ServiceName.routeExplain) is not what this version reads; is switchboard as new as switchboardd?")
                }
                throw Exit.refused
            }
            print("department: \(answer.department)" + (answer.departmentName.map { " (\($0))" } ?? ""))
            print("priority:   \(answer.priority)")
            if !answer.tags.isEmpty { print("tags:       \(answer.tags.joined(separator: ", "))") }
            print("rule:       \(answer.rule ?? "none (front office triage)")")
            if let flag = answer.unofficialChannel {
                print("channel:    NOT official (\(flag.reason))" + (flag.imitatesHandle.map { ", imitates \($0)" } ?? "")
                    + ": goes to front-office channel review")
            }
            if explain {
                print("why:")
                for line in answer.explanation { print("  - \(line)") }
            }
        }

        /// The broker's answer, computed here from a configuration file.
        static func offline(_ body: Data, config: String) throws -> Data {
            let configuration: SwitchboardConfiguration
            do {
                configuration = try SwitchboardConfiguration.load(path: config)
            } catch {
                printError("invalid configuration \(config): \(error)")
                throw Exit.usage
            }
            do {
                let decision = configuration.router.explain(try configuration.envelopeDecoder.decode(Array(body)))
                return try JSONEncoder().encode(RouteExplanation(decision: decision, configuration: configuration))
            } catch let error as IngestError {
                return try JSONEncoder().encode(ErrorAnswer(ErrorDetail(code: error.code, message: error.message, field: error.field)))
            }
        }
    }

    /// Puts a parked (dead-lettered) inquiry back in its department's queue.
    struct Requeue: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Requeue a parked inquiry (sb.admin.requeue).")

        @OptionGroup var options: AgentOptions
        @Argument(help: "The case number (R-4821), the id or a unique prefix, as 'switchboard parked' shows.",
                  completion: BrokerCompletion.inquiries) var id: String

        func run() throws {
            let request = RequeueRequest(id: try options.resolve(id), actor: options.agent)
            let answer = try options.ask(AdminService.requeue.rawValue, body: request, as: RequeueAnswer.self)
            guard !options.json else { return }
            print("requeued \(answer.id): queued at \(answer.department) with a fresh delivery count")
        }
    }
}
