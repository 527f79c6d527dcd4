import ArgumentParser
import Foundation
import SwitchboardCore
import SwitchboardProtocol

/// Data protection for operations staff (the `ops` role): erasure on request and the
/// records export (Protocols/7-data-protection.md, docs/data-protection.md).
struct Admin: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Data protection: erase a citizen's personal data, export the official record.",
        subcommands: [Erase.self, Export.self]
    )

    /// `sb.admin.erase`.
    struct Erase: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Erase a citizen's personal data from every inquiry they wrote (sb.admin.erase).",
            discussion: """
                Removes the text, handle, name and media of each of the citizen's inquiries, the replies \
                to them and the notes on them; the anonymised records stay for statistics. Identities \
                linked to the citizen's ('switchboard citizen link') are erased in the same request, \
                with the links. Every \
                inquiry must be closed first. Leaves an audit entry naming the citizen only by a keyed \
                hash. Try --dry-run first; export the record first if the city must keep it.
                """
        )

        @OptionGroup var options: AgentOptions
        @Option(help: "The citizen, as PLATFORM:HANDLE, e.g. x:@resident.") var citizen: String
        @Flag(help: "Say what would be erased, and change nothing.") var dryRun = false
        // Who asked is recorded in the audit: with CURVE, the key's name; in plain mode,
        // --agent (or SWITCHBOARD_AGENT), else "anonymous".

        func validate() throws {
            let platforms = Platform.allCases.map(\.rawValue).joined(separator: ", ")
            let parts = citizen.split(separator: ":", maxSplits: 1)
            guard parts.count == 2, !parts[1].isEmpty else {
                throw ValidationError("--citizen must be PLATFORM:HANDLE, such as x:@resident; platforms: \(platforms)")
            }
            guard Platform(rawValue: parts[0].lowercased()) != nil else {
                throw ValidationError("--citizen: \(parts[0]) is not a platform Switchboard knows; use one of \(platforms)")
            }
        }

        static func count(_ n: Int, _ one: String, _ many: String) -> String { "\(n) \(n == 1 ? one : many)" }

        func run() throws {
            let request = ErasureRequest(citizen: citizen, dryRun: dryRun, actor: options.agent)
            let answer = try options.ask(AdminService.erase.rawValue, body: request, as: ErasureAnswer.self)
            guard !options.json else { return }
            let inquiries = answer.inquiries, messages = answer.messages
            let hash = answer.citizen
            if let last = answer.lastErasedAt {
                print("nothing left to erase: this citizen's data was already erased on \(last) (recognised by the audit's keyed hash)")
                return
            }
            if let linked = answer.linkedIdentities {
                print("the citizen has \(linked.count) linked identities (\(linked.joined(separator: ", "))): all are covered, "
                      + "and \(Self.count(answer.links ?? 0, "link", "links")) \(dryRun ? "would be" : "were") removed")
            }
            if let unsent = answer.unsentReplies {
                print(Table.highlight("\(Self.count(unsent, "reply", "replies")) to the citizen still waiting for a gateway "
                                      + "\(dryRun ? "would be" : "were") deleted with the rest, never sent", when: true))
            }
            if dryRun {
                print("dry run: would erase the personal data of \(Self.count(inquiries, "closed inquiry", "closed inquiries")) and \(Self.count(messages, "message", "messages"))")
                if answer.alreadyAnonymised > 0 { print("  \(answer.alreadyAnonymised) of them already anonymised") }
                for id in answer.ids { print("  \(id)") }
                print("nothing was changed; run again without --dry-run to erase")
            } else {
                print("erased the personal data of \(Self.count(inquiries, "inquiry", "inquiries")) and \(Self.count(messages, "message", "messages"))")
                print("audit entry recorded for citizen \(hash.prefix(16))… (a keyed hash; the handle is not kept)")
                if let reopened = answer.reopenedMeanwhile {
                    print("left as they are, reopened while the request ran (erase again once they are closed):")
                    for id in reopened { print("  \(id)") }
                }
            }
        }
    }

    /// `sb.admin.export`, page by page, as JSON lines.
    struct Export: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write the official record of closed inquiries as JSON lines (sb.admin.export).",
            discussion: """
                One line per inquiry: envelope, routing, lifecycle, timeline and messages, as stored. \
                Streams to standard output, with progress on a terminal. Interrupted, it says the last \
                id written: run it again with --after that id (appending to the file) to go on.
                """
        )

        @OptionGroup var broker: BrokerOptions
        @Option(help: "Only inquiries closed before this date (2026-01-31) or time (2026-01-31T12:00:00Z).") var closedBefore: String
        @Option(help: "Only this department's inquiries.") var department: String?
        @Option(help: "Resume after this inquiry id (the last one written before).") var after: String?

        func validate() throws {
            guard CalendarDate.parse(closedBefore) != nil else {
                throw ValidationError("--closed-before \(closedBefore) is not a day (2026-01-31, midnight UTC) or an ISO 8601 time with its zone (2026-01-31T12:00:00Z)")
            }
            if let after, InquiryID(after) == nil { throw ValidationError("--after \(after) is not a whole inquiry id (as the last line written shows)") }
        }

        func run() throws {
            // The agent options' own --department would clash with the filter's.
            var asker = try AgentOptions.parse([])
            asker.broker = broker
            asker.departmentOption = ""
            var cursor = after
            var written = 0
            var total: Int?
            let start = ContinuousClock.now
            var progress: Progress?
            defer { progress?.finish() }
            while true {
                let request = ExportRequest(closedBefore: closedBefore, department: department, after: cursor, count: total == nil)
                let answer: [String: Any]
                do {
                    answer = try asker.ask(AdminService.export.rawValue, body: request)
                } catch {
                    if let cursor { printError("export interrupted after \(written) records; go on with --after \(cursor) (append: >>)") }
                    throw error
                }
                if total == nil {
                    total = answer["remaining"] as? Int ?? 0
                    progress = Progress(total: total ?? 0)
                }
                for record in answer["records"] as? [[String: Any]] ?? [] {
                    let line = try JSONSerialization.data(withJSONObject: record, options: [.sortedKeys, .withoutEscapingSlashes])
                    FileHandle.standardOutput.write(line + Data("\n".utf8))
                    written += 1
                    cursor = record["id"] as? String
                }
                progress?.show(done: written, since: start)
                guard let next = answer["next_after"] as? String else { break }
                cursor = next
            }
            progress?.finish()
            progress = nil
            FileHandle.standardError.write(Data("exported \(written) closed inquiries\(cursor.map { "; the last was \($0)" } ?? "")\n".utf8))
        }
    }
}
