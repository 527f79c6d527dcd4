import Synchronization
import SwitchboardCore

/// The authorised keys the broker checks, shared between the thread that reloads them
/// (on SIGHUP) and the engine, which reads them at every connection and every message:
/// a key removed from the file loses its rights at once, without dropping anyone else.
public final class KeyRing: Sendable {
    private let keys: Mutex<AuthorizedKeys>

    public init(_ keys: AuthorizedKeys) {
        self.keys = Mutex(keys)
    }

    public var current: AuthorizedKeys { keys.withLock { $0 } }

    public func replace(with keys: AuthorizedKeys) {
        self.keys.withLock { $0 = keys }
    }

    func holder(publicKey: String) -> KeyHolder? { keys.withLock { $0.byKey[publicKey] } }
}
