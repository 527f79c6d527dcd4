import Foundation
import Majordomo
import Synchronization
import ZeroMQ

/// Worker sockets driven by one background thread with a poller.
final class WorkerPool: Sendable {
    enum Kind: Sendable {
        /// DEALER sockets behind a ROUTER/DEALER proxy: echo the envelope and body.
        case echo
        /// 7/MDP workers for `services`, spread round robin, replying with their body
        /// (or with `reply` when set).
        case majordomo(services: [String], reply: Frame?, credit: Int)
    }

    private let stopRequested = Mutex(false)
    private let finished = DispatchSemaphore(value: 0)
    private let ready = DispatchSemaphore(value: 0)
    let handled = Mutex(0)

    init(endpoint: String, count: Int, kind: Kind) {
        let thread = Thread { [self] in
            defer { finished.signal() }
            do {
                try run(endpoint: endpoint, count: count, kind: kind)
            } catch {
                FileHandle.standardError.write(Data("bench workers failed: \(error)\n".utf8))
                ready.signal()
            }
        }
        thread.start()
        ready.wait()
    }

    private func run(endpoint: String, count: Int, kind: Kind) throws {
        let sockets = try connectClients(endpoint: endpoint, count: count)
        if case .majordomo(let services, _, let credit) = kind {
            for (index, socket) in sockets.enumerated() {
                try socket.send(WorkerCommand.ready(service: services[index % services.count], credit: credit).frames)
            }
        }
        ready.signal()
        var poller = Poller(sockets)
        var nextHeartbeat = ContinuousClock.now + .seconds(1)
        var local = 0
        while !stopRequested.withLock({ $0 }) {
            let readable = try poller.poll(timeout: .milliseconds(50))
            for (index, isReady) in readable.enumerated() where isReady {
                let socket = sockets[index]
                while let frames = try socket.receive(.nonBlocking) {
                    switch kind {
                    case .echo:
                        try socket.send(frames)
                        local += 1
                    case .majordomo(_, let fixed, _):
                        guard case .request(let client, let body)? = try? WorkerCommand(frames: frames) else { continue }
                        try socket.send(WorkerCommand.reply(client: client, body: fixed.map { [$0] } ?? body).frames)
                        local += 1
                    }
                }
            }
            // Counted in bulk under load; at once when idle, so a drain is seen to end.
            if local >= 256 || (local > 0 && !readable.contains(true)) {
                let add = local
                handled.withLock { $0 += add }
                local = 0
            }
            if case .majordomo = kind, ContinuousClock.now >= nextHeartbeat {
                for socket in sockets { try socket.send(WorkerCommand.heartbeat.frames) }
                nextHeartbeat = ContinuousClock.now + .seconds(1)
            }
        }
        let add = local
        handled.withLock { $0 += add }
        for socket in sockets {
            if case .majordomo = kind { try? socket.send(WorkerCommand.disconnect.frames) }
            socket.close()
        }
    }

    var count: Int { handled.withLock { $0 } }

    /// Waits until the pool has handled `total` requests since it started; how long that took.
    func waitUntilHandled(_ total: Int, deadline: Duration) throws -> Duration {
        let start = ContinuousClock.now
        while count < total {
            guard ContinuousClock.now - start < deadline else {
                throw BenchError("the workers handled \(count) of \(total) requests within \(deadline)")
            }
            Thread.sleep(forTimeInterval: 0.02)
        }
        return ContinuousClock.now - start
    }

    func stop() {
        stopRequested.withLock { $0 = true }
        finished.wait()
    }
}

/// The physical limit: libzmq's own ROUTER/DEALER proxy on a thread of its own.
final class ZeroMQProxy: Sendable {
    let frontend: String
    let backend: String
    private let context: Context
    private let finished = DispatchSemaphore(value: 0)

    init() throws {
        let context = try Context()
        self.context = context
        let endpoints = Mutex<(String, String)?>(nil)
        let bound = DispatchSemaphore(value: 0)
        let finished = finished
        let thread = Thread {
            defer { finished.signal() }
            guard let front = try? Socket(context, .router), let back = try? Socket(context, .dealer) else { bound.signal(); return }
            for socket in [front, back] {
                try? socket.setSendHighWaterMark(0)
                try? socket.setReceiveHighWaterMark(0)
                try? socket.setLinger(.zero)
            }
            guard let f = try? front.bind("tcp://127.0.0.1:*"), let b = try? back.bind("tcp://127.0.0.1:*") else { bound.signal(); return }
            endpoints.withLock { $0 = (f, b) }
            bound.signal()
            _ = try? Proxy.run(frontend: front, backend: back)
            front.close()
            back.close()
        }
        thread.start()
        bound.wait()
        guard let (f, b) = endpoints.withLock({ $0 }) else { throw BenchError("the ZeroMQ proxy could not bind") }
        frontend = f
        backend = b
    }

    func stop() {
        context.shutdown()
        finished.wait()
    }
}
