import Foundation
import GRDB
import SwitchboardCore
import SwitchboardProtocol
import SwitchboardStore
import Testing
import ZeroMQ
@testable import SwitchboardBroker

/// The citizen desk's rules on an in-memory store: how many identities one citizen may
/// have, and whose words a proposal may rest on.
@Suite struct CitizenDeskTests {
    let store: SQLiteInquiryStore
    let ana = CitizenIdentity(platform: .x, handle: "ana")
    let bob = CitizenIdentity(platform: .mastodon, handle: "bob")

    init() throws {
        store = try SQLiteInquiryStore(database: DatabaseQueue())
    }

    func desk(_ role: Role? = nil) -> CitizenDesk {
        CitizenDesk(store: store, configuration: .demo(), hash: CitizenHash(key: Array(repeating: 7, count: 32)), now: Date(), role: role)
    }

    func answer(_ service: CitizenService, _ fields: [String: String], role: Role? = nil) throws -> [String: Any] {
        let request = try AgentRequest([Frame(bytes: [UInt8](try JSONEncoder().encode(fields)))])
        let frame = desk(role).answer(service, request, actor: "ana-agent").frame
        return try #require(try JSONSerialization.jsonObject(with: Data(frame.bytes)) as? [String: Any])
    }

    func write(_ n: Int, by identity: CitizenIdentity, text: String, department: String) throws {
        let id = InquiryID.generate()
        let record = LifecycleRecord(lifecycle: InquiryLifecycle(id: id, department: department), priority: .normal,
                                     sla: InquirySLA(department: department, priority: .normal, policy: SLAPolicy(), at: Date()))
        var batch = JournalBatch()
        batch.insert(AcceptedInquiry(key: DeduplicationKey(platform: identity.platform, externalID: "post-\(n)"),
                                     envelopeJSON: #"{"text":"\#(text)","author":{"handle":"\#(identity.handle)"}}"#,
                                     routingJSON: #"{"department":"\#(department)"}"#, receivedAt: Timestamp.format(Date()), record: record,
                                     author: identity.handle))
        _ = try store.commit(batch)
    }

    @Test func oneCitizenHasAtMostTwentyFiveIdentities() throws {
        for n in 1..<CitizenDesk.maxIdentities {
            let linked = try answer(.link, ["a": "x:id\(n - 1)", "b": "x:id\(n)", "note": "the same person"])
            #expect(linked["status"] as? String == "ok", "\(linked)")
        }
        #expect((try answer(.show, ["citizen": "x:id0"])["identities"] as? [String])?.count == CitizenDesk.maxIdentities)
        let refused = try answer(.link, ["a": "x:id3", "b": "x:one-too-many", "note": "the same person"])
        #expect(((refused["error"] as? [String: Any])?["message"] as? String)?.contains("more than 25") == true, "\(refused)")
        #expect(try store.links(touching: [CitizenIdentity(platform: .x, handle: "one-too-many")]).isEmpty)
    }

    @Test func anAgentsProposalsRestOnTheirDepartmentsInquiriesOnly() throws {
        try write(1, by: ana, text: "write to ana@example.org", department: "roads")
        try write(2, by: bob, text: "my neighbour ana@example.org asked me to write", department: "parks")
        func proposed(_ role: Role?) throws -> [String] {
            ((try answer(.show, ["citizen": "x:ana"], role: role)["proposals"] as? [[String: Any]]) ?? []).compactMap { $0["identity"] as? String }
        }
        #expect(try proposed(nil) == ["mastodon:bob"])
        #expect(try proposed(.ops) == ["mastodon:bob"])
        #expect(try proposed(.agent(department: "roads")) == ["mastodon:bob"])
        #expect(try proposed(.agent(department: "parks")).isEmpty, "parks holds none of ana's inquiries: no search on her words")
        let reason = try answer(.show, ["citizen": "x:ana"])["proposals"] as? [[String: Any]]
        #expect(reason?.first?["reason"] as? String == "the same e-mail address in both conversations", "the address itself is not repeated")
    }
}
