import Synchronization
import SwitchboardCore

/// A configuration handed from the thread that read it (on SIGHUP) to the engine thread.
final class PendingReload: Sendable {
    enum Reload: Sendable {
        case apply(SwitchboardConfiguration)
        /// The file could not be read or parsed; the reason names the line and field.
        case refused(String)
    }

    private let slot = Mutex<Reload?>(nil)

    func put(_ reload: Reload) { slot.withLock { $0 = reload } }
    func take() -> Reload? { slot.withLock { value in defer { value = nil }; return value } }
}
