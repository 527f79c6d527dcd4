import DaemonHarness
import Foundation
import Majordomo
import SwitchboardCore
import SwitchboardStore
import Testing
import TestSupport
import ZeroMQ

/// The daemon's lifecycle, with real processes: one broker per data directory, and the
/// ready file that announces the bound endpoints.
@Suite(.serialized) struct DaemonLifecycleTests {
    @Test func aSecondDaemonOnTheSameDataDirectoryRefusesToStartAndNamesTheFirst() throws {
        let first = try SpawnedDaemon()
        let refused = try #require(throws: SpawnedDaemon.Exited.self) {
            try SpawnedDaemon(dataDirectory: first.dataDirectory)
        }
        #expect(!refused.bySignal)
        #expect(refused.status != 0)
        #expect(refused.log.contains("--data \(first.dataDirectory) is in use by another switchboardd (pid \(first.pid))"))
        #expect(first.isRunning)

        // The lock goes with its holder: once the first has stopped, the directory is free.
        #expect(try first.terminate() == 0)
        let next = try SpawnedDaemon(dataDirectory: first.dataDirectory)
        #expect(try next.terminate() == 0)
    }

    @Test func theReadyFileNamesTheBoundEndpointsAndGoesAwayOnSIGTERM() throws {
        let daemon = try SpawnedDaemon()
        let contents = try #require(FileManager.default.contents(atPath: daemon.readyFile))
        let document = try #require(try JSONSerialization.jsonObject(with: contents) as? [String: Any])
        #expect(document["pid"] as? Int == Int(daemon.pid))

        let mdp = try #require(document["mdp_endpoint"] as? String)
        let events = try #require(document["events_endpoint"] as? String)
        #expect(mdp == daemon.endpoint)
        #expect(events == daemon.eventsEndpoint)
        // Bound ports, not the wildcard the daemon was asked for.
        for endpoint in [mdp, events] {
            #expect(endpoint.range(of: #"^tcp://127\.0\.0\.1:[0-9]+$"#, options: .regularExpression) != nil, "\(endpoint)")
        }
        #expect(mdp != events)
        let data = URL(fileURLWithPath: daemon.dataDirectory).resolvingSymlinksInPath().path
        #expect(document["data"] as? String == data)
        #expect(!FileManager.default.fileExists(atPath: daemon.readyFile + ".tmp"))
        // The ready line is logged just after the file is written.
        try waitUntil("the ready line is logged") { daemon.log.contains("switchboardd ready") }

        #expect(try daemon.terminate() == 0)
        #expect(!FileManager.default.fileExists(atPath: daemon.readyFile))
    }

    @Test func theReadyFileSaysNullWhenTheEventStreamIsOff() throws {
        let daemon = try SpawnedDaemon(arguments: ["--events", "off"])
        #expect(daemon.eventsEndpoint == nil)
        let contents = try #require(FileManager.default.contents(atPath: daemon.readyFile))
        let document = try #require(try JSONSerialization.jsonObject(with: contents) as? [String: Any])
        #expect(document["events_endpoint"] is NSNull)
        #expect(try daemon.terminate() == 0)
    }

    @Test func aCleanStopFoldsTheLogIntoTheDatabaseFile() throws {
        let daemon = try SpawnedDaemon()
        let client = try MajordomoClient(context: try Context(), endpoint: daemon.endpoint)
        let answer = jsonObject(try client.request("sb.ingest", body: [envelope("kept-post")])?.body)
        client.close()
        let id = try #require(answer["id"] as? String)
        let database = (daemon.dataDirectory as NSString).appendingPathComponent("inquiries.sqlite")
        #expect(FileManager.default.fileExists(atPath: database + "-wal"))

        #expect(try daemon.terminate() == 0)
        // One file to back up: the log was copied in and removed on the way out.
        #expect(!FileManager.default.fileExists(atPath: database + "-wal"))
        let store = try SQLiteInquiryStore(path: database)
        #expect(try store.record(try #require(InquiryID(id))) != nil)
    }
}
