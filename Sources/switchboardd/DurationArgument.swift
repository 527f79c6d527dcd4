import ArgumentParser

/// A duration on the command line: `250ms`, `2.5s`, `5m` or `1h`.
struct DurationArgument: ExpressibleByArgument, CustomStringConvertible {
    let duration: Duration

    init(_ duration: Duration) { self.duration = duration }

    init?(argument: String) {
        let units: [(suffix: String, seconds: Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3_600)]
        for (suffix, seconds) in units where argument.hasSuffix(suffix) {
            guard let value = Double(argument.dropLast(suffix.count)), value >= 0, value.isFinite else { return nil }
            duration = .milliseconds(Int64((value * seconds * 1_000).rounded()))
            return
        }
        return nil
    }

    var description: String {
        let ms = duration.components.seconds * 1_000 + duration.components.attoseconds / 1_000_000_000_000_000
        return ms % 1_000 == 0 ? "\(ms / 1_000)s" : "\(ms)ms"
    }

    static var defaultCompletionKind: CompletionKind { .default }
}
