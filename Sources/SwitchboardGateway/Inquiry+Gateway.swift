import Foundation
import SwitchboardCore

/// What a gateway writes: the 2/SB-INGEST envelope model (``Inquiry``) as one JSON frame.
/// The broker reads it with its strict decoder; the tests read every envelope a gateway
/// builds back through that decoder.
extension Inquiry {
    public var json: [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return Array((try? encoder.encode(self)) ?? Data())
    }

    /// A platform's clock as ISO 8601 in UTC, with milliseconds.
    public static func timestamp(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: date)
    }
}

extension Array {
    /// nil for an empty array: an envelope leaves out what it has none of.
    var nonEmpty: Self? { isEmpty ? nil : self }
}
