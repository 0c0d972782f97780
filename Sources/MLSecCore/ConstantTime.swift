// ConstantTime: comparisons of secrets whose duration does not depend on where the inputs differ.

/// Comparisons for MACs, digests and keys.
public enum ConstantTime {
    /// `true` when `a` and `b` have the same length and bytes. The time taken depends only on the lengths.
    public static func equal<A: Collection, B: Collection>(_ a: A, _ b: B) -> Bool
    where A.Element == UInt8, B.Element == UInt8 {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for (x, y) in zip(a, b) { difference |= x ^ y }
        return difference == 0
    }
}
