// TestRandom: the one deterministic generator (SplitMix64) the data tests draw their synthetic rows from.

import Foundation

struct Rng {
    var state: UInt64

    /// Uniform in (0, 1): never 0, so `log` below stays finite.
    mutating func next() -> Double {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return (Double((z ^ (z >> 31)) >> 11) + 0.5) / Double(1 << 53)
    }

    /// Standard normal (Box-Muller).
    mutating func normal() -> Double { (-2 * log(next())).squareRoot() * cos(2 * .pi * next()) }
}
