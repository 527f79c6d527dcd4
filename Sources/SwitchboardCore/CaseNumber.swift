import Foundation

/// The short number people quote for an inquiry (`R-4821`), as helpdesks give tickets
/// (`#4821`). Ids are UUIDv7s: unique without coordination, but ids of the same minute
/// share their first eight characters, and nobody reads 36 characters down a phone.
///
/// Numbers are sequential per installation, given once at ingest and never reused: the
/// store's row sequence, which SQLite's AUTOINCREMENT never hands out twice, even for
/// deleted rows. A number is never shown before its inquiry is durable, so one a crash
/// took back was seen by nobody. The full id stays the key everywhere.
public struct CaseNumbering: Sendable, Equatable {
    /// What goes in front of the number: `R-` unless the configuration says otherwise.
    public var prefix: String

    public static let defaultPrefix = "R-"

    public init(prefix: String = CaseNumbering.defaultPrefix) {
        self.prefix = prefix
    }

    /// `R-4821`.
    public func format(_ number: Int) -> String { prefix + String(number) }

    /// The number in what someone typed, if it names a case: `R-4821` (any case), `#4821`,
    /// or the bare digits `4821`. Bare digits never start with 0, which tells them from
    /// an id's prefix (a UUIDv7 made before the year 2527 starts with 0).
    public func parse(_ text: String) -> Int? {
        var rest = Substring(text.trimmingCharacters(in: .whitespaces))
        if !prefix.isEmpty, rest.lowercased().hasPrefix(prefix.lowercased()) {
            rest = rest.dropFirst(prefix.count)
        } else if rest.hasPrefix("#") {
            rest = rest.dropFirst()
        } else if rest.first == "0" {
            return nil
        }
        guard !rest.isEmpty, rest.count <= 15, rest.allSatisfy({ $0.isASCII && $0.isNumber }), let number = Int(rest), number > 0 else {
            return nil
        }
        return number
    }
}
