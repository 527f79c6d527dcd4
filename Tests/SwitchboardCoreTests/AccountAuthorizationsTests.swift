import Foundation
import Testing
@testable import SwitchboardCore

@Suite struct AccountAuthorizationsTests {
    let start = Date(timeIntervalSince1970: 1_764_750_000)

    func account(_ handle: String, _ platform: Platform = .facebook, since: TimeInterval = 0) -> AccountAuthorizations.Account {
        .init(platform: platform, handle: handle, reason: "token expired", since: start.addingTimeInterval(since))
    }

    @Test func aReportNamesWhatChangedOnlyOnce() {
        var board = AccountAuthorizations()
        #expect(board.report(gateway: "g", accounts: [account("CityHall")], at: start) == [.needed(account("CityHall"))])
        // The same list again (the half-minute renewal) changes nothing.
        #expect(board.report(gateway: "g", accounts: [account("CityHall")], at: start + 30).isEmpty)
        #expect(board.report(gateway: "g", accounts: [], at: start + 60) == [.restored(account("CityHall"))])
        #expect(board.accounts.isEmpty)
    }

    @Test func handlesCompareWithoutAtSignOrCase() {
        var board = AccountAuthorizations()
        _ = board.report(gateway: "a", accounts: [account("@CityHall")], at: start)
        #expect(board.report(gateway: "b", accounts: [account("cityhall", since: 5)], at: start).isEmpty)
        #expect(board.accounts.map(\.handle) == ["@CityHall"], "one account, the earliest refusal")
        // Still refused by gateway b when a stops reporting it.
        #expect(board.report(gateway: "a", accounts: [], at: start + 1).isEmpty)
        #expect(board.accounts.count == 1)
    }

    @Test func aGatewayThatStopsReportingIsForgotten() {
        var board = AccountAuthorizations(lifetime: 90)
        _ = board.report(gateway: "g", accounts: [account("CityHall"), account("+1 555", .whatsapp)], at: start)
        #expect(board.expire(at: start + 90).isEmpty)
        let changes = board.expire(at: start + 91)
        #expect(changes == [.unknown(account("CityHall")), .unknown(account("+1 555", .whatsapp))])
        #expect(board.accounts.isEmpty)
    }
}
