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
}
