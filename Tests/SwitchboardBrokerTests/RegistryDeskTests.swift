import Foundation
import SwitchboardCore
import SwitchboardProtocol
import Testing
import ZeroMQ
@testable import SwitchboardBroker

/// The registry of official accounts as a machine, with plain values: no socket, no batch,
/// no database.
@Suite struct RegistryDeskTests {
    let now = Date(timeIntervalSince1970: 1_800_000_000)

    func request(_ fields: [String: Any]) throws -> AgentRequest {
        try AgentRequest([Frame(bytes: try JSONSerialization.data(withJSONObject: fields))])
    }

    func source(_ account: String) -> Inquiry.Source {
        Inquiry.Source(platform: .x, account: account, externalID: "1")
    }

    @Test func aFirstStartSeedsTheConfiguredAccountsAsOfficial() {
        var desk = RegistryDesk(configuration: .demo())
        let (seeded, refused) = desk.restore([], now: now)
        #expect(!seeded.isEmpty)
        #expect(refused.isEmpty)
        #expect(seeded.allSatisfy { $0.status == .active })
        guard case .official = desk.verdict(for: source("@RivertonCity")) else {
            Issue.record("the front office's account is not official after seeding")
            return
        }
        #expect(desk.configuredAccountsNotActive().isEmpty)
        // A stored registry is taken as it is: nothing seeded again.
        var again = RegistryDesk(configuration: .demo())
        #expect(again.restore(seeded, now: now).seeded.isEmpty)
    }

    /// A suspension is a change to store; what the desk says of the account follows at
    /// once (its cached verdict and reply accounts are forgotten).
    @Test func aSuspensionChangesTheVerdictAndTheReplyAccountsAtOnce() throws {
        var desk = RegistryDesk(configuration: .demo())
        let seeded = desk.restore([], now: now).seeded
        let city = try #require(seeded.first { $0.handle == "@RivertonCity" })
        _ = desk.verdict(for: source("@RivertonCity"))
        #expect(desk.replyAccountsJSON(platform: .x, department: "front-office").contains("@RivertonCity"))

        guard case .changed(let entry, _) = desk.handle(.suspend, request: try request(["id": city.id, "reason": "phished"]), actor: "ops", now: now) else {
            Issue.record("a suspension changed nothing")
            return
        }
        #expect(entry.status == .suspended)
        guard case .inactive = desk.verdict(for: source("@RivertonCity")) else {
            Issue.record("a suspended account is still official")
            return
        }
        #expect(!desk.replyAccountsJSON(platform: .x, department: "front-office").contains("@RivertonCity"))
        #expect(throws: AgentError.self) { try desk.checkReplyAccount("@RivertonCity", platform: .x, department: "front-office") }
        #expect(desk.unregisteredAccounts().contains { $0.contains("switchboard channels reactivate") })
    }

    /// A lookalike of an official account is refused with a reason, and nothing changes.
    @Test func aLookalikeIsRefusedAndNothingIsStored() throws {
        var desk = RegistryDesk(configuration: .demo())
        _ = desk.restore([], now: now)
        let count = desk.registry.entries.count
        guard case .answer = desk.handle(.register, request: try request(["platform": "x", "handle": "@RivertonCiity"]), actor: "ops", now: now) else {
            Issue.record("a lookalike was registered")
            return
        }
        #expect(desk.registry.entries.count == count)
        guard case .lookalike = desk.verdict(for: source("@RivertonCiity")) else {
            Issue.record("the lookalike is not named as one")
            return
        }
    }
}
