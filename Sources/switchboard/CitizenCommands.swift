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

        static func identity(_ text: String, _ option: String) throws -> String {
            switch CitizenIdentity.parse(text) {
            case .success(let identity): return identity.description
            case .failure(let reason): throw ValidationError("\(option) \(reason)")
            }
        }

        struct Show: ParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Every inquiry of a citizen's linked identities, newest first, with the links and the links proposed.")
            @OptionGroup var options: AgentOptions
            @Argument(help: "PLATFORM:HANDLE, such as x:@ana_r.") var citizen: String

            func run() throws {
                let request = CitizenRequest(agent: options.agent, citizen: try Citizen.identity(citizen, "the identity"))
                let answer = try options.ask(CitizenService.show.rawValue, body: request, as: CitizenAnswer.self)
                guard !options.json else { return }
                print("citizen     \(answer.identities.joined(separator: ", "))")
                if answer.inquiries.isEmpty {
                    print("\nno inquiry from \(answer.identities.count == 1 ? "this identity" : "these identities") is held")
                } else {
                    print("\ninquiries (newest first)")
                    print(Table.render(["CASE", "FROM", "STATE", "DEPARTMENT", "RECEIVED"], answer.inquiries.map { inquiry in
                        var state = inquiry.state
                        if let resolution = inquiry.resolution { state += " (\(resolution))" }
                        if let other = inquiry.duplicateOf { state += " → \(answer.inquiries.first { $0.id == other }?.caseNumber ?? other)" }
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

            func send(_ service: CitizenService) throws {
                let request = CitizenRequest(agent: options.agent, a: try Citizen.identity(a, "the first identity"),
                                             b: try Citizen.identity(b, "the second identity"), note: note)
                let answer = try options.ask(service.rawValue, body: request, as: CitizenLinkAnswer.self)
                guard !options.json else { return }
                let identities = answer.identities.joined(separator: ", ")
                switch (service, answer.changed) {
                case (.link, true): print("linked: \(identities) are one citizen")
                case (.link, false): print("already linked: \(identities) are one citizen")
                case (_, true): print("unlinked; \(request.a ?? a) is now linked to: \(identities)")
                case (_, false): print("they were not linked directly; nothing changed (\(identities))")
                }
            }
        }
    }
}
