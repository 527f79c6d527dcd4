import ArgumentParser
import Foundation
import Majordomo
import SwitchboardCore
import SwitchboardProtocol
import ZeroMQ

extension Switchboard {
    /// The live event stream, one readable line per event.
    struct Watch: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Follow the broker's event stream, one line per event, until Ctrl-C.")

        @Option(help: "The event stream's endpoint. Default: $SWITCHBOARD_EVENTS, else tcp://127.0.0.1:5556.")
        var events = CLIConfig.value(environment: "SWITCHBOARD_EVENTS", file: "events") ?? "tcp://127.0.0.1:5556"
        @Option(help: "Only events about this department.") var department: String?
        @Option(help: "Only events whose topic starts with this, e.g. inquiry. or sla.") var topic = ""
        @Option(help: "Stop after this many events (for scripts).") var count: Int?
        @Flag(help: "Print each event's JSON.") var json = false

        func run() throws {
            let context = try Context()
            let socket = try Socket(context, .sub)
            defer { socket.close() }
            try socket.subscribe(Frame(topic))
            try socket.connect(events)
            var seen = 0
            while count.map({ seen < $0 }) ?? true {
                guard let frames = try socket.receive(.timeout(.seconds(1))), frames.count == 2 else { continue }
                guard let event = try? JSONDecoder().decode(StreamEvent.self, from: Data(frames[1].bytes)) else {
                    printError("skipped an event this version cannot read (topic \(frames[0].string ?? "?")); is switchboard as new as switchboardd?")
                    continue
                }
                if let department, event.department != department { continue }
                seen += 1
                if json { print(String(decoding: frames[1].bytes, as: UTF8.self)); continue }
                var line = "\(event.at)  \(frames[0].string ?? "")"
                // The case number first: what agents and citizens quote.
                if let number = event.caseNumber { line += "  \(number)" }
                if let id = event.inquiryID ?? event.channelID { line += "  \(id)" }
                if let department = event.department { line += "  \(department)" }
                if let actor = event.actor { line += "  \(actor.kind) \(actor.id)" }
                if let from = event.from, let to = event.to { line += "  \(from) → \(to)" }
                if let goal = event.goal { line += "  \(goal) \(event.scope ?? "")" }
                if let reason = event.reason { line += "  \(reason)" }
                if let due = event.reviewDue { line += "  review due \(due)" }
                print(line)
                fflush(nil)   // all C streams: a pipe reader sees each line as it comes
            }
        }
    }

    /// The registry of official accounts (6/SB-CHANNELS).
    struct Channels: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "The city's registry of official accounts.",
            subcommands: [List.self, Show.self, Register.self, Approve.self, Suspend.self, Reactivate.self, Archive.self, Verify.self, History.self],
            defaultSubcommand: List.self
        )

        static func print(_ channel: ChannelItem?) {
            guard let channel else { return }
            Swift.print("\(channel.id)  \(channel.platform)  \(channel.handle)  \(channel.status)  \(channel.department ?? "shared by the front office")")
        }

        struct List: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "List the registry's entries.")
            @OptionGroup var options: AgentOptions
            @Option(help: "Only this platform.") var platform: String?
            @Option(help: "Only this status: under_review, active, suspended or archived.") var status: String?

            func run() throws {
                let answer = try options.ask(ChannelService.list.rawValue, body: ChannelRequest(platform: platform, status: status), as: ChannelList.self)
                guard !options.json else { return }
                Swift.print(Table.render(["ID", "PLATFORM", "HANDLE", "STATUS", "DEPARTMENT", "REVIEW DUE"], answer.channels.map { channel in
                    [String(channel.id.prefix(8)), channel.platform, channel.handle, channel.status, channel.department ?? "(shared)", channel.reviewDue ?? "-"]
                }))
                // Accounts added to the YAML after the first start are not official until
                // registered: said here, not left to be found out by a refused reply.
                if let missing = answer.notRegistered, !missing.isEmpty {
                    Swift.print("\nin the configuration but not active in the registry (not official):")
                    for account in missing {
                        Swift.print(Table.highlight("  \(account.platform) \(account.handle) (\(account.department ?? "shared")): "
                                                    + account.registry.replacingOccurrences(of: "_", with: " "), when: true))
                        Swift.print("    \(account.fix)")
                    }
                }
            }
        }

        struct Show: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Show an entry and its history.")
            @OptionGroup var options: AgentOptions
            @Argument(help: "The entry id.") var id: String

            func run() throws {
                let answer = try options.ask(ChannelService.show.rawValue, body: ChannelRequest(id: id), as: ChannelAnswer.self)
                guard !options.json else { return }
                Channels.print(answer.channel)
                History.printHistory(answer.history ?? [])
            }
        }

        struct Register: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Register an account (under review until approved).")
            @OptionGroup var options: AgentOptions
            @Option(help: "x, facebook, instagram, mastodon, bluesky, youtube, linkedin, whatsapp, web or email.") var platform: String
            @Option(help: "The account's handle, e.g. @RivertonRoads.") var handle: String
            @Option(name: .customLong("for"), help: "The owning department; leave out for an account the front office shares.") var owner: String?
            @Option(help: "The account's display name.") var displayName: String?
            @Option(help: "Its profile URL.") var url: String?
            @Option(help: "Register although it resembles an entry: the reason, kept in the history.") var override: String?
            @Option(help: "A second active account for the department and platform: the reason.") var exception: String?

            func run() throws {
                let request = ChannelRequest(actor: options.agent, platform: platform, handle: handle, department: owner, displayName: displayName,
                                             url: url, override: override, exception: exception)
                let answer = try options.ask(ChannelService.register.rawValue, body: request, as: ChannelAnswer.self)
                if !options.json { Channels.print(answer.channel) }
            }
        }

        /// The workflow moves share one shape.
        static func move(_ service: String, _ options: AgentOptions, id: String, reason: String?) throws {
            let answer = try options.ask(service, body: ChannelRequest(actor: options.agent, id: id, reason: reason), as: ChannelAnswer.self)
            if !options.json { Channels.print(answer.channel) }
        }

        struct Approve: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Approve an entry under review: it becomes active.")
            @OptionGroup var options: AgentOptions
            @Argument(help: "The entry id.") var id: String
            func run() throws { try Channels.move(ChannelService.approve.rawValue, options, id: id, reason: nil) }
        }

        struct Suspend: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Suspend an entry: no reply leaves through it.")
            @OptionGroup var options: AgentOptions
            @Argument(help: "The entry id.") var id: String
            @Option(help: "Why (required).") var reason: String
            func run() throws { try Channels.move(ChannelService.suspend.rawValue, options, id: id, reason: reason) }
        }

        struct Reactivate: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Reactivate a suspended entry.")
            @OptionGroup var options: AgentOptions
            @Argument(help: "The entry id.") var id: String
            @Option(help: "Why.") var reason: String?
            func run() throws { try Channels.move(ChannelService.reactivate.rawValue, options, id: id, reason: reason) }
        }

        struct Archive: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Archive an entry (its handle may be registered again).")
            @OptionGroup var options: AgentOptions
            @Argument(help: "The entry id.") var id: String
            @Option(help: "Why (required).") var reason: String
            func run() throws { try Channels.move(ChannelService.archive.rawValue, options, id: id, reason: reason) }
        }

        struct Verify: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Say whether a handle or profile URL is an official account.")
            @OptionGroup var options: AgentOptions
            @Argument(help: "A profile URL, or a handle with --platform.") var handle: String
            @Option(help: "The platform, for a bare handle.") var platform: String?

            func run() throws {
                let answer = try options.ask(ChannelService.verify.rawValue, body: ChannelRequest(platform: platform, handle: handle), as: ChannelVerification.self)
                guard !options.json else { return }
                let handle = answer.channel?.handle ?? ""
                switch answer.verdict {
                case .official: Swift.print("official: \(handle) (\(answer.channel?.department ?? "shared by the front office"))")
                case .lookalikeOf: Swift.print(Table.highlight("NOT official: it looks like \(handle): \(answer.why ?? "")", when: true))
                case .unknown: Swift.print("unknown: not in the registry")
                case .underReview, .suspended, .archived: Swift.print("registered but \(answer.verdict.rawValue): \(handle)")
                }
                // As grep: a script may ask "is this official?" by the exit code alone.
                if answer.verdict != .official { throw Exit.notOfficial }
            }
        }

        struct History: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Every change to an entry: who, what, why, when.")
            @OptionGroup var options: AgentOptions
            @Argument(help: "The entry id.") var id: String

            func run() throws {
                let answer = try options.ask(ChannelService.history.rawValue, body: ChannelRequest(id: id), as: ChannelAnswer.self)
                if !options.json { History.printHistory(answer.history ?? []) }
            }

            static func printHistory(_ history: [ChannelChangeItem]) {
                for change in history {
                    Swift.print("  \(change.at)  \(change.action)  by \(change.actor)  → \(change.status)" + (change.reason.map { "  \"\($0)\"" } ?? ""))
                }
            }
        }
    }
}
