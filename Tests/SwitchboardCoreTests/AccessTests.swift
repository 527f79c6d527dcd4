import Foundation
import Testing
@testable import SwitchboardCore

@Suite struct AccessTests {
    @Test(arguments: [
        (Role.gateway, AccessRequest.ingest, true),
        (.agent(department: "roads"), .ingest, false),
        (.gateway, .serve(service: "outbound.x"), true),
        (.gateway, .serve(service: "roads"), false),
        (.worker(department: "roads"), .serve(service: "roads"), true),
        (.worker(department: "roads"), .serve(service: "parks"), false),
        (.worker(department: "roads"), .serve(service: "outbound.x"), false),
        (.agent(department: "roads"), .move(department: "roads"), true),
        (.agent(department: "roads"), .move(department: "parks"), false),
        (.supervisor(department: "roads"), .move(department: "roads"), true),
        (.agent(department: "roads"), .read(department: "roads"), true),
        (.agent(department: "roads"), .read(department: nil), false),
        (.ops, .read(department: nil), true),
        (.ops, .move(department: "roads"), false),
        (.agent(department: "roads"), .requeue(department: "roads"), false),
        (.supervisor(department: "roads"), .requeue(department: "roads"), true),
        (.supervisor(department: "roads"), .requeue(department: "parks"), false),
        (.ops, .requeue(department: "parks"), true),
        (.ops, .admin, true),
        (.gateway, .admin, false),
        (.registryAdmin, .registryWrite, true),
        (.ops, .registryWrite, false),
        (.worker(department: "roads"), .request, true),
    ])
    func theRoleTable(role: Role, request: AccessRequest, allowed: Bool) {
        #expect((AccessRules.check(role, request) == nil) == allowed)
    }

    @Test func rolesParseWithTheirDepartments() throws {
        #expect(try Role(name: "agent", department: "roads") == .agent(department: "roads"))
        #expect(try Role(name: "registry-admin", department: nil) == .registryAdmin)
        #expect(throws: AccessError.self) { try Role(name: "agent", department: nil) }
        #expect(throws: AccessError.self) { try Role(name: "ops", department: "roads") }
        #expect(throws: AccessError.self) { try Role(name: "root", department: nil) }
    }

    @Test func certificatesRoundTripInZeroMQsFormat() throws {
        let certificate = Certificate(publicKey: "Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID", secretKey: "D:)Q[IlAW!ahhC2ac:9*A}h:p?([4%wOTJ%JR%cs",
                                      metadata: [("name", "ana"), ("role", "agent")])
        let secret = try Certificate.parse(certificate.text(includingSecret: true))
        #expect(secret == certificate)
        let open = try Certificate.parse(certificate.text(includingSecret: false))
        #expect(open.secretKey == nil)
        #expect(open.metadata("role") == "agent")
        #expect(!certificate.text(includingSecret: false).contains(certificate.secretKey!))
        #expect(throws: AccessError.self) { try Certificate.parse("curve\n    public-key = \"short\"\n") }
    }

    @Test func theAuthorisedKeysFileNamesTheLineAtFault() throws {
        let keys = try AuthorizedKeys.parse(yaml: """
            keys:
              - name: ana
                role: agent
                department: front-office
                public_key: "Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID"
            """)
        #expect(keys.byName["ana"]?.role == .agent(department: "front-office"))
        #expect(keys.byKey["Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID"]?.name == "ana")
        let error = #expect(throws: AccessError.self) {
            try AuthorizedKeys.parse(yaml: """
                keys:
                  - name: ana
                    role: agent
                    department: front-office
                    public_key: "Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID"
                  - name: bob
                    role: worker
                    public_key: "D:)Q[IlAW!ahhC2ac:9*A}h:p?([4%wOTJ%JR%cs"
                """)
        }
        #expect(error?.line == 6)
        #expect(error?.message.contains("needs a department") == true)
    }

    /// The shipped example is a valid file.
    @Test func theShippedExampleParses() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let text = try String(contentsOf: root.appendingPathComponent("deploy/authorized-keys.yaml"), encoding: .utf8)
        let keys = try AuthorizedKeys.parse(yaml: text)
        #expect(keys.count == 4)
        #expect(keys.byName["roads-worker-1"]?.role == .worker(department: "roads"))
    }
}
