import ArgumentParser
import Foundation
import Majordomo
import SwitchboardCore
import SwitchboardProtocol
import ZeroMQ

/// Shell completion that asks the broker, with the identity and broker from the
/// environment or the config file; it completes nothing when the broker does not answer.
enum BrokerCompletion {
    /// The broker's answer through its model; nil when it does not answer, or refuses.
    static func ask<Answer: Decodable>(_ service: String, _ request: InquiryRequest, as model: Answer.Type) -> Answer? {
        try? JSONDecoder().decode(model, from: answer(service, request))
    }

    /// The broker's answer, or nothing when it does not answer.
    private static func answer(_ service: String, _ request: InquiryRequest) -> Data {
        let endpoint = CLIConfig.value(environment: "SWITCHBOARD_BROKER", file: "endpoint") ?? "tcp://127.0.0.1:5555"
        var request = request
        if request.agent == nil { request.agent = CLIConfig.value(environment: "SWITCHBOARD_AGENT", file: "agent") }
        guard let context = try? Context(),
              let client = try? MajordomoClient(context: context, endpoints: BrokerEndpoints.parse(endpoint), redirect: BrokerOptions.notActive),
              let body = try? JSONEncoder().encode(request) else { return Data() }
        defer { client.close() }
        guard let reply = try? client.request(service, body: [Frame(bytes: body)], timeout: .milliseconds(500), retries: 0) else { return Data() }
        return Data(reply.body.first?.bytes ?? [])
    }

    /// Case numbers of the inquiries in the user's department's queue: unique, short, and
    /// taken back by every command (a short id prefix may be shared broker-wide).
    static let inquiries = CompletionKind.custom { _, _, prefix in
        let request = InquiryRequest(department: CLIConfig.value(environment: "SWITCHBOARD_DEPARTMENT", file: "department"), limit: 100)
        let items = ask(AgentService.list.rawValue, request, as: InquiryList.self)?.inquiries ?? []
        return items.compactMap(\.caseNumber).filter { $0.lowercased().hasPrefix(prefix.lowercased()) }
    }

    static let departments = CompletionKind.custom { _, _, prefix in
        (ask(ServiceName.departments, InquiryRequest(), as: DepartmentList.self)?.departments ?? []).map(\.id).filter { $0.hasPrefix(prefix) }
    }
}

/// Exit codes, the same for every command (see `switchboard --help`).
enum Exit {
    /// The broker refused: its error code and message are printed.
    static let refused = ExitCode(1)
    static let usage = ExitCode(2)
    /// No answer from the broker within the timeout.
    static let unreachable = ExitCode(3)
    static let notFound = ExitCode(4)
    /// `channels verify`: the handle is not an active official account.
    static let notOfficial = ExitCode(1)
}

/// Who acts, where, and how to print: shared by every agent command.
struct AgentOptions: ParsableArguments {
    @OptionGroup var broker: BrokerOptions

    @Option(name: .customLong("agent"), help: "Your agent name, in plain mode (with CURVE it comes from your key). Default: $SWITCHBOARD_AGENT.")
    var agentOption: String?

    @Option(name: .customLong("department"), help: "The department you act for. Default: $SWITCHBOARD_DEPARTMENT.")
    var departmentOption: String?

    /// The option, else the environment or the config file.
    var agent: String? { agentOption ?? CLIConfig.value(environment: "SWITCHBOARD_AGENT", file: "agent") }
    /// An empty `--department` means none, whatever the environment says.
    var department: String? {
        guard let given = departmentOption else { return CLIConfig.value(environment: "SWITCHBOARD_DEPARTMENT", file: "department") }
        return given.isEmpty ? nil : given
    }

    @Flag(help: "Print the broker's JSON answer as it is (stable field names, as on the wire).")
    var json = false

    /// Sends one agent request, as this agent for this department unless it names its
    /// own, and returns the answer through its model, or exits with the documented code
    /// and a message that says what to do next.
    func ask<Answer: Decodable>(_ service: AgentService, _ request: InquiryRequest, as model: Answer.Type) throws -> Answer {
        var request = request
        if request.agent == nil { request.agent = agent }
        if request.department == nil { request.department = department }
        return try ask(service.rawValue, body: request, as: model)
    }

    /// The same for any other service (the registry, data protection), sent as it is.
    func ask<Answer: Decodable>(_ service: String, body request: some Encodable, as model: Answer.Type) throws -> Answer {
        let data = try answer(service, request)
        do {
            return try JSONDecoder().decode(model, from: data)
        } catch {
            printError("the broker's answer to \(service) is not what this version reads (\(error)); is switchboard as new as switchboardd?")
            throw Exit.refused
        }
    }

    /// The answer as a JSON object, for an answer without a model (an export page, whose
    /// records are written out as the broker sent them).
    func ask(_ service: String, body request: some Encodable) throws -> [String: Any] {
        let data = try answer(service, request)
        return (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:]
    }

    /// The bytes of a successful answer; a refusal is printed and exits.
    private func answer(_ service: String, _ request: some Encodable) throws -> Data {
        let client = try broker.client()
        defer { client.close() }
        let body = Frame(bytes: try JSONEncoder().encode(request))
        guard let reply = try client.request(service, body: [body], timeout: broker.timeoutDuration, retries: 0) else {
            printError("no answer from the broker at \(broker.endpoint) within \(broker.timeout)s; is switchboardd running\(broker.keyHint)?")
            throw Exit.unreachable
        }
        let data = Data(reply.body.first?.bytes ?? [])
        guard let answer = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            printError("the broker's answer to \(service) is not JSON")
            throw Exit.refused
        }
        if json { print(String(decoding: data, as: UTF8.self)) }
        guard answer["status"] as? String == "error" else { return data }
        // A refusal is decoded through the wire model: its code is one of the registry's.
        guard let refusal = try? JSONDecoder().decode(ErrorAnswer.self, from: data) else {
            printError("the broker refused \(service) with an answer this version cannot read; is switchboard as new as switchboardd?")
            throw Exit.refused
        }
        let error = refusal.error
        if !json {
            var message = "\(error.code.rawValue): \(error.message)"
            if let allowed = error.allowed {
                message += allowed.isEmpty ? "\n  nothing you can do with it now" : "\n  you can: \(Self.commands(allowed).joined(separator: ", "))"
            }
            if error.code == .notActive {
                message += "\n  give switchboard every broker, separated by commas (--endpoint or SWITCHBOARD_BROKER): it asks the one that serves"
            }
            if error.code == .missingField, error.message.hasPrefix("agent") {
                message += "\n  give --agent NAME (or set SWITCHBOARD_AGENT)"
            }
            if error.code == .missingField, error.message.hasPrefix("department") {
                message += "\n  give --department D (or set SWITCHBOARD_DEPARTMENT)"
            }
            printError(message)
        }
        throw error.code == .notFound ? Exit.notFound : Exit.refused
    }

    /// The full id for what the user typed: a whole id, a case number (`R-4821`), or a
    /// unique prefix of an id. The broker reads case numbers (their prefix is its
    /// configuration's) and prefixes, across everything it holds.
    func resolve(_ typed: String) throws -> String {
        if InquiryID(typed) != nil { return typed.lowercased() }
        // An id prefix (hex, 4 characters or more) or a case number (digits after a short
        // prefix such as R- or #); anything else is a typing mistake, caught here.
        let digits = typed.reversed().prefix { $0.isASCII && $0.isNumber }.count
        let caseLike = digits > 0 && typed.count - digits <= 8 && !typed.contains(" ")
        let prefixLike = typed.count >= 4 && typed.allSatisfy { $0.isHexDigit || $0 == "-" }
        guard caseLike || prefixLike else {
            printError("\(typed) is not an inquiry id: give its case number (R-4821), the id, or the id's first 4 or more characters, "
                       + "as shown by 'switchboard queue'")
            throw Exit.usage
        }
        let quiet = AgentOptions.quiet(self)
        let ids = try quiet.ask(.resolve, InquiryRequest(prefix: typed.lowercased()), as: InquiryIDs.self).ids
        guard ids.count == 1, let id = ids.first else {
            printError("\(typed) is ambiguous; it starts:\n" + ids.map { "  \($0)" }.joined(separator: "\n") + "\ngive more characters")
            throw Exit.usage
        }
        return id
    }

    /// The same options, without --json (for the look-ups a command makes on the way).
    static func quiet(_ options: AgentOptions) -> AgentOptions {
        var copy = options
        copy.json = false
        return copy
    }

    /// Sends an agent move and prints what it left: the inquiry's new state, owner and
    /// what comes next.
    @discardableResult
    /// Makes a move, with an id of its own: when the client sends it again (after a
    /// timeout, or to the broker that took over), the broker makes it only once.
    func move(_ service: AgentService, _ request: InquiryRequest, _ verb: String) throws -> InquiryMove {
        var request = request
        if request.requestID == nil && request.replyID == nil { request.requestID = UUID().uuidString.lowercased() }
        let answer = try ask(service, request, as: InquiryMove.self)
        guard !json else { return answer }
        var line = "\(verb) \(answer.caseNumber.map { "\($0) (\(answer.id))" } ?? answer.id): \(answer.state) at \(answer.department)"
        if let owner = answer.owner { line += ", owned by \(owner)" }
        print(line)
        if let message = answer.message {
            // Said at once: a message no gateway can post must not look sent.
            print(message.status == "held" ? Table.highlight("  \(message.note ?? "held")", when: true)
                                           : "  queued for the \(message.platform) gateway")
        }
        if !answer.allowed.isEmpty { print("  next: \(Self.commands(answer.allowed).joined(separator: ", "))") }
        return answer
    }

    /// The broker names moves as the lifecycle does; the CLI's command for asking the
    /// citizen is `ask`.
    static func commands(_ moves: [String]) -> [String] {
        moves.map { $0 == "request_information" ? "ask" : $0 }
    }
}

func printError(_ message: String) {
    FileHandle.standardError.write(Data("Error: \(message)\n".utf8))
}

/// Text tables for people: padded columns, colour only on a terminal without NO_COLOR.
enum Table {
    static let colour = isatty(STDOUT_FILENO) == 1 && ProcessInfo.processInfo.environment["NO_COLOR"] == nil

    /// Ids as a listing shows them: each cut to the shortest prefix (8 characters at
    /// least) that no other listed id shares. An id's first characters are its arrival
    /// time, so inquiries that came in the same minute need more of them; whatever the
    /// listing shows, `claim` and the other commands take.
    static func shortIDs(_ ids: [String]) -> [String] {
        // In sorted order an id shares its longest prefix with a neighbour: one more
        // character than that sets it apart from every other listed id.
        let sorted = Set(ids).sorted()
        func shared(_ a: String, _ b: String) -> Int { zip(a, b).prefix { $0 == $1 }.count }
        var lengths: [String: Int] = [:]
        for (index, id) in sorted.enumerated() {
            let before = index > 0 ? shared(id, sorted[index - 1]) : 0
            let after = index + 1 < sorted.count ? shared(id, sorted[index + 1]) : 0
            var length = min(id.count, max(8, max(before, after) + 1))
            // Never end a prefix on a dash.
            if length < id.count, id[id.index(id.startIndex, offsetBy: length - 1)] == "-" { length += 1 }
            lengths[id] = length
        }
        return ids.map { String($0.prefix(lengths[$0] ?? $0.count)) }
    }

    static func render(_ header: [String], _ rows: [[String]]) -> String {
        var widths = header.map(\.count)
        for row in rows { for (index, cell) in row.enumerated() where index < widths.count { widths[index] = max(widths[index], visibleWidth(cell)) } }
        // Padded by what shows: a highlighted cell's colour codes take no columns.
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { index, cell in
                index == cells.count - 1 ? cell : cell + String(repeating: " ", count: max(0, widths[index] - visibleWidth(cell)))
            }.joined(separator: "  ")
        }
        return ([line(header)] + rows.map(line)).joined(separator: "\n")
    }

    /// Characters a terminal shows: ANSI colour sequences (ESC [ … m) take no columns.
    static func visibleWidth(_ text: String) -> Int {
        var width = 0, escaped = false
        for character in text {
            if escaped {
                if character == "m" { escaped = false }
            } else if character == "\u{1B}" {
                escaped = true
            } else {
                width += 1
            }
        }
        return width
    }

    static func age(since timestamp: String?, now: Date = Date()) -> String {
        guard let timestamp, let date = EnvelopeDecoder.timestamp(timestamp) else { return "-" }
        let seconds = Int(now.timeIntervalSince(date))
        switch seconds {
        case ..<60: return "\(max(0, seconds))s"
        case ..<3_600: return "\(seconds / 60)m"
        case ..<86_400: return "\(seconds / 3_600)h"
        default: return "\(seconds / 86_400)d"
        }
    }

    /// Seconds left as 3d, 5h, 12m or 40s; negative ones as "-2h" (breached).
    static func duration(_ seconds: Double) -> String {
        let sign = seconds < 0 ? "-" : ""
        let value = Int(abs(seconds))
        switch value {
        case ..<60: return "\(sign)\(value)s"
        case ..<3_600: return "\(sign)\(value / 60)m"
        case ..<86_400: return "\(sign)\(value / 3_600)h"
        default: return "\(sign)\(value / 86_400)d"
        }
    }

    static func highlight(_ text: String, when condition: Bool) -> String {
        colour && condition ? "\u{1B}[31m\(text)\u{1B}[0m" : text
    }
}

extension Switchboard {
    /// The queue an agent works from.
    struct Queue: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List a department's inquiries, in the order the queue is served.")

        @OptionGroup var options: AgentOptions
        @Option(help: "queued, in_progress, awaiting_citizen, answered, closed, parked, or all. Default: every state but closed.") var state: String?
        @Option(help: "urgent, high, normal or low.") var priority: String?
        @Flag(help: "Only the inquiries you hold.") var mine = false
        @Option(help: "How many to show (1 to 1000).") var limit = 50

        func run() throws {
            var request = InquiryRequest(state: state, priority: priority, limit: limit)
            if mine {
                guard let agent = options.agent else { printError("--mine needs --agent NAME (or SWITCHBOARD_AGENT)"); throw Exit.usage }
                request.owner = agent
            }
            let answer = try options.ask(.list, request, as: InquiryList.self)
            guard !options.json else { return }
            let items = answer.inquiries
            // Without a department, the listing spans every one: say which each is at.
            let everyDepartment = options.department == nil
            let rows = items.map { item -> [String] in
                let sla = item.slaSecondsLeft.map(Table.duration) ?? "-"
                var marks: [String] = []
                if let unsent = item.unsent { marks.append(Table.highlight("\(unsent) unsent", when: true)) }
                if let flag = item.unofficialChannel { marks.append(Table.highlight("NOT official: \(flag)", when: true)) }
                var row = [item.caseNumber ?? item.id]
                if everyDepartment { row.append(item.department) }
                row += [Table.age(since: item.receivedAt), Table.highlight(item.priority, when: item.priority == "urgent"),
                        item.platform, item.state, item.owner ?? "-",
                        Table.highlight(sla, when: item.slaState == "warning" || item.slaState == "breached"),
                        (marks.isEmpty ? "" : "[\(marks.joined(separator: ", "))] ") + (item.preview ?? "")]
                return row
            }
            let header = ["CASE"] + (everyDepartment ? ["DEPARTMENT"] : []) + ["AGE", "PRIORITY", "PLATFORM", "STATE", "OWNER", "SLA LEFT", "TEXT"]
            print(Table.render(header, rows))
            if answer.total > items.count { print("(\(items.count) of \(answer.total); --limit for more)") }
            if !items.isEmpty { print("(a case number or the full id works in every command: switchboard show \(items[0].caseNumber ?? items[0].id))") }
        }
    }

    /// Parked (dead-lettered) inquiries.
    struct Parked: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Parked inquiries: list them; 'switchboard requeue ID' puts one back.",
                                                        subcommands: [List.self], defaultSubcommand: List.self)

        struct List: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "List parked inquiries.")
            @OptionGroup var options: AgentOptions

            func run() throws {
                let answer = try options.ask(.list, InquiryRequest(state: "parked", limit: 1_000), as: InquiryList.self)
                guard !options.json else { return }
                let items = answer.inquiries
                print(Table.render(["CASE", "ID", "DEPARTMENT", "AGE", "PRIORITY", "PLATFORM"], items.map { item in
                    [item.caseNumber ?? "-", item.id, item.department, Table.age(since: item.receivedAt), item.priority, item.platform]
                }))
                if items.isEmpty { print("nothing is parked") }
                if answer.total > items.count { print("(\(items.count) of \(answer.total) parked)") }
            }
        }
    }

    struct Claim: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Take an inquiry (by id, or the next in your department's queue).")
        @OptionGroup var options: AgentOptions
        @Argument(help: "The inquiry id or a unique prefix; leave out with --next.", completion: BrokerCompletion.inquiries) var id: String?
        @Flag(help: "Claim the next inquiry in the queue.") var next = false

        func validate() throws {
            guard (id == nil) == next else { throw ValidationError("give an inquiry id, or --next") }
        }

        func run() throws {
            let answer = try options.move(.claim, InquiryRequest(id: try id.map(options.resolve)), "claimed")
            if !options.json, let inquiry = answer.inquiry {
                print("  \((inquiry.text ?? "(text removed by retention)").prefix(200))")
                if let until = answer.leaseExpiresAt { print("  yours until \(until); 'switchboard renew' keeps it longer") }
            }
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show an inquiry: text, routing, channel, SLA clocks and its whole timeline.")
        @OptionGroup var options: AgentOptions
        @Argument(help: "The inquiry id or a unique prefix.", completion: BrokerCompletion.inquiries) var id: String

        func run() throws {
            let answer = try options.ask(.show, InquiryRequest(id: try options.resolve(id)), as: InquiryDetail.self)
            guard !options.json else { return }
            let source = answer.inquiry?.source
            print("case       \(answer.caseNumber ?? "-")  (inquiry \(answer.id))")
            print("state      \(answer.state) at \(answer.department), \(answer.priority) priority" + (answer.owner.map { ", owned by \($0)" } ?? ""))
            if let resolution = answer.resolution {
                print("closed as  \(resolution)" + (answer.duplicateOf.map { ", merged into \(answer.duplicateOfCase ?? $0)" } ?? ""))
            }
            let flag = answer.routing?.unofficialChannel
            print("channel    \(source?.platform ?? "") \(source?.account ?? "")"
                + (flag.map { Table.highlight(" (NOT an official account: \($0.reason))", when: true) } ?? " (official)"))
            print("routed by  \(answer.routing?.rule ?? "front office triage")")
            if let others = answer.otherOpen, !others.isEmpty {
                // The same citizen, still waiting elsewhere: answer them as one person.
                print(Table.highlight("also open  " + others.map { "\($0.caseNumber ?? $0.id) (\($0.state) at \($0.department))" }
                    .joined(separator: ", "), when: true))
            }
            if let merged = answer.mergedHere, !merged.isEmpty {
                // Their authors wait for the answer given here.
                print("merged in  " + merged.map { $0.caseNumber ?? $0.id }.joined(separator: ", "))
            }
            print("\nconversation")
            for message in answer.conversation ?? [] { print(Self.line(message)) }
            print("\nSLA")
            for clock in answer.sla {
                let left = clock.targetSeconds - clock.elapsedSeconds
                let time = left >= 0 ? "\(Table.duration(left)) left of \(Table.duration(clock.targetSeconds))"
                                     : "\(Table.duration(-left)) over \(Table.duration(clock.targetSeconds))"
                // Left is opening time (a calendar's hours); the due time says when that is.
                let due = clock.dueAt.map { ", due \($0)" } ?? ""
                print("  " + Table.highlight("\(clock.clock): \(clock.state), \(time)\(due)",
                                             when: clock.state == "warning" || clock.state == "breached"))
            }
            print("\ntimeline")
            for entry in answer.timeline {
                var line = "  \(entry.at)  \(entry.event)  \(entry.actor)  → \(entry.to) at \(entry.department)"
                if let note = entry.note { line += "  \"\(note)\"" }
                print(line)
            }
        }

        /// One message of the conversation: when, who, through which account, and where
        /// it stands; then its text, indented.
        static func line(_ message: ConversationItem) -> String {
            let what = switch message.kind {
            case "post": "citizen wrote"
            case "follow_up": "citizen replied"
            case "edit": "citizen edited the post; now"
            case "deleted": "citizen DELETED the post"
            case "question": "asked"
            default: "answered"
            }
            var head = "  \(message.at)  \(what)"
            if let by = message.by { head += message.direction == "in" ? " (\(by))" : " by \(by)" }
            if message.direction == "out" {
                if let account = message.account { head += " via \(account)" }
                let since = message.statusAt.map { " \($0)" } ?? ""
                let state = switch message.messageStatus {
                case "waiting": "WAITING for the \(message.platform) gateway since \(message.at)"
                case "posted": "posted\(since)"
                case "delivered", "read": "posted\(since), \(message.messageStatus)"
                case "failed": "FAILED\(since): \(message.reason ?? "no reason given")" + (message.code.map { " (\($0))" } ?? "")
                case "cancelled": "cancelled\(since): \(message.reason ?? "")"
                default: message.messageStatus
                }
                head += "  [" + Table.highlight(state, when: message.messageStatus == "waiting" || message.messageStatus == "failed") + "]"
            }
            let text = (message.kind == "deleted" ? "(withdrawn by the citizen)" : message.text ?? "(removed: past the retention period, or erased on request)")
                .split(separator: "\n", omittingEmptySubsequences: false)
            return ([head] + text.map { "      \($0)" }).joined(separator: "\n")
        }
    }

    struct Release: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Put an inquiry you hold back in its queue.")
        @OptionGroup var options: AgentOptions
        @Argument(help: "The inquiry id or a unique prefix.", completion: BrokerCompletion.inquiries) var id: String
        @Option(help: "Why, for the timeline.") var note: String?

        func run() throws {
            try options.move(.release, InquiryRequest(id: try options.resolve(id), note: note), "released")
        }
    }

    struct Renew: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Keep holding an inquiry you claimed (extends the lease).")
        @OptionGroup var options: AgentOptions
        @Argument(help: "The inquiry id or a unique prefix.", completion: BrokerCompletion.inquiries) var id: String

        func run() throws {
            try options.move(.renew, InquiryRequest(id: try options.resolve(id)), "renewed")
        }
    }

    struct Reply: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Answer the citizen through an official account.",
                                                        discussion: "The text comes from the argument, --file, or $EDITOR when neither is given.")
        @OptionGroup var options: AgentOptions
        @Argument(help: "The inquiry id or a unique prefix.", completion: BrokerCompletion.inquiries) var id: String
        @Option(help: "The official account to answer through, e.g. @RivertonCity.") var via: String
        @Option(help: "A file holding the text.") var file: String?
        @Argument(help: "The answer.") var text: String?

        func run() throws {
            let body = try composedText(text, file: file)
            let request = InquiryRequest(id: try options.resolve(id), text: body, account: via, replyID: UUID().uuidString.lowercased())
            try options.move(.reply, request, "answered")
        }
    }

    struct Ask: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Ask the citizen for more; the inquiry waits for their answer.")
        @OptionGroup var options: AgentOptions
        @Argument(help: "The inquiry id or a unique prefix.", completion: BrokerCompletion.inquiries) var id: String
        @Option(help: "The official account to ask through.") var via: String
        @Option(help: "A note for the timeline (not sent).") var note: String?
        @Option(help: "A file holding the question.") var file: String?
        @Argument(help: "The question.") var text: String?

        func run() throws {
            let request = InquiryRequest(id: try options.resolve(id), note: note, text: try composedText(text, file: file), account: via)
            try options.move(.requestInformation, request, "asked")
        }
    }

    struct Handoff: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Hand an inquiry to another department.")
        @OptionGroup var options: AgentOptions
        @Argument(help: "The inquiry id or a unique prefix.", completion: BrokerCompletion.inquiries) var id: String
        @Option(help: "The department to hand it to.", completion: BrokerCompletion.departments) var to: String
        @Option(help: "What they need to know.") var note: String

        func run() throws {
            try options.move(.handoff, InquiryRequest(id: try options.resolve(id), note: note, to: to), "handed off")
        }
    }

    struct Return: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "return", abstract: "Send an inquiry back to the front office.")
        @OptionGroup var options: AgentOptions
        @Argument(help: "The inquiry id or a unique prefix.", completion: BrokerCompletion.inquiries) var id: String
        @Option(help: "Why.") var note: String

        func run() throws {
            try options.move(.returnToFrontOffice, InquiryRequest(id: try options.resolve(id), note: note), "returned")
        }
    }

    struct Close: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Close an inquiry.")
        @OptionGroup var options: AgentOptions
        @Argument(help: "The inquiry id or a unique prefix.", completion: BrokerCompletion.inquiries) var id: String
        @Option(help: "answered, duplicate, out_of_scope or spam (duplicate with --duplicate-of).") var resolution: String?
        @Option(help: "Merge: the inquiry (id, prefix or case) this one duplicates; it closes pointing there.") var duplicateOf: String?
        @Option(help: "A note for the timeline.") var note: String?

        func validate() throws {
            guard resolution != nil || duplicateOf != nil else { throw ValidationError("give --resolution (or --duplicate-of to merge)") }
            if let resolution, Resolution(rawValue: resolution) == nil {
                throw ValidationError("--resolution must be one of \(Resolution.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            // A duplicate points to what it duplicates, so whoever reads it finds the answer.
            if resolution == Resolution.duplicate.rawValue, duplicateOf == nil {
                throw ValidationError("a duplicate names the inquiry it duplicates: give --duplicate-of CASE (or use 'switchboard merge')")
            }
        }

        func run() throws {
            var request = InquiryRequest(id: try options.resolve(id), note: note, resolution: resolution)
            if let duplicateOf { request.duplicateOf = try options.resolve(duplicateOf) }
            try options.move(.close, request, duplicateOf == nil ? "closed" : "merged")
        }
    }

    /// The same citizen wrote twice: one inquiry closes as the other's duplicate.
    struct Merge: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Merge a duplicate inquiry into another: it closes as duplicate, pointing there, and keeps its timeline.")
        @OptionGroup var options: AgentOptions
        @Argument(help: "The duplicate (id, prefix or case).", completion: BrokerCompletion.inquiries) var id: String
        @Option(help: "The inquiry it duplicates, open or closed, not itself merged (id, prefix or case).") var into: String
        @Option(help: "A note for the timeline.") var note: String?

        func run() throws {
            var request = InquiryRequest(id: try options.resolve(id), note: note)
            request.duplicateOf = try options.resolve(into)
            try options.move(.close, request, "merged")
            if !options.json { print("  into \(into): the citizen is answered there") }
        }
    }

    struct Reopen: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Reopen a closed or answered inquiry.")
        @OptionGroup var options: AgentOptions
        @Argument(help: "The inquiry id or a unique prefix.", completion: BrokerCompletion.inquiries) var id: String
        @Option(help: "Why.") var note: String

        func run() throws {
            try options.move(.reopen, InquiryRequest(id: try options.resolve(id), note: note), "reopened")
        }
    }
}

/// The text of a reply or question: the argument, a file, or what the user writes in
/// $EDITOR. An empty text is refused before anything is sent.
func composedText(_ text: String?, file: String?) throws -> String {
    if let text, file != nil, !text.isEmpty { printError("give the text or --file, not both"); throw Exit.usage }
    var result = text ?? ""
    if let file { result = String(decoding: try readInput(file), as: UTF8.self) }
    if text == nil, file == nil {
        guard let editor = ProcessInfo.processInfo.environment["EDITOR"], isatty(STDIN_FILENO) == 1 else {
            printError("give the text as an argument or with --file (or set $EDITOR to write it there)")
            throw Exit.usage
        }
        let path = NSTemporaryDirectory() + "switchboard-\(UUID().uuidString).txt"
        guard FileManager.default.createFile(atPath: path, contents: Data()) else {
            printError("cannot create a file for the editor in \(NSTemporaryDirectory()); give the text as an argument or with --file")
            throw Exit.usage
        }
        defer { try? FileManager.default.removeItem(atPath: path) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", "\(editor) \"$0\"", path]
        try process.run()
        process.waitUntilExit()
        result = String(decoding: FileManager.default.contents(atPath: path) ?? Data(), as: UTF8.self)
    }
    let trimmed = result.trimmingCharacters(in: .whitespacesAndNewlines)
    guard !trimmed.isEmpty else { printError("the text is empty; nothing was sent"); throw Exit.usage }
    return trimmed
}
