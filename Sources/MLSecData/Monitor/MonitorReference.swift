// MonitorReference.swift: what a model's live inputs and outputs are compared with: per-feature histogram bins
// (PSI) and step CDFs (Kolmogorov-Smirnov), a robust centre and whitening matrix for the Mahalanobis
// out-of-distribution score with a threshold calibrated on held-out rows, and the predicted class shares.

import Foundation
import MLSecCore

/// One input feature's reference distribution.
public struct FeatureReference: Sendable, Equatable {
    /// Ascending, distinct inner bin edges at the reference's quantiles (bin i holds (edges[i−1], edges[i]]).
    public var edges: [Double]
    /// The reference share of each bin (`edges.count + 1` shares summing to 1).
    public var shares: [Double]
    /// The reference step CDF: ascending distinct values and the share at or below each (the last is 1).
    public var cdfValues: [Double]
    public var cdfShares: [Double]
    /// The standard deviation of the feature in the reference.
    public var standardDeviation: Double

    public init(edges: [Double], shares: [Double], cdfValues: [Double], cdfShares: [Double], standardDeviation: Double) {
        self.edges = edges
        self.shares = shares
        self.cdfValues = cdfValues
        self.cdfShares = cdfShares
        self.standardDeviation = standardDeviation
    }
}

/// A model's monitoring reference, built from its training data by ``build(rows:count:featureNames:predictions:classCount:modelDigest:settings:)``
/// and stored as JSON (``MonitorReference/json``, read strictly by ``init(bytes:context:)``).
public struct MonitorReference: Sendable, Equatable {
    public static let format = "mlsec-monitor-reference"
    /// The weights it was built for (`MLSecEngine.Model.parameterDigest`): the gateway refuses it for others.
    public var modelDigest: String
    public var featureNames: [String]
    public var features: [FeatureReference]
    /// Rows the distributions were built from.
    public var rows: Int
    /// Predicted class shares over the reference rows.
    public var classShares: [Double]
    /// The robust centre of the inputs.
    public var centre: [Double]
    /// L⁻¹, the inverse of the lower Cholesky factor of the shrunk robust covariance, packed by rows
    /// (row i holds i + 1 entries): the squared Mahalanobis distance is ‖L⁻¹(x − centre)‖².
    public var whitening: [Double]
    /// The Ledoit-Wolf shrinkage the covariance was fitted with.
    public var shrinkage: Double
    /// Mahalanobis distances above this are out of distribution.
    public var oodThreshold: Double
    /// The false-positive rate the threshold was calibrated for, the held-out rows it was calibrated on and
    /// the share of them above it.
    public var oodFalsePositiveRate: Double
    public var heldOutRows: Int
    public var heldOutFlagRate: Double
    /// √(2 Σ variances): the typical distance between two reference rows (the query-pattern detector's unit).
    public var typicalDistance: Double

    public var featureCount: Int { featureNames.count }
    public var classCount: Int { classShares.count }

    /// How a reference is built.
    public struct Settings: Sendable {
        /// PSI bins per feature (at most; ties at the quantiles merge bins).
        public var bins = 10
        /// Points kept of each feature's CDF (a feature with more distinct values keeps this many quantiles),
        /// at most ``MonitorReference/maxCDFPoints``.
        public var cdfPoints = 256
        /// The out-of-distribution threshold's target false-positive rate, in (0, 0.5].
        public var falsePositiveRate = 0.01
        /// Every `heldOutEvery`-th row is held out of the covariance fit to calibrate the threshold.
        public var heldOutEvery = 5
        /// Most rows the covariance is fitted on (an even subsample beyond).
        public var maxFitRows = 20_000

        public init() {}
    }

    /// Most features a reference may describe (its whitening matrix has d(d+1)/2 entries, and each request
    /// costs about as many multiply-adds).
    public static let maxFeatures = 1024
    public static let maxClasses = 100_000
    /// Most CDF points a feature may keep (a window row stores each feature's CDF bucket in 16 bits).
    public static let maxCDFPoints = 4096

    /// Builds the reference of `count` rows of `featureNames.count` values with the model's `predictions`
    /// (class indices below `classCount`).
    /// - Throws: `MLSecError.usage` when there are too few rows, values are not finite, or a prediction is out of range.
    public static func build(rows: [Float], count: Int, featureNames: [String], predictions: [Int], classCount: Int,
                             modelDigest: String, settings: Settings = Settings()) throws -> MonitorReference {
        let d = featureNames.count
        guard d >= 1, d <= maxFeatures else { throw MLSecError.usage("a monitor reference needs 1...\(maxFeatures) features, got \(d)") }
        guard classCount >= 1, classCount <= maxClasses else { throw MLSecError.usage("the model has \(classCount) classes; 1...\(maxClasses) are supported") }
        guard rows.count == count * d, predictions.count == count else {
            throw MLSecError.usage("expected \(count) rows of \(d) values and \(count) predictions")
        }
        guard settings.falsePositiveRate > 0, settings.falsePositiveRate <= 0.5 else {
            throw MLSecError.usage("the false-positive rate must be in (0, 0.5]")
        }
        guard (2...255).contains(settings.bins), (2...maxCDFPoints).contains(settings.cdfPoints), settings.heldOutEvery >= 2 else {
            throw MLSecError.usage("bins must be 2...255, CDF points 2...\(maxCDFPoints) and the held-out stride at least 2")
        }
        let heldOut = count / settings.heldOutEvery
        guard count - heldOut >= 2 * d || count - heldOut >= 50, heldOut >= 20 else {
            throw MLSecError.usage("a monitor reference needs more rows: \(count) rows leave \(heldOut) held out (at least 20 are needed) "
                + "and \(count - heldOut) to fit \(d) features; give more training rows with --data")
        }
        if let bad = rows.firstIndex(where: { !$0.isFinite }) {
            throw MLSecError.usage("row \(bad / d), feature \(featureNames[bad % d]) is not a finite number")
        }
        if let bad = predictions.firstIndex(where: { $0 < 0 || $0 >= classCount }) {
            throw MLSecError.usage("prediction \(predictions[bad]) of row \(bad) is not a class below \(classCount)")
        }
        var features: [FeatureReference] = []
        var column = [Double](repeating: 0, count: count)
        for f in 0..<d {
            for r in 0..<count { column[r] = Double(rows[r * d + f]) }
            features.append(feature(column: column, settings: settings))
        }
        var classCounts = [Int](repeating: 0, count: classCount)
        for p in predictions { classCounts[p] += 1 }
        // The covariance is fitted on the rows not held out (subsampled evenly past maxFitRows).
        let fitIndices = (0..<count).filter { $0 % settings.heldOutEvery != settings.heldOutEvery - 1 }
        let stride = max(1, (fitIndices.count + settings.maxFitRows - 1) / settings.maxFitRows)
        let chosen = Swift.stride(from: 0, to: fitIndices.count, by: stride).map { fitIndices[$0] }
        var fitRows = [Double](repeating: 0, count: chosen.count * d)
        for (i, r) in chosen.enumerated() { for f in 0..<d { fitRows[i * d + f] = Double(rows[r * d + f]) } }
        guard let fit = RobustCovariance.fit(rows: fitRows, count: chosen.count, dimension: d) else {
            throw MLSecError.usage("the reference rows do not vary: no covariance can be fitted")
        }
        let whitening = invertLower(fit.cholesky, d)
        var reference = MonitorReference(
            modelDigest: modelDigest, featureNames: featureNames, features: features, rows: count,
            classShares: classCounts.map { Double($0) / Double(count) }, centre: fit.centre, whitening: whitening, shrinkage: fit.shrinkage,
            oodThreshold: 0, oodFalsePositiveRate: settings.falsePositiveRate, heldOutRows: heldOut, heldOutFlagRate: 0,
            typicalDistance: (2 * features.reduce(0) { $0 + $1.standardDeviation * $1.standardDeviation }).squareRoot())
        let scorer = MahalanobisScorer(reference)
        var scores: [Double] = []
        scores.reserveCapacity(heldOut)
        for r in Swift.stride(from: settings.heldOutEvery - 1, to: count, by: settings.heldOutEvery) {
            scores.append(rows.withUnsafeBufferPointer { scorer.score(UnsafeBufferPointer(rebasing: $0[(r * d)..<((r + 1) * d)])) })
        }
        scores.sort()
        reference.oodThreshold = DriftStatistics.quantile(sorted: scores, 1 - settings.falsePositiveRate)
        reference.heldOutFlagRate = Double(scores.filter { $0 > reference.oodThreshold }.count) / Double(max(scores.count, 1))
        return reference
    }

    /// The step CDF (whole, or sketched by quantiles), bins at its points nearest the quantiles, and the spread
    /// of one column. The bin edges are CDF points, so that a value's CDF bucket also names its bin.
    static func feature(column: [Double], settings: Settings) -> FeatureReference {
        let sorted = column.sorted()
        let n = Double(sorted.count)
        // The distinct values with the share at or below each; past cdfPoints of them, quantile points.
        var values: [Double] = [], shares: [Double] = []
        var i = 0
        while i < sorted.count {
            var j = i
            while j < sorted.count, sorted[j] == sorted[i] { j += 1 }
            values.append(sorted[i])
            shares.append(Double(j) / n)
            i = j
        }
        /// The first point whose share reaches `target`.
        func first(reaching target: Double, _ shares: [Double]) -> Int {
            var lo = 0, hi = shares.count - 1
            while lo < hi {
                let mid = (lo + hi) >> 1
                if shares[mid] < target - 1e-12 { lo = mid + 1 } else { hi = mid }
            }
            return lo
        }
        if values.count > settings.cdfPoints {
            var keptValues: [Double] = [], keptShares: [Double] = []
            for k in 1...settings.cdfPoints {
                let at = first(reaching: Double(k) / Double(settings.cdfPoints), shares)
                if keptValues.last != values[at] {
                    keptValues.append(values[at])
                    keptShares.append(shares[at])
                }
            }
            values = keptValues
            shares = keptShares
        }
        var edges: [Double] = []
        for k in 1..<settings.bins {
            let at = first(reaching: Double(k) / Double(settings.bins), shares)
            if at < values.count - 1, edges.last != values[at] { edges.append(values[at]) }
        }
        var counts = [Int](repeating: 0, count: edges.count + 1)
        for v in sorted { counts[DriftStatistics.bin(of: v, edges: edges)] += 1 }
        let mean = sorted.reduce(0, +) / n
        let variance = sorted.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / n
        return FeatureReference(edges: edges, shares: counts.map { Double($0) / n }, cdfValues: values, cdfShares: shares,
                                standardDeviation: variance.squareRoot())
    }

    /// The inverse of a lower-triangular d × d matrix (row-major), packed by rows.
    static func invertLower(_ l: [Double], _ d: Int) -> [Double] {
        var inverse = [Double](repeating: 0, count: d * d)
        for c in 0..<d {
            inverse[c * d + c] = 1 / l[c * d + c]
            for i in (c + 1)..<max(c + 1, d) {
                var s = 0.0
                for k in c..<i { s -= l[i * d + k] * inverse[k * d + c] }
                inverse[i * d + c] = s / l[i * d + i]
            }
        }
        var packed: [Double] = []
        packed.reserveCapacity(d * (d + 1) / 2)
        for i in 0..<d { for j in 0...i { packed.append(inverse[i * d + j]) } }
        return packed
    }
}
