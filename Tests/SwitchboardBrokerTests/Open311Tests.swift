import DaemonHarness
import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import Majordomo
import SwitchboardCore
@testable import SwitchboardOps
import SwitchboardStore
import Testing
import TestSupport
import ZeroMQ

/// Open311 GeoReport v2's read side, as a citizen's app or a city portal reads it: the
/// fields the spec lists, in JSON and XML, its filters and windows, its errors, and
/// nothing a citizen wrote.
@Suite(.serialized) struct Open311Tests {
    /// GeoReport v2's fields of a service and of a service request, and those every
    /// answer here must carry.
    static let serviceFields: Set = ["service_code", "service_name", "description", "metadata", "type", "keywords", "group"]
    static let requestFields: Set = ["service_request_id", "status", "status_notes", "service_name", "service_code", "description",
                                     "agency_responsible", "service_notice", "requested_datetime", "updated_datetime", "expected_datetime",
                                     "address", "address_id", "zipcode", "lat", "long", "media_url"]
    static let requiredRequestFields: Set = ["service_request_id", "status", "service_code", "requested_datetime"]

    static let canary = "CANARY-7f3e private words"
    static let handle = "@canary_citizen"

    // MARK: Reading the answers

    static func json(_ body: String) throws -> [[String: Any]] {
        try #require(try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [[String: Any]], "\(body)")
    }

    /// An XML list document as records of element texts, with its root's name.
    static func xml(_ body: String) throws -> (root: String, records: [[String: String]]) {
        final class Reader: NSObject, XMLParserDelegate {
            var path: [String] = []
            var root = ""
            var records: [[String: String]] = []
            var text = ""
            func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?, attributes: [String: String]) {
                if path.isEmpty { root = name }
                if path.count == 1 { records.append([:]) }
                path.append(name)
                text = ""
            }
            func parser(_ parser: XMLParser, foundCharacters string: String) { text += string }
            func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
                if path.count == 3 { records[records.count - 1][name] = text }
                path.removeLast()
            }
        }
        let reader = Reader()
        let parser = XMLParser(data: Data(body.utf8))
        parser.delegate = reader
        #expect(parser.parse(), "well-formed XML: \(body)")
        return (reader.root, reader.records)
    }

    // MARK: The query, without a broker

    @Test func theQueryReadsAsTheSpecSays() throws {
        let city = SwitchboardConfiguration.demo()
        let now = CalendarDate.parse("2026-12-04T12:00:00Z")!
        // No dates: the last 90 days, at most 1,000 requests.
        let plain = try GeoReportQuery.read([:], configuration: city, now: now)
        #expect(plain.receivedFrom == "2026-09-05T12:00:00.000Z" && plain.receivedBefore == "2026-12-04T12:00:00.000Z")
        #expect(plain.limit == 1_000 && plain.closed == nil)
        let filtered = try GeoReportQuery.read(["service_code": "roads,parks", "status": "closed", "start_date": "2026-11-01"], configuration: city, now: now)
        #expect(filtered.departments == ["roads", "parks"] && filtered.closed == true)
        #expect(filtered.receivedFrom == "2026-11-01T00:00:00.000Z" && filtered.receivedBefore == "2027-01-30T00:00:00.000Z")
        // A request id makes the rest not apply.
        let one = try GeoReportQuery.read(["service_request_id": "R-12,#13,14", "status": "nonsense"], configuration: city, now: now)
        #expect(one.caseNumbers == [12, 13, 14] && one.departments.isEmpty && one.receivedFrom == nil)
        // A zone's "+" that arrived as a space is still read.
        #expect(try GeoReportQuery.read(["end_date": "2026-11-05T08:15:30 01:00"], configuration: city, now: now).receivedBefore
            == "2026-11-05T07:15:30.000Z")
        func problem(_ parameters: [String: String]) -> GeoReportProblem? {
            do { _ = try GeoReportQuery.read(parameters, configuration: city, now: now); return nil } catch { return error }
        }
        #expect(problem(["start_date": "2026-01-01", "end_date": "2026-06-01"])?.description.contains("90 days") == true)
        #expect(problem(["start_date": "2026-06-01", "end_date": "2026-01-01"])?.description == "start_date must be before end_date")
        #expect(problem(["start_date": "yesterday"])?.code == 400)
        #expect(problem(["status": "pending"])?.description == "status must be open, closed, or both: open,closed")
        #expect(problem(["service_code": "potholes"])?.description.hasPrefix("service_code potholes is not a service; the services are front-office") == true)
        #expect(problem(["service_request_id": "abc"])?.description == "service_request_id abc is not a request id, such as R-4821")
    }

    // MARK: A broker, as a citizen's app reads it

    @Test func aBrokerPublishesItsServicesAndRequestsWithoutACitizensWords() throws {
        let port = try OpsEndpointTests.freePort()
        let daemon = try SpawnedDaemon(arguments: ["--stats", "127.0.0.1:\(port)"])
        let client = try MajordomoClient(context: try Context(), endpoint: daemon.endpoint)
        defer { client.close() }
        var ids: [String] = []
        for (n, text) in ["Streetlight is out on Elm \(Self.canary)", "Pothole on Main Street \(Self.canary)", "Thanks for the festival \(Self.canary)"].enumerated() {
            let body = Frame(#"{"source":{"platform":"x","account":"@RivertonCity","external_id":"open311-\#(n)"},"author":{"handle":"\#(Self.handle)","display_name":"Canary Citizen"},"text":"\#(text)","captured_at":"2026-11-22T09:30:00Z"}"#)
            ids.append(try #require(jsonObject(try client.request("sb.ingest", body: [body])?.body)["id"] as? String))
        }
        // The festival thanks is closed by an agent.
        let agent = ["--endpoint", daemon.endpoint, "--agent", "ana", "--department", "front-office"]
        #expect(try runTool("switchboard", ["claim", ids[2]] + agent).status == 0)
        #expect(try runTool("switchboard", ["close", ids[2], "--resolution", "answered", "--note", "\(Self.canary) in a note"] + agent).status == 0)

        var body = ""
        try waitUntil("the endpoint serves the services") {
            guard let answer = OpsEndpointTests.get(port, "/open311/v2/services.json"), answer.status == 200 else { return false }
            body = answer.body
            return true
        }
        let services = try Self.json(body)
        #expect(services.count == SwitchboardConfiguration.demo().departments.count)
        for service in services { #expect(Set(service.keys) == Self.serviceFields, "\(service)") }
        #expect(services.contains { $0["service_code"] as? String == "roads" && $0["service_name"] as? String == "Roads and street lighting" })
        let servicesXML = try Self.xml(try #require(OpsEndpointTests.get(port, "/open311/v2/services.xml")).body)
        #expect(servicesXML.root == "services" && servicesXML.records.count == services.count)
        for service in servicesXML.records { #expect(Set(service.keys) == Self.serviceFields) }

        // Every request, newest first, once the projection holds the close.
        var requests: [[String: Any]] = []
        try waitUntil("the closed request is listed as closed") {
            requests = (try? Self.json(OpsEndpointTests.get(port, "/open311/v2/requests.json")?.body ?? "")) ?? []
            return requests.first?["status"] as? String == "closed"
        }
        #expect(requests.map { $0["service_request_id"] as? String } == ["R-3", "R-2", "R-1"])
        for request in requests {
            #expect(Set(request.keys).isSubset(of: Self.requestFields) && Self.requiredRequestFields.isSubset(of: request.keys), "\(request)")
            #expect(request["description"] as? String == "")
        }
        #expect(requests[0]["status_notes"] as? String == "Answered and closed by Contact centre.", "\(requests[0])")
        #expect(requests[2]["service_code"] as? String == "roads" && requests[2]["agency_responsible"] as? String == "Roads and street lighting")
        #expect(requests[2]["status_notes"] as? String == "Waiting to be taken up by Roads and street lighting.")
        #expect(requests[2]["expected_datetime"] is String, "an open request's resolution clock runs")
        #expect(requests[0]["expected_datetime"] is NSNull, "a closed one's has stopped")

        // The same in XML, and the canary, the handle and the name in neither.
        let xmlBody = try #require(OpsEndpointTests.get(port, "/open311/v2/requests.xml")).body
        let xml = try Self.xml(xmlBody)
        #expect(xml.root == "service_requests" && xml.records.map { $0["service_request_id"] } == ["R-3", "R-2", "R-1"])
        for record in xml.records { #expect(Set(record.keys) == Set(requests[0].keys)) }
        let jsonBody = try #require(OpsEndpointTests.get(port, "/open311/v2/requests.json")).body
        for published in [jsonBody, xmlBody, body] {
            for secret in ["CANARY", "canary_citizen", "Canary Citizen", "RivertonCity", "open311-"] { #expect(!published.contains(secret), "\(secret)") }
        }

        // Filters, one request, and errors in the spec's form.
        let open = try Self.json(try #require(OpsEndpointTests.get(port, "/open311/v2/requests.json?status=open&service_code=roads")).body)
        #expect(open.map { $0["service_request_id"] as? String } == ["R-2", "R-1"])
        let closed = try Self.json(try #require(OpsEndpointTests.get(port, "/open311/v2/requests.json?status=closed")).body)
        #expect(closed.map { $0["service_request_id"] as? String } == ["R-3"])
        let single = try #require(OpsEndpointTests.get(port, "/open311/v2/requests/R-2.json"))
        #expect(single.status == 200)
        #expect(try Self.json(single.body).map { $0["service_request_id"] as? String } == ["R-2"], "a one-element array")
        let byID = try Self.json(try #require(OpsEndpointTests.get(port, "/open311/v2/requests.json?service_request_id=R-1,R-3")).body)
        #expect(Set(byID.compactMap { $0["service_request_id"] as? String }) == ["R-1", "R-3"])
        let missing = try #require(OpsEndpointTests.get(port, "/open311/v2/requests/R-99.json"))
        #expect(missing.status == 404)
        #expect(try Self.json(missing.body).first?["description"] as? String == "there is no request R-99")
        #expect(try Self.json(missing.body).first?["code"] as? Int == 404)
        let wide = try #require(OpsEndpointTests.get(port, "/open311/v2/requests.xml?start_date=2026-01-01&end_date=2026-12-01"))
        #expect(wide.status == 400)
        let error = try Self.xml(wide.body)
        #expect(error.root == "errors" && error.records.first?["code"] == "400" && error.records.first?["description"]?.contains("90 days") == true)
        let unformatted = try #require(OpsEndpointTests.get(port, "/open311/v2/requests"))
        #expect(unformatted.status == 404 && unformatted.body.contains("end in .json or .xml"), "\(unformatted)")
        #expect(try Self.json(try #require(OpsEndpointTests.get(port, "/open311/v2/requests.json?start_date=2020-01-01")).body).isEmpty,
                "nothing arrived in that window")
    }

    /// `expected_datetime` is the resolution clock's due time in its calendar, the same
    /// time the agent's `show` gives.
    @Test func theExpectedTimeFollowsTheSLAClock() throws {
        let port = try OpsEndpointTests.freePort()
        let daemon = try SLACalendarTests.broker(
            calendar: "time_zone: Europe/Brussels\n    hours: {monday: 08:00-16:00, tuesday: 08:00-16:00, wednesday: 08:00-16:00, thursday: 08:00-16:00, friday: 08:00-16:00}",
            targets: "normal: {first_response: 8h, resolution: 24h}", arguments: ["--stats", "127.0.0.1:\(port)"])
        let (_, clocks) = try SLACalendarTests.ingestAndShow(daemon)
        let due = try #require(clocks.first { $0["clock"] as? String == "resolution" }?["due_at"] as? String)
        var request: [String: Any] = [:]
        try waitUntil("the request is published") {
            request = (try? Self.json(OpsEndpointTests.get(port, "/open311/v2/requests/R-1.json")?.body ?? ""))?.first ?? [:]
            return !request.isEmpty
        }
        #expect(request["expected_datetime"] as? String == due)
        // Three working days of eight hours: never less than two calendar days away.
        let received = try #require(ISO8601DateFormatter().date(from: String((request["requested_datetime"] as? String ?? "").prefix(19)) + "Z"))
        let expected = try #require(ISO8601DateFormatter().date(from: String(due.prefix(19)) + "Z"))
        #expect(expected.timeIntervalSince(received) > 2 * 86_400)
    }

    /// Request lists are public: a few at a time read the store, the rest are told to come back.
    @Test func onlyAFewRequestListsReadTheStoreAtOnce() {
        let limit = ConcurrencyLimit(2)
        #expect(limit.enter() && limit.enter())
        #expect(!limit.enter(), "a third at once is refused")
        limit.leave()
        #expect(limit.enter(), "one left: room again")
        #expect(!limit.enter())
    }
}
