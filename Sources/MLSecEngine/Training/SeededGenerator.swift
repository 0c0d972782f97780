// SeededGenerator: a reproducible random number generator (SplitMix64) for initialisation and shuffling.

/// SplitMix64: small, fast and reproducible across platforms.
public struct SeededGenerator: RandomNumberGenerator, Sendable {
    var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Shuffles `elements` in place: Fisher-Yates from the last index down, `j = next() % (i + 1)`. The
    /// project's own algorithm (the standard library's `shuffle(using:)` may change between toolchains), simple
    /// enough to reproduce in any language.
    public mutating func shuffle<T>(_ elements: inout [T]) {
        var i = elements.count - 1
        while i > 0 {
            let j = Int(next() % UInt64(i + 1))
            elements.swapAt(i, j)
            i -= 1
        }
    }

    /// Uniform in [lo, hi).
    public mutating func uniform(_ lo: Float, _ hi: Float) -> Float {
        lo + (hi - lo) * Float(next() >> 40) / Float(1 << 24)
    }
}
