// RobustCovariance.swift: a trimmed (MCD-like) centre and a Ledoit–Wolf shrunk covariance, and Mahalanobis distances.

import Foundation

/// The robust location and scatter of one class's rows, for squared Mahalanobis distances.
struct RobustCovariance {
    var centre: [Double]
    /// Lower Cholesky factor of the shrunk covariance, row-major d × d.
    var cholesky: [Double]
    var dimension: Int
    /// The Ledoit–Wolf shrinkage toward a scaled identity (0: sample covariance, 1: scaled identity).
    var shrinkage: Double

    /// Starts at the coordinate-wise median, then `steps` concentration steps: keep the `trim` fraction of rows
    /// closest to the current fit, refit mean and covariance on them. Nil when the rows have no spread at all.
    static func fit(rows: [Double], count: Int, dimension d: Int, trim: Double = 0.75, steps: Int = 3) -> RobustCovariance? {
        var centre = (0..<d).map { c in median((0..<count).map { rows[$0 * d + c] }) }
        var subset = Array(0..<count)
        var fit: RobustCovariance?
        for step in 0...steps {
            if step > 0 {
                centre = [Double](repeating: 0, count: d)
                for r in subset { for c in 0..<d { centre[c] += rows[r * d + c] } }
                for c in 0..<d { centre[c] /= Double(subset.count) }
            }
            guard let next = shrunk(rows: rows, subset: subset, centre: centre, dimension: d) else { return fit }
            fit = next
            let distances = next.squaredDistances(rows: rows, count: count)
            let keep = max(d + 1, Int((trim * Double(count)).rounded(.up)))
            subset = Array((0..<count).sorted { distances[$0] < distances[$1] }.prefix(min(count, keep)))
        }
        return fit
    }

    /// Squared Mahalanobis distance of every row: ‖L⁻¹(x − centre)‖².
    func squaredDistances(rows: [Double], count: Int) -> [Double] {
        let d = dimension
        var y = [Double](repeating: 0, count: d)
        return (0..<count).map { r in
            var total = 0.0
            for i in 0..<d {
                var s = rows[r * d + i] - centre[i]
                for j in 0..<i { s -= cholesky[i * d + j] * y[j] }
                y[i] = s / cholesky[i * d + i]
                total += y[i] * y[i]
            }
            return total
        }
    }

    /// Ledoit–Wolf: Σ = (1 − α) S + α μ I with μ = tr(S)/d and α the estimated optimal intensity, but at least
    /// d / (n + d): with few rows per feature (64 features, ~130 trimmed rows per class) the estimate of α is
    /// itself noisy, and the floor keeps rarely-used directions from getting vanishing variances.
    static func shrunk(rows: [Double], subset: [Int], centre: [Double], dimension d: Int) -> RobustCovariance? {
        let n = Double(subset.count)
        var s = [Double](repeating: 0, count: d * d)
        var fourth = 0.0
        var x = [Double](repeating: 0, count: d)
        for r in subset {
            var norm = 0.0
            for c in 0..<d {
                x[c] = rows[r * d + c] - centre[c]
                norm += x[c] * x[c]
            }
            fourth += norm * norm
            for i in 0..<d where x[i] != 0 {
                for j in 0...i { s[i * d + j] += x[i] * x[j] }
            }
        }
        var trace = 0.0
        var frobenius = 0.0
        for i in 0..<d {
            for j in 0...i {
                s[i * d + j] /= n
                s[j * d + i] = s[i * d + j]
                frobenius += (i == j ? 1 : 2) * s[i * d + j] * s[i * d + j]
            }
            trace += s[i * d + i]
        }
        let mu = trace / Double(d)
        guard mu > 1e-12 else { return nil }
        let delta2 = max(0, (frobenius - 2 * mu * trace + mu * mu * Double(d)) / Double(d))
        let betaBar2 = max(0, (fourth / n - frobenius) / (n * Double(d)))
        let alpha = max(delta2 > 0 ? min(betaBar2, delta2) / delta2 : 1, Double(d) / (n + Double(d)))
        for i in 0..<d {
            for j in 0..<d { s[i * d + j] *= (1 - alpha) }
            s[i * d + i] += alpha * mu
        }
        guard let factor = choleskyFactor(s, d) else { return nil }
        return RobustCovariance(centre: centre, cholesky: factor, dimension: d, shrinkage: alpha)
    }

    /// The lower Cholesky factor of a symmetric positive-definite matrix, or nil when it is not positive definite.
    static func choleskyFactor(_ a: [Double], _ d: Int) -> [Double]? {
        var l = [Double](repeating: 0, count: d * d)
        for i in 0..<d {
            for j in 0...i {
                var s = a[i * d + j]
                for m in 0..<j { s -= l[i * d + m] * l[j * d + m] }
                if i == j {
                    guard s > 0 else { return nil }
                    l[i * d + i] = s.squareRoot()
                } else {
                    l[i * d + j] = s / l[j * d + j]
                }
            }
        }
        return l
    }

    static func median(_ values: [Double]) -> Double {
        guard !values.isEmpty else { return 0 }
        let sorted = values.sorted()
        let mid = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
    }
}
