import Foundation
import Synchronization
import Testing
import ZeroMQ
@testable import Majordomo

/// The client's side of failover (9/SB-HA, "Clients and workers"), against two brokers
/// played by ROUTER sockets on a thread of their own: every broker standing by is a
/// takeover under way, which the client waits out within its timeout; given one broker,
/// its "not here" is the answer.
@Suite struct BinaryStarClientTests {
    /// Brokers that answer "not_active" to the first `standBy` requests they see between
    /// them, and "ok" after that, as a standby that took over does.
    final class Brokers {
        let endpoints: [String]
        private let shared = Shared()

        init(context: Context, count: Int, standBy: Int) throws {
            let name = UUID().uuidString
            endpoints = (0..<count).map { "inproc://star-\(name)-\($0)" }
            let sockets = Sockets(try endpoints.map { endpoint in
                let socket = try Socket(context, .router)
                _ = try socket.bind(endpoint)
                return socket
            })
            let thread = Thread { [shared] in
                while !shared.stop.load(ordering: .relaxed) {
                    for socket in sockets.all {
                        guard let frames = try? socket.receive(.timeout(.milliseconds(5))), frames.count >= 4 else { continue }
                        let count = shared.seen.withLock { count in
                            count += 1
                            return count
                        }
                        let answer: Frame = count > standBy ? "ok" : "not_active"
                        try? socket.send([frames[0], .empty, frames[2], frames[3], answer])
                    }
                }
                for socket in sockets.all { socket.close() }
            }
            thread.start()
        }

        /// What the test and the brokers' thread share.
        private final class Shared: Sendable {
            let seen = Mutex(0)
            let stop = Atomic(false)
        }

        /// The sockets, handed to the thread that alone uses them from then on.
        private final class Sockets: @unchecked Sendable {
            let all: [Socket]
            init(_ all: [Socket]) { self.all = all }
        }

        var requests: Int { shared.seen.withLock { $0 } }

        func close() { shared.stop.store(true, ordering: .relaxed) }
    }

    /// One request through `count` brokers of which the first `standBy` answers say
    /// "not here": the reply's body, and how many requests the brokers saw.
    static func request(brokers count: Int, standBy: Int, timeout: Duration) throws -> (body: [Frame]?, requests: Int) {
        let context = try Context()
        let brokers = try Brokers(context: context, count: count, standBy: standBy)
        defer { brokers.close() }
        let client = try MajordomoClient(context: context, endpoints: brokers.endpoints, redirect: { $0.body.first == "not_active" })
        defer { client.close() }
        let reply = try client.request("sb.agent.claim", body: ["{}"], timeout: timeout)
        return (reply?.body, brokers.requests)
    }

    @Test func everyBrokerStandingByIsWaitedOutWithinTheTimeout() throws {
        // Three rounds of both brokers saying "not here", as while a standby takes over.
        let (body, requests) = try Self.request(brokers: 2, standBy: 6, timeout: .seconds(10))
        #expect(body == ["ok"])
        #expect(requests == 7)
    }

    @Test func theLastRedirectIsTheAnswerOnceTheTimeoutHasPassed() throws {
        let (body, requests) = try Self.request(brokers: 2, standBy: .max, timeout: .milliseconds(500))
        #expect(body == ["not_active"])
        #expect(requests >= 2)
    }

    @Test func givenOneBrokerItsRedirectIsAnsweredAtOnce() throws {
        let (body, requests) = try Self.request(brokers: 1, standBy: .max, timeout: .seconds(10))
        #expect(body == ["not_active"])
        #expect(requests == 1)
    }
}
