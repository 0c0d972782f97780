// GaussianNoise and PoissonSampler: DP-SGD's two random ingredients, drawn from a cryptographically secure
// generator (SecureRandomGenerator unless a test injects another).

import Foundation
import MLSecCore

/// Standard normal draws by Marsaglia's polar method from 53-bit uniforms of `generator`.
///
/// Continuous (floating-point) Gaussian noise, used for DP-SGD's gradients, where the exact lattice samplers of
/// ``ExactSampler`` would cost about 20 µs a coordinate (see docs/privacy.md, "DP-SGD"). Every uniform comes from
/// the generator (a CSPRNG by default), never from a seeded PRNG.
public struct GaussianNoise<Generator: RandomNumberGenerator> {
    public var generator: Generator
    private var spare: Double?

    public init(generator: Generator) { self.generator = generator }

    /// A uniform in [-1, 1) on the grid 2^-52.
    @inline(__always) mutating func symmetricUniform() -> Double {
        Double(generator.next() >> 11) * 0x1p-52 - 1
    }

    /// One standard normal draw.
    public mutating func next() -> Double {
        if let z = spare {
            spare = nil
            return z
        }
        while true {
            let u = symmetricUniform(), v = symmetricUniform()
            let s = u * u + v * v
            guard s < 1, s > 0 else { continue }
            let f = (-2 * Foundation.log(s) / s).squareRoot()
            spare = v * f
            return u * f
        }
    }

    /// Adds N(0, standardDeviation²) to every value of `values`, then multiplies it by `scale`, computed in Double.
    public mutating func addNoise(standardDeviation: Double, to values: inout [Float], scale: Double = 1) {
        values.withUnsafeMutableBufferPointer { p in
            var i = 0
            if let z = spare, i < p.count {
                spare = nil
                p[i] = Float((Double(p[i]) + standardDeviation * z) * scale)
                i += 1
            }
            while i < p.count {
                let u = symmetricUniform(), v = symmetricUniform()
                let s = u * u + v * v
                guard s < 1, s > 0 else { continue }
                let f = (-2 * Foundation.log(s) / s).squareRoot() * standardDeviation
                p[i] = Float((Double(p[i]) + u * f) * scale)
                i += 1
                if i < p.count {
                    p[i] = Float((Double(p[i]) + v * f) * scale)
                    i += 1
                } else {
                    spare = v * f / standardDeviation
                }
            }
        }
    }
}

extension GaussianNoise where Generator == SecureRandomGenerator {
    /// Noise from BoringSSL's CSPRNG (the only default).
    public init() { self.init(generator: SecureRandomGenerator()) }
}

/// Poisson sampling: every record joins a batch independently with probability `rate`.
///
/// Each record takes one 64-bit word w and joins when w < ⌊rate·2⁶⁴⌋, so the probability used is within 2⁻⁶⁴ below
/// `rate`, never above it (a smaller sampling rate only strengthens the accountant's bound).
public struct PoissonSampler: Sendable {
    public let rate: Double
    let threshold: UInt64
    let everyone: Bool

    public init(rate: Double) throws {
        guard rate > 0, rate <= 1 else { throw MLSecError.usage("the sample rate must be in (0, 1], got \(rate)") }
        self.rate = rate
        everyone = rate == 1
        threshold = everyone ? .max : UInt64((rate * 0x1p64).rounded(.down))
    }

    /// The indices in 0..<count that join this batch, ascending.
    public func sample(count: Int, using generator: inout some RandomNumberGenerator, into batch: inout [Int]) {
        batch.removeAll(keepingCapacity: true)
        if everyone {
            batch.append(contentsOf: 0..<count)
            return
        }
        for i in 0..<count where generator.next() < threshold { batch.append(i) }
    }
}
