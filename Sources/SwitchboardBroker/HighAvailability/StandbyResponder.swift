import Foundation
import Logging
import Majordomo
import Synchronization
import SwitchboardProtocol
import ZeroMQ

/// What a standby broker does on its MDP endpoint: it answers every client request at once
/// with `not_active` (so a client switches to the next broker it knows instead of waiting
/// for a timeout) and sends every worker DISCONNECT (so it reconnects, and finds the active
/// broker). An `mmi.*` request is answered `404`, as 8/MMI says of a service this broker
/// does not offer. It holds no inquiry and reads nothing.
///
/// It owns its own ZeroMQ context and thread, and closes both in ``stop()``, so that the
/// engine of the same process can bind the same endpoint the moment this broker becomes
/// the active one. With CURVE on, it speaks CURVE with the broker's key (a client that
/// could not complete the handshake would only see a timeout); it authorises nobody, as
/// it offers nothing.
final class StandbyResponder: Sendable {
    /// The answer to every client request.
    static func notActiveAnswer(activeHolder: String?) -> ErrorAnswer {
        let active = activeHolder.map { "the active broker is \($0)" } ?? "no broker holds the lease at the moment"
        return ErrorAnswer(ErrorDetail(code: .notActive, message: "this broker is a standby (\(active)); send the request to the next broker you know"))
    }

    let endpoint: String
    private let context: Context
    /// The endpoint as bound (a `*` port resolved).
    let bound: String
    private let shared = Shared()

    /// What the owner and the responder's thread share.
    private final class Shared: Sendable {
        let activeHolder = Mutex<String?>(nil)
        let stopping = Atomic<Bool>(false)
        let finished = DispatchSemaphore(value: 0)
    }

    /// Binds `endpoint` and starts answering. The socket is made, bound, used and closed
    /// on the responder's own thread, which owns it.
    init(endpoint: String, curveSecretKey: String?, maxMessageSize: Int64, logger: Logger) throws(ZMQError) {
        self.endpoint = endpoint
        context = try Context(ioThreads: 1)
        let outcome = Mutex<Result<String, ZMQError>?>(nil)
        let ready = DispatchSemaphore(value: 0)
        let thread = Thread { [context, shared] in
            defer { shared.finished.signal() }
            let router: Socket
            do throws(ZMQError) {
                router = try Socket(context, .router)
                try router.setLinger(.zero)
                try router.setMaxMessageSize(maxMessageSize)
                if let curveSecretKey { try router.setCurveServer(secretKey: curveSecretKey) }
                let bound = try router.bind(endpoint)
                outcome.withLock { $0 = .success(bound) }
            } catch {
                outcome.withLock { $0 = .failure(error) }
                ready.signal()
                return
            }
            ready.signal()
            Self.serve(router, shared)
            router.close()
        }
        thread.name = "sb-standby"
        thread.start()
        ready.wait()
        switch outcome.withLock({ $0 }) {
        case .success(let bound)?:
            self.bound = bound
        case .failure(let error)?:
            context.terminate()
            throw error
        case nil:
            context.terminate()
            throw .failed(function: "StandbyResponder", errno: .finiteStateMachine)
        }
    }

    /// Who the standby names as the active broker in its answers.
    func activeHolderChanged(_ holder: String?) { shared.activeHolder.withLock { $0 = holder } }

    /// Stops answering and frees the endpoint.
    func stop() {
        guard !shared.stopping.exchange(true, ordering: .acquiringAndReleasing) else { return }
        shared.finished.wait()
        context.terminate()
    }

    private static func serve(_ router: Socket, _ shared: Shared) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        while !shared.stopping.load(ordering: .acquiring) {
            guard let frames = try? router.receive(.timeout(.milliseconds(50))), frames.count >= 2 else { continue }
            let peer = frames[0]
            switch try? BrokerInbound(frames: Array(frames.dropFirst())) {
            case .client(let request)?:
                let body: Frame
                if request.service.hasPrefix(MDP.mmiPrefix) {
                    body = Frame("404")
                } else {
                    let answer = notActiveAnswer(activeHolder: shared.activeHolder.withLock { $0 })
                    body = Frame(bytes: Array((try? encoder.encode(answer)) ?? Data()))
                }
                try? router.send([peer] + ClientMessage(service: request.service, body: [body]).frames, dontWait: true)
            case .worker(let command)? where command != .disconnect:
                try? router.send([peer] + WorkerCommand.disconnect.frames, dontWait: true)
            default:
                continue
            }
        }
    }
}
