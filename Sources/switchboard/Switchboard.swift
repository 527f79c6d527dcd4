import ArgumentParser
import Majordomo
import ZeroMQ

/// `switchboard`: the command-line tool for contact-centre agents and operators.
@main
struct Switchboard: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "switchboard",
        abstract: "Talk to a Switchboard broker.",
        version: "0.1.0",
        subcommands: [Request.self, ServiceStatus.self]
    )
}

/// Options every subcommand that talks to the broker shares.
struct BrokerOptions: ParsableArguments {
    @Option(help: "The broker's endpoint.")
    var endpoint = "tcp://127.0.0.1:5555"

    @Option(help: "Seconds to wait for a reply before giving up.")
    var timeout: Double = 5

    func validate() throws {
        guard timeout > 0 else { throw ValidationError("--timeout must be positive") }
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
            let client = try MajordomoClient(context: try Context(), endpoint: broker.endpoint)
            defer { client.close() }
            guard let reply = try client.request(service, body: body.map { Frame($0) }, timeout: broker.timeoutDuration, retries: 0) else {
                throw CLIError("no reply from '\(service)' within \(broker.timeout)s; check the broker is running at \(broker.endpoint) and run 'switchboard service-status \(service)'")
            }
            for frame in reply.body { print(frame) }
        }
    }

    /// Asks the broker, through 8/MMI, whether a service has a worker.
    struct ServiceStatus: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Say whether a service has a worker (mmi.service).")

        @OptionGroup var broker: BrokerOptions
        @Argument(help: "The service to look up.") var service: String

        func run() throws {
            let client = try MajordomoClient(context: try Context(), endpoint: broker.endpoint)
            defer { client.close() }
            guard let reply = try client.request(MMI.service, body: [Frame(service)], timeout: broker.timeoutDuration, retries: 0) else {
                throw CLIError("no reply from the broker at \(broker.endpoint) within \(broker.timeout)s; is switchboardd running?")
            }
            switch reply.body.first {
            case MMI.found: print("\(service): available (200)")
            case MMI.notFound: print("\(service): no worker (404)"); throw ExitCode(3)
            default: print("\(service): unexpected answer \(reply.body.map(\.description))"); throw ExitCode(4)
            }
        }
    }
}

/// A failure the user can act on: printed as `Error: …` and exit status 1.
struct CLIError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
