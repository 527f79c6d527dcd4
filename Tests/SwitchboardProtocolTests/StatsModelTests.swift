import Foundation
import Testing
import SwitchboardProtocol

/// `/stats` through its model: written as it was before the model's keys were spelled
/// out, and read back whole, dictionaries' keys included.
@Suite struct StatsModelTests {
    static func sample() -> BrokerStats {
        var latency = BucketHistogram(bounds: BucketHistogram.latencies)
        latency.observe(0.004)
        var response = BucketHistogram(bounds: BucketHistogram.responseTimes)
        response.observe(1_200)
        let roads = BrokerStats.Department(
            id: "roads", name: "Roads and street lighting", frontOffice: false, ready: 3, answersHeld: 1, inFlight: 2, workers: 1, credit: 16,
            heldByAgents: 1, accepted: 4, awaitingCitizen: 1, parked: 1, oldestReadyAgeSeconds: 75.5, firstResponseTargetSeconds: 14_400,
            resolutionTargetSeconds: 172_800, delivered: 9, redelivered: 1, parkedTotal: 1, handoffsIn: ["front-office": 2],
            handoffsOut: ["parks": 1], slaWarnings: ["first_response/department": 1], slaBreaches: ["resolution/inquiry": 1],
            slaBreachesToday: 1, firstResponse: response, resolution: response, leg: response)
        return BrokerStats(
            at: Date(timeIntervalSince1970: 1_795_528_741), startedAt: Date(timeIntervalSince1970: 1_795_520_000), ready: true,
            engineTurnedAt: Date(timeIntervalSince1970: 1_795_528_741),
            store: BrokerStats.Store(writable: false, lastError: "disk I/O error", commits: 12, committedRows: 340, commitSeconds: 0.05,
                                     pendingBatches: 1, commitLatency: latency, batchRows: BucketHistogram(bounds: BucketHistogram.batchRows)),
            ingest: BrokerStats.Ingest(accepted: 10, duplicate: 2, threaded: 1, rejected: ["invalid_json": 1, "text_too_long": 2],
                                       unofficialChannel: 1, unofficialByPlatform: ["x": 1], answersHeld: 3),
            departments: [roads],
            connections: BrokerStats.Connections(open: 4, cut: 1, denials: ["back_office": 2], warningsHeldBack: 0),
            eventsDropped: 0, engineTurnSeconds: latency, build: BrokerStats.Build(version: "test"),
            dataProtection: BrokerStats.DataProtection(purged: ["roads": 5], erasures: 1, lastRetentionRun: Date(timeIntervalSince1970: 1_795_500_000)))
    }

    /// The endpoint used a snake_case key strategy before; the spelled-out keys write the
    /// same document, byte for byte, so dashboards and scripts read what they read.
    @Test func writtenAsTheKeyStrategyWroteIt() throws {
        let before = JSONEncoder()
        before.keyEncodingStrategy = .convertToSnakeCase
        before.dateEncodingStrategy = .iso8601
        before.outputFormatting = [.sortedKeys, .prettyPrinted]
        let stats = Self.sample()
        #expect(String(decoding: try BrokerStats.encoder.encode(stats), as: UTF8.self)
            == String(decoding: try before.encode(stats), as: UTF8.self))
    }

    /// Read back whole: a key strategy would have renamed `invalid_json` to `invalidJson`.
    @Test func readBackWhole() throws {
        let stats = Self.sample()
        let read = try BrokerStats.decoder.decode(BrokerStats.self, from: BrokerStats.encoder.encode(stats))
        #expect(read == stats)
        #expect(read.ingest.rejected["invalid_json"] == 1)
        #expect(read.departments.first?.slaWarnings["first_response/department"] == 1)
    }
}
