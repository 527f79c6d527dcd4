import ArgumentParser
import SwitchboardCore

/// A duration on the command line: `250ms`, `2.5s`, `5m` or `1h` (see ``DurationText``).
struct DurationArgument: ExpressibleByArgument, CustomStringConvertible {
    let duration: Duration

    init(_ duration: Duration) { self.duration = duration }

    init?(argument: String) {
        guard let seconds = DurationText.seconds(argument) else { return nil }
        duration = .milliseconds(Int64((seconds * 1_000).rounded()))
    }

    var description: String {
        let ms = duration.components.seconds * 1_000 + duration.components.attoseconds / 1_000_000_000_000_000
        return ms % 1_000 == 0 ? "\(ms / 1_000)s" : "\(ms)ms"
    }

    static var defaultCompletionKind: CompletionKind { .default }
}
