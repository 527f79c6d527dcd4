import Foundation

/// A time-ordered inquiry id: a UUIDv7 (RFC 9562), 48 bits of Unix milliseconds then
/// random bits. Ids sort by arrival, and the value is 16 bytes, so the in-memory queue
/// index stays small.
public struct InquiryID: Hashable, Comparable, Sendable, CustomStringConvertible, Codable {
    public let high: UInt64
    public let low: UInt64

    public init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    /// A new UUIDv7 for `milliseconds` since the Unix epoch.
    public static func generate<R: RandomNumberGenerator>(milliseconds: UInt64, using rng: inout R) -> InquiryID {
        let random = rng.next()
        let high = (milliseconds << 16) | 0x7000 | (random & 0x0FFF)
        let low = (rng.next() & 0x3FFF_FFFF_FFFF_FFFF) | 0x8000_0000_0000_0000
        return InquiryID(high: high, low: low)
    }

    /// When the id was made (the inquiry was received), to the millisecond.
    public var createdAt: Date {
        Date(timeIntervalSince1970: Double(high >> 16) / 1_000)
    }

    /// The text every id made at or after `date` sorts at or after, and every id made
    /// before it sorts before: ids are made at arrival, so a range of arrival times is a
    /// range of the id's index (the store has no index on the arrival time itself).
    public static func lowerBound(at date: Date) -> String {
        InquiryID(high: UInt64(max(0, date.timeIntervalSince1970 * 1_000)) << 16, low: 0).description
    }

    /// A new id for `date`, with random bits from the process's ``RandomPool``.
    public static func generate(at date: Date = Date()) -> InquiryID {
        let milliseconds = UInt64(max(0, date.timeIntervalSince1970 * 1_000))
        return RandomPool.shared.withLock { pool in generate(milliseconds: milliseconds, using: &pool) }
    }

    /// Parses the canonical 8-4-4-4-12 hex form (either case), byte by byte: a restart
    /// parses one id per queued inquiry.
    public init?(_ text: some StringProtocol) {
        var high: UInt64 = 0, low: UInt64 = 0
        var digits = 0, position = 0
        for byte in text.utf8 {
            defer { position += 1 }
            if position == 8 || position == 13 || position == 18 || position == 23 {
                guard byte == UInt8(ascii: "-") else { return nil }
                continue
            }
            let value: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): value = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): value = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): value = byte - UInt8(ascii: "A") + 10
            default: return nil
            }
            if digits < 16 { high = high << 4 | UInt64(value) } else { low = low << 4 | UInt64(value) }
            digits += 1
        }
        guard position == 36, digits == 32 else { return nil }
        self.init(high: high, low: low)
    }

    /// The canonical 8-4-4-4-12 form, written byte by byte: ids are formatted for every
    /// store row, event and reply, so this is on the hot path.
    public var description: String {
        String(unsafeUninitializedCapacity: 36) { buffer in
            let digits: StaticString = "0123456789abcdef"
            var index = 0
            for (word, start) in [(high, 0), (low, 16)] {
                for nibble in 0..<16 {
                    let position = start + nibble
                    if position == 8 || position == 12 || position == 16 || position == 20 {
                        buffer[index] = UInt8(ascii: "-")
                        index += 1
                    }
                    let value = Int((word >> UInt64(60 - 4 * nibble)) & 0xF)
                    buffer[index] = digits.utf8Start[value]
                    index += 1
                }
            }
            return index
        }
    }

    public static func < (a: InquiryID, b: InquiryID) -> Bool { (a.high, a.low) < (b.high, b.low) }

    public init(from decoder: Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let id = InquiryID(text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "not a UUID: \(text)"))
        }
        self = id
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}
