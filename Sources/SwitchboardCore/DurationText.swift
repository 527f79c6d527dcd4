extension Duration {
    /// The duration in seconds, with its fraction: for figures and histograms.
    public var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}

/// Durations as people write them in options and configuration: `500ms`, `2.5s`, `15m`,
/// `8h`, `5d`. One parser for the command line and the YAML file.
public enum DurationText {
    /// The number of seconds `text` stands for, or nil when it is not a duration.
    public static func seconds(_ text: String) -> Double? {
        let units: [(suffix: String, seconds: Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3_600), ("d", 86_400)]
        for (suffix, seconds) in units where text.hasSuffix(suffix) {
            guard let value = Double(text.dropLast(suffix.count)), value >= 0, value.isFinite else { return nil }
            return value * seconds
        }
        return nil
    }

    /// An age as people read it at a glance, to the largest two units: `45s`, `12m`,
    /// `3h 5m`, `2d 4h`.
    public static func age(_ seconds: Double) -> String {
        let total = Int(max(0, seconds).rounded(.down))
        switch total {
        case ..<60: return "\(total)s"
        case ..<3_600: return "\(total / 60)m"
        case ..<86_400: return "\(total / 3_600)h \(total % 3_600 / 60)m"
        default: return "\(total / 86_400)d \(total % 86_400 / 3_600)h"
        }
    }
}
