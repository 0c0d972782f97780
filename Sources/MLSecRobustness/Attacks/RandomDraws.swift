// RandomDraws: reproducible random draws for attacks and certification: Gaussian values, points in a norm ball,
// and one generator per example so that results do not depend on how examples are spread over threads.

import Foundation
import MLSecEngine

extension SeededGenerator {
    /// A generator for example `index` of a run seeded with `seed`: independent streams, the same on every run.
    static func forExample(_ index: Int, seed: UInt64) -> SeededGenerator {
        var mixer = SeededGenerator(seed: seed ^ (UInt64(truncatingIfNeeded: index) &* 0xD1B5_4A32_D192_ED03))
        return SeededGenerator(seed: mixer.next())
    }

    /// Uniform in (0, 1], 53 bits.
    mutating func unitInterval() -> Double {
        (Double(next() >> 11) + 1) * 0x1p-53
    }

    /// A standard normal value (Box-Muller; the second value of each pair is cached by the caller if wanted).
    mutating func gaussian() -> Float {
        let u1 = unitInterval(), u2 = unitInterval()
        return Float((-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2))
    }

    /// Fills `values` with independent normal values of standard deviation `sigma`.
    mutating func fillGaussian(_ values: inout [Float], sigma: Float) {
        var i = 0
        while i < values.count {
            let u1 = unitInterval(), u2 = unitInterval()
            let r = (-2 * log(u1)).squareRoot()
            values[i] = sigma * Float(r * cos(2 * Double.pi * u2))
            if i + 1 < values.count { values[i + 1] = sigma * Float(r * sin(2 * Double.pi * u2)) }
            i += 2
        }
    }

    /// A point drawn uniformly from the `radius` ball of `norm` in `dimension` dimensions.
    mutating func pointInBall(dimension: Int, radius: Float, norm: Norm) -> [Float] {
        switch norm {
        case .infinity:
            return (0..<dimension).map { _ in uniform(-radius, radius) }
        case .l2:
            var direction = [Float](repeating: 0, count: dimension)
            fillGaussian(&direction, sigma: 1)
            let length = direction.reduce(0) { $0 + $1 * $1 }.squareRoot()
            let r = radius * Float(pow(unitInterval(), 1 / Double(dimension)))
            return direction.map { length > 0 ? $0 * r / length : 0 }
        }
    }
}
