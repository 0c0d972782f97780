// DecimalDigits: an unbounded non-negative integer kept as its decimal digits, so hostile version numbers
// such as `1.99999999999999999999999` compare exactly (as Python's int does) and never overflow.

/// A non-negative integer of any size, compared by value. Leading zeros are dropped on creation.
public struct DecimalDigits: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The digits without leading zeros ("0" for zero).
    public let digits: String

    /// `nil` unless `text` is one or more ASCII digits.
    public init?<S: StringProtocol>(_ text: S) {
        guard !text.isEmpty, text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
        let trimmed = text.drop { $0 == "0" }
        digits = trimmed.isEmpty ? "0" : String(trimmed)
    }

    public static let zero = DecimalDigits(digitsUnchecked: "0")

    private init(digitsUnchecked: String) { digits = digitsUnchecked }

    public var isZero: Bool { digits == "0" }
    public var description: String { digits }

    public static func < (lhs: DecimalDigits, rhs: DecimalDigits) -> Bool {
        let a = lhs.digits.utf8.count, b = rhs.digits.utf8.count
        if a != b { return a < b }
        return lhs.digits.utf8.lexicographicallyPrecedes(rhs.digits.utf8)
    }
}
