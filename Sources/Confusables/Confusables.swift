import CICU

/// Unicode's confusables (UTS #39), through ICU's spoof checker: the one module that
/// calls ICU. Two strings that look alike to a reader (`0` and `o`, `1` and `l`, Cyrillic
/// `а` and Latin `a`, …) have the same *skeleton*.
public enum Confusables {
    /// The UTS #39 skeleton of `text`, or `text` itself if ICU cannot compute one.
    public static func skeleton(_ text: String) -> String {
        let input = Array(text.utf8)
        var capacity = max(64, input.count * 4 + 16)
        for _ in 0..<2 {
            var output = [CChar](repeating: 0, count: capacity)
            let written = input.withUnsafeBufferPointer { bytes in
                bytes.withMemoryRebound(to: CChar.self) { sb_icu_skeleton($0.baseAddress, Int32($0.count), &output, Int32(capacity)) }
            }
            if written >= 0 {
                return String(decoding: output.prefix(Int(written)).map { UInt8(bitPattern: $0) }, as: UTF8.self)
            }
            capacity *= 4   // a skeleton can be longer than its text; try once more, larger
        }
        return text
    }
}
