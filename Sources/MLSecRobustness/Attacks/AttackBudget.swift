// AttackBudget: the norm an attack's budget is measured in, the input range it must stay inside, and the
// projections and norms shared by every attack.

import MLSecCore
import MLSecEngine

/// The norm of a perturbation budget.
public enum Norm: String, Sendable, CaseIterable {
    case infinity = "inf"
    case l2 = "2"

    /// The norm of `values`.
    public func of(_ values: UnsafeBufferPointer<Float>) -> Float {
        switch self {
        case .infinity: return values.reduce(0) { max($0, abs($1)) }
        case .l2: return values.reduce(0) { $0 + $1 * $1 }.squareRoot()
        }
    }

    /// The norm of `a - b` over `count` values.
    public func distance(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count: Int) -> Float {
        var result: Float = 0
        switch self {
        case .infinity: for i in 0..<count { result = max(result, abs(a[i] - b[i])) }
        case .l2:
            for i in 0..<count { result += (a[i] - b[i]) * (a[i] - b[i]) }
            result = result.squareRoot()
        }
        return result
    }

    public func distance(_ a: ArraySlice<Float>, _ b: ArraySlice<Float>) -> Float {
        a.withUnsafeBufferPointer { pa in
            b.withUnsafeBufferPointer { pb in distance(pa.baseAddress!, pb.baseAddress!, count: min(pa.count, pb.count)) }
        }
    }
}

/// The valid input values of a model: its declared `min` / `max` (unbounded where it declares none).
public struct InputRange: Sendable, Equatable {
    public var lower: Float
    public var upper: Float

    public init(lower: Float, upper: Float) throws {
        guard !lower.isNaN, !upper.isNaN, lower < upper else {
            throw MLSecError.malformed("the input range [\(lower), \(upper)] is empty")
        }
        self.lower = lower
        self.upper = upper
    }

    /// The range `spec` declares for its input.
    public init(spec: ModelSpec) throws {
        try self.init(lower: spec.input.min ?? -.infinity, upper: spec.input.max ?? .infinity)
    }

    /// `true` when both ends are finite (the model declares its range).
    public var isBounded: Bool { lower.isFinite && upper.isFinite }

    /// The width of the range (infinite when unbounded).
    public var width: Float { upper - lower }

    @inline(__always) public func clip(_ v: Float) -> Float { min(max(v, lower), upper) }
}

/// Batch helpers over row-major example blocks.
enum Perturbation {
    /// Replaces each row of `gradient` (`width` values per row) by its sign (L∞) or by itself over its L2 norm
    /// plus 1e-7 (L2), as ART's fast gradient method does; a zero gradient stays zero.
    static func direction(_ gradient: inout [Float], width: Int, norm: Norm) {
        switch norm {
        case .infinity:
            for i in gradient.indices { gradient[i] = gradient[i] > 0 ? 1 : (gradient[i] < 0 ? -1 : 0) }
        case .l2:
            var start = 0
            while start < gradient.count {
                var sum: Float = 0
                for i in start..<start + width { sum += gradient[i] * gradient[i] }
                let scale = 1 / (sum.squareRoot() + 1e-7)
                for i in start..<start + width { gradient[i] *= scale }
                start += width
            }
        }
    }

    /// Projects each row of `adversarial` onto the `epsilon` ball around the same row of `original`, then into
    /// `range`: the L∞ ball by clipping each value, the L2 ball by scaling the difference down to `epsilon`.
    static func project(_ adversarial: inout [Float], onto original: [Float], width: Int, epsilon: Float, norm: Norm,
                        range: InputRange) {
        switch norm {
        case .infinity:
            for i in adversarial.indices {
                let x = original[i]
                adversarial[i] = range.clip(min(max(adversarial[i], x - epsilon), x + epsilon))
            }
        case .l2:
            var start = 0
            while start < adversarial.count {
                var sum: Float = 0
                for i in start..<start + width {
                    adversarial[i] = range.clip(adversarial[i])
                    let d = adversarial[i] - original[i]
                    sum += d * d
                }
                let length = sum.squareRoot()
                if length > epsilon {
                    // Scaling toward the original keeps the point inside the (convex) range.
                    let scale = epsilon / length
                    for i in start..<start + width { adversarial[i] = original[i] + (adversarial[i] - original[i]) * scale }
                }
                start += width
            }
        }
    }
}
