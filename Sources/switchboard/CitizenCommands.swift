import ArgumentParser
import Foundation
import SwitchboardCore
import SwitchboardProtocol

extension Switchboard {
    /// One citizen across channels: the identities an agent links, their inquiries on
    /// every platform, and the links the broker proposes (never applied without a person).
    struct Citizen: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "One citizen across platforms: show their inquiries everywhere, link or unlink identities.",
            discussion: """
                An identity is PLATFORM:HANDLE, as the platform shows it: x:@ana_r, facebook:1234, email:ana@example.org. \
                Linked identities are one citizen: 'show' lists all their inquiries, and an erasure of one covers them all.
                """,
            subcommands: [Show.self, Link.self, Unlink.self])

        /// The identity as the broker reads it; a usage error naming what is wrong.
        static func identity(_ text: String) throws -> String {
            switch CitizenIdentity.parse(text) {
            case .success(let identity): return identity.description
            case .failure(let reason): throw ValidationError("'\(text)' is not an identity: \(reason)")
            }
        }

        struct Show: ParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Every inquiry of a citizen's linked identities, newest first, with the links and the links proposed.")
            @OptionGroup var options: AgentOptions
            @Argument(help: "PLATFORM:HANDLE, such as x:@ana_r.") var citizen: String

            func validate() throws { _ = try Citizen.identity(citizen) }

            func run() throws {
                let request = CitizenRequest(agent: options.agent, citizen: try Citizen.identity(citizen))
                let answer = try options.ask(CitizenService.show.rawValue, body: request, as: CitizenAnswer.self)
                guard !options.json else { return }
                print("citizen     \(answer.identities.joined(separator: ", "))")
                if let erased = answer.erasedAt?.last {
                    print("\nthis identity's data was erased on request on \(erased); nothing of it is held")
                } else if answer.inquiries.isEmpty {
                    print("\nno inquiry from \(answer.identities.count == 1 ? "this identity" : "these identities") is held")
                } else {
                    print("\ninquiries (newest first)")
                    print(Table.render(["CASE", "FROM", "STATE", "DEPARTMENT", "RECEIVED"], answer.inquiries.map { inquiry in
                        var state = inquiry.state
                        if let resolution = inquiry.resolution { state += " (\(resolution))" }
                        if let other = inquiry.duplicateOf { state += " → \(inquiry.duplicateOfCase ?? other)" }
                        return [inquiry.caseNumber ?? inquiry.id, inquiry.identity, Table.highlight(state, when: inquiry.state != "closed"),
                                inquiry.department, inquiry.receivedAt]
                    }))
                }
                if !answer.links.isEmpty {
                    print("\nlinks")
                    for link in answer.links { print("  \(link.a) = \(link.b)  by \(link.actor) at \(link.at): \"\(link.note)\"") }
                }
                if !answer.proposals.isEmpty {
                    print("\nproposed (not linked until an agent links them)")
                    for proposal in answer.proposals {
                        print("  \(proposal.identity): \(proposal.reason) (\(proposal.cases.joined(separator: ", ")))")
                        print("    switchboard citizen link \(answer.citizen) \(proposal.identity) --note \"...\"")
                    }
                }
                if !answer.history.isEmpty {
                    print("\nhistory")
                    for entry in answer.history {
                        print("  \(entry.at)  \(entry.action) \(entry.a) \(entry.b) by \(entry.actor)" + (entry.note.map { ": \"\($0)\"" } ?? ""))
                    }
                }
            }
        }

        struct Link: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Link two identities as one citizen's (audited, with your reason).")
            @OptionGroup var change: Change

            func run() throws { try change.send(.link) }
        }

        struct Unlink: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Remove a link between two identities (audited, with your reason).")
            @OptionGroup var change: Change

            func run() throws { try change.send(.unlink) }
        }

        /// What a link and an unlink take: two identities and the reason, kept in the audit.
        struct Change: ParsableArguments {
            @OptionGroup var options: AgentOptions
            @Argument(help: "One identity, PLATFORM:HANDLE.") var a: String
            @Argument(help: "The other identity, PLATFORM:HANDLE.") var b: String
            @Option(help: "Why (kept in the audit until an erasure of either identity).") var note: String

            func validate() throws {
                _ = try Citizen.identity(a)
                _ = try Citizen.identity(b)
                guard !note.trimmingCharacters(in: .whitespaces).isEmpty else {
                    throw ValidationError("--note must say why, such as --note \"same address, confirmed by phone\": it is kept in the audit")
                }
            }

            func send(_ service: CitizenService) throws {
                let request = CitizenRequest(agent: options.agent, a: try Citizen.identity(a), b: try Citizen.identity(b), note: note)
                let answer = try options.ask(service.rawValue, body: request, as: CitizenLinkAnswer.self)
                guard !options.json else { return }
                let identities = answer.identities.joined(separator: ", ")
                switch (service, answer.changed) {
                case (.link, true): print("linked: \(identities) are one citizen")
                case (.link, false): print("already linked: \(identities) are one citizen")
                case (_, true):
                    let others = answer.identities.filter { $0 != request.a }
                    print("unlinked; " + (others.isEmpty ? "\(request.a ?? a) is linked to no other identity"
                                                        : "\(request.a ?? a) is still linked to: \(others.joined(separator: ", "))"))
                case (_, false) where answer.identities.contains(request.b ?? b):
                    print("nothing changed: there is no link between these two; they are one citizen through others "
                          + "(see 'switchboard citizen show \(request.a ?? a)' and unlink the links it lists)")
                case (_, false): print("nothing changed: these two identities are not linked")
                }
            }
        }
    }
}
