import Testing
import TestSupport
import ZeroMQ
@testable import Majordomo

@Suite struct WorkerCommandCodecTests {
    @Test(arguments: [
        WorkerCommand.ready(service: "waste"),
        .request(client: Frame([0, 1, 2, 0xFF]), body: ["a", .empty, Frame([0])]),
        .request(client: "c", body: []),
        .reply(client: "client-1", body: ["answer"]),
        .heartbeat,
        .disconnect,
    ])
    func roundTrips(_ command: WorkerCommand) throws {
        #expect(try WorkerCommand(frames: command.frames) == command)
        #expect(command.frames[0] == .empty)
        #expect(command.frames[1] == "MDPW01")
        #expect(command.frames[2] == Frame([command.code]))
    }

    @Test func readyMatchesTheRFCFramesAndCarriesCreditOnlyAboveOne() throws {
        #expect(WorkerCommand.ready(service: "echo").frames == [.empty, "MDPW01", Frame([1]), "echo"])
        #expect(WorkerCommand.ready(service: "echo", credit: 16).frames == [.empty, "MDPW01", Frame([1]), "echo", "16"])
        #expect(try WorkerCommand(frames: [.empty, "MDPW01", Frame([1]), "echo", "16"]) == .ready(service: "echo", credit: 16))
        #expect(try WorkerCommand(frames: [.empty, "MDPW01", Frame([1]), "echo"]) == .ready(service: "echo", credit: 1))
        #expect(WorkerCommand.request(client: "C", body: ["x"]).frames == [.empty, "MDPW01", Frame([2]), "C", .empty, "x"])
    }

    @Test func malformedWorkerMessagesAreTypedErrors() {
        let cases: [([Frame], MDPError)] = [
            ([.empty, "MDPW01"], .tooFewFrames(2, needed: 3)),
            (["x", "MDPW01", Frame([4])], .missingEmptyFrame),
            ([.empty, "MDPW02", Frame([4])], .unknownProtocol("MDPW02")),
            ([.empty, "MDPW01", Frame([9])], .unknownCommand(Frame([9]))),
            ([.empty, "MDPW01", Frame([1, 1])], .unknownCommand(Frame([1, 1]))),
            ([.empty, "MDPW01", .empty], .unknownCommand(.empty)),
            ([.empty, "MDPW01", Frame([1])], .wrongFrameCount(3, command: "READY", expected: "4 (or 5 with a credit)")),
            ([.empty, "MDPW01", Frame([1]), "a", "b", "c"], .wrongFrameCount(6, command: "READY", expected: "4 (or 5 with a credit)")),
            ([.empty, "MDPW01", Frame([1]), "a", "b"], .invalidCredit("b")),
            ([.empty, "MDPW01", Frame([1]), "a", "0"], .invalidCredit("0")),
            ([.empty, "MDPW01", Frame([1]), "a", "1001"], .invalidCredit("1001")),
            ([.empty, "MDPW01", Frame([1]), .empty], .invalidServiceName),
            ([.empty, "MDPW01", Frame([1]), Frame([0x41, 0x0A])], .invalidServiceName),
            ([.empty, "MDPW01", Frame([1]), Frame([0xFF, 0xFE])], .invalidServiceName),
            ([.empty, "MDPW01", Frame([3]), "client"], .wrongFrameCount(4, command: "REPLY", expected: "5 or more")),
            ([.empty, "MDPW01", Frame([3]), "client", "notempty"], .missingEnvelopeDelimiter),
            ([.empty, "MDPW01", Frame([4]), "extra"], .wrongFrameCount(4, command: "HEARTBEAT", expected: "3")),
            ([.empty, "MDPW01", Frame([5]), "extra"], .wrongFrameCount(4, command: "DISCONNECT", expected: "3")),
        ]
        for (frames, expected) in cases {
            #expect(throws: expected, "\(frames)") { try WorkerCommand(frames: frames) }
        }
    }

    @Test func serviceNamesAreLimitedTo255Bytes() throws {
        let longest = String(repeating: "a", count: 255)
        #expect(try WorkerCommand(frames: WorkerCommand.ready(service: longest).frames) == .ready(service: longest))
        #expect(throws: MDPError.invalidServiceName) {
            try WorkerCommand(frames: [.empty, "MDPW01", Frame([1]), Frame(longest + "a")])
        }
    }
}

@Suite struct ClientMessageCodecTests {
    @Test func roundTrips() throws {
        let message = ClientMessage(service: "front-office", body: ["hello", .empty, Frame([0, 0xFF])])
        #expect(message.frames == [.empty, "MDPC01", "front-office", "hello", .empty, Frame([0, 0xFF])])
        #expect(try ClientMessage(frames: message.frames) == message)
        #expect(try ClientMessage(frames: [.empty, "MDPC01", "svc"]) == ClientMessage(service: "svc", body: []))
    }

    @Test func brokerInboundTellsClientsFromWorkers() throws {
        #expect(try BrokerInbound(frames: [.empty, "MDPC01", "svc", "x"]) == .client(ClientMessage(service: "svc", body: ["x"])))
        #expect(try BrokerInbound(frames: [.empty, "MDPW01", Frame([4])]) == .worker(.heartbeat))
        #expect(throws: MDPError.unknownProtocol("HTTP/1.1")) { try BrokerInbound(frames: [.empty, "HTTP/1.1"]) }
        #expect(throws: MDPError.tooFewFrames(1, needed: 3)) { try BrokerInbound(frames: [.empty]) }
        #expect(throws: MDPError.missingEmptyFrame) { try BrokerInbound(frames: ["x", "MDPC01", "svc"]) }
        #expect(throws: MDPError.tooFewFrames(2, needed: 3)) { try BrokerInbound(frames: [.empty, "MDPC01"]) }
    }

}

/// Randomised input: any frame sequence decodes or throws, and never traps.
@Suite struct CodecFuzzTests {
    @Test func randomFrameSequencesNeverCrash() {
        var rng = SeededGenerator(seed: 0x5B_0A2D)
        let interesting: [Frame] = [.empty, "MDPC01", "MDPW01", Frame([1]), Frame([2]), Frame([3]), Frame([4]), Frame([5]), "svc"]
        var decoded = 0
        let valid: [[Frame]] = [
            ClientMessage(service: "roads", body: ["a", "b"]).frames, WorkerCommand.ready(service: "roads", credit: 16).frames,
            WorkerCommand.reply(client: "c", body: ["x"]).frames, WorkerCommand.heartbeat.frames, WorkerCommand.disconnect.frames,
        ]
        for round in 0..<100_000 {
            let count = Int(rng.next() % 8)
            var frames: [Frame] = (0..<count).map { _ in
                if rng.next() % 3 == 0 {
                    return Frame((0..<Int(rng.next() % 6)).map { _ in UInt8(truncatingIfNeeded: rng.next()) })
                }
                return interesting[Int(rng.next() % UInt64(interesting.count))]
            }
            // A third of the cases: a valid message, truncated or given a bad tail.
            if round % 3 == 0 {
                let message = valid[Int(rng.next() % UInt64(valid.count))]
                let keep = Int(rng.next() % UInt64(message.count + 1))
                frames = Array(message.prefix(keep)) + (rng.next() % 2 == 0 ? frames.prefix(2) : [])
            }
            if (try? BrokerInbound(frames: frames)) != nil { decoded += 1 }
            _ = try? WorkerCommand(frames: frames)
            _ = try? ClientMessage(frames: frames)
        }
        // The generator is biased towards real frames, so some inputs must be valid.
        #expect(decoded > 10)
    }
}
