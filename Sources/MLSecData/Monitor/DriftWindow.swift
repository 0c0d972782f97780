// DriftWindow.swift: the last N live rows of a model (a fixed-size ring: inputs, their histogram bins and the
// predicted classes, with running bin and class counts), and its comparison with the reference.

import Foundation

/// Where a value falls in a feature's reference CDF: bucket 2k + 1 when it equals the k-th CDF value, 2k when it
/// lies strictly between the (k−1)-th and the k-th (2K below nothing: above every value). With the counts of
/// the window's values per bucket, the Kolmogorov-Smirnov statistic against the reference CDF is exact in O(K),
/// and a bucket also names its PSI bin (the bin edges are CDF values).
struct FeatureBuckets: Sendable {
    let values: [Double]
    let shares: [Double]
    /// The PSI bin of each bucket.
    let bins: [UInt8]
    let binCount: Int

    init(_ feature: FeatureReference) {
        values = feature.cdfValues
        shares = feature.cdfShares
        binCount = feature.shares.count
        let points = feature.cdfValues, edges = feature.edges
        var table: [UInt8] = []
        for b in 0...(2 * points.count) {
            let k = b / 2
            // A gap bucket's values lie above points[k − 1]: the edges at or below it are under them.
            let bin = b % 2 == 1 ? edges.filter { $0 < points[k] }.count : (k == 0 ? 0 : edges.filter { $0 <= points[k - 1] }.count)
            table.append(UInt8(bin))
        }
        bins = table
    }

    var count: Int { 2 * values.count + 1 }

    /// sup |F_window − F_reference| from the window's bucket counts.
    func kolmogorovSmirnov(_ counts: ArraySlice<Int32>, rows: Int) -> Double {
        let m = Double(rows)
        var cumulative = 0, d = 0.0
        var base = counts.startIndex
        for k in 0...values.count {
            let below = k == 0 ? 0 : shares[k - 1]
            cumulative += Int(counts[base])
            d = max(d, abs(Double(cumulative) / m - below))
            guard k < values.count else { break }
            cumulative += Int(counts[base + 1])
            d = max(d, abs(Double(cumulative) / m - shares[k]))
            base += 2
        }
        return d
    }
}

/// The fixed-size ring of recent rows: each row's CDF bucket per feature and its predicted class, with running
/// counts. Appending a row is one binary search per feature; memory is `capacity` rows, fixed at start.
struct DriftWindow {
    let capacity: Int
    let features: [FeatureBuckets]
    /// Offset of each feature's buckets in `counts`.
    let offsets: [Int]
    /// Every feature's CDF values end to end (feature f's from `pointStarts[f]` to `pointStarts[f + 1]`), so
    /// that appending a row touches flat arrays only.
    let points: [Double]
    let pointStarts: [Int]
    var buckets: [UInt16]
    var predictions: [Int32]
    var counts: [Int32]
    var classCounts: [Int]
    var next = 0
    var filled = 0
    var sinceCheck = 0

    init(reference: MonitorReference, capacity: Int) {
        self.capacity = capacity
        features = reference.features.map(FeatureBuckets.init)
        var offsets: [Int] = [], starts: [Int] = [0]
        var total = 0
        for f in features {
            offsets.append(total)
            total += f.count
            starts.append(starts[starts.count - 1] + f.values.count)
        }
        self.offsets = offsets
        points = features.flatMap(\.values)
        pointStarts = starts
        buckets = [UInt16](repeating: 0, count: capacity * features.count)
        predictions = [Int32](repeating: 0, count: capacity)
        counts = [Int32](repeating: 0, count: total)
        classCounts = [Int](repeating: 0, count: reference.classCount)
    }

    /// Adds one row (evicting the oldest when full).
    mutating func append(_ row: UnsafeBufferPointer<Float>, prediction: Int) {
        let d = features.count
        let row0 = next * d
        let evict = filled == capacity
        if evict {
            classCounts[Int(predictions[next])] -= 1
        } else {
            filled += 1
        }
        points.withUnsafeBufferPointer { points in
            pointStarts.withUnsafeBufferPointer { starts in
                offsets.withUnsafeBufferPointer { offsets in
                    buckets.withUnsafeMutableBufferPointer { buckets in
                        counts.withUnsafeMutableBufferPointer { counts in
                            for f in 0..<d {
                                if evict { counts[offsets[f] + Int(buckets[row0 + f])] -= 1 }
                                let value = Double(row[f])
                                let start = starts[f], end = starts[f + 1]
                                // Branch-free lower bound (the first point not below the value): a fixed number
                                // of steps with conditional moves, no mispredicted branches on live data.
                                var first = start, n = end &- start
                                while n > 1 {
                                    let half = n >> 1
                                    first = points[first &+ half] < value ? first &+ half : first
                                    n &-= half
                                }
                                let lo = n == 1 && points[first] < value ? first &+ 1 : first
                                let b = 2 &* (lo &- start) &+ (lo < end && points[lo] == value ? 1 : 0)
                                buckets[row0 + f] = UInt16(b)
                                counts[offsets[f] + b] += 1
                            }
                        }
                    }
                }
            }
        }
        predictions[next] = Int32(prediction)
        classCounts[prediction] += 1
        next = (next + 1) % capacity
        sinceCheck += 1
    }

    /// A copy of the counts to compare off the request path.
    var snapshot: DriftSnapshot {
        DriftSnapshot(rows: filled, features: features, offsets: offsets, counts: counts, classCounts: classCounts)
    }
}

/// The window at one moment, compared with the reference by ``evaluate(reference:settings:)``.
public struct DriftSnapshot: Sendable {
    public var rows: Int
    let features: [FeatureBuckets]
    let offsets: [Int]
    let counts: [Int32]
    let classCounts: [Int]

    /// PSI and Kolmogorov-Smirnov per feature, PSI and chi-square over predicted classes. A feature drifts when
    /// its PSI reaches the threshold and its KS p-value is below `ksPValue` divided by the number of features
    /// (Bonferroni: the chance that any clean feature is called drifting stays below `ksPValue`); predictions
    /// shift when their PSI reaches the threshold and the chi-square p-value is below `ksPValue`.
    /// Costs O(CDF points) a feature, from the counts the window keeps.
    public func evaluate(reference: MonitorReference, settings: MonitorSettings) -> DriftReport {
        var report = DriftReport(rows: rows)
        guard rows > 0 else { return report }
        let corrected = settings.ksPValue / Double(max(features.count, 1))
        for (f, buckets) in features.enumerated() {
            let slice = counts[offsets[f]..<(offsets[f] + buckets.count)]
            var actual = [Double](repeating: 0, count: buckets.binCount)
            for (b, n) in zip(buckets.bins, slice) { actual[Int(b)] += Double(n) }
            for i in actual.indices { actual[i] /= Double(rows) }
            let psi = DriftStatistics.populationStabilityIndex(expected: reference.features[f].shares, actual: actual)
            let ks = buckets.kolmogorovSmirnov(slice, rows: rows)
            let p = DriftStatistics.kolmogorovSmirnovPValue(statistic: ks, n: reference.rows, m: rows)
            let drifting = psi >= settings.psiThreshold && p < corrected
            report.features.append(FeatureDrift(name: reference.featureNames[f], psi: psi, ks: ks, pValue: p, drifting: drifting))
        }
        let shares = classCounts.map { Double($0) / Double(rows) }
        report.predictionPSI = DriftStatistics.populationStabilityIndex(expected: reference.classShares, actual: shares)
        let chi = DriftStatistics.chiSquare(observed: classCounts, expectedShares: reference.classShares)
        report.predictionChiSquare = chi.statistic
        report.predictionPValue = chi.pValue
        report.predictionShift = report.predictionPSI >= settings.predictionPSIThreshold && chi.pValue < settings.ksPValue
        return report
    }
}

/// One feature's comparison.
public struct FeatureDrift: Sendable, Equatable {
    public var name: String
    public var psi: Double
    /// The Kolmogorov-Smirnov statistic and its asymptotic p-value.
    public var ks: Double
    public var pValue: Double
    public var drifting: Bool
}

/// A window compared with the reference.
public struct DriftReport: Sendable, Equatable {
    public var rows: Int
    public var features: [FeatureDrift] = []
    public var predictionPSI = 0.0
    public var predictionChiSquare = 0.0
    public var predictionPValue = 1.0
    public var predictionShift = false

    public init(rows: Int) { self.rows = rows }

    public var drifting: [FeatureDrift] { features.filter(\.drifting) }
    public var maxPSI: Double { features.map(\.psi).max() ?? 0 }
    public var maxKS: Double { features.map(\.ks).max() ?? 0 }

    /// One line for logs and audit entries: the drifting features (worst first, at most five) and the predictions.
    public var summary: String {
        let worst = drifting.sorted { $0.psi > $1.psi }
        var parts: [String] = []
        if !worst.isEmpty {
            let named = worst.prefix(5).map { f in
                "\(f.name.prefix(40)) (PSI \(Self.format(f.psi)), KS \(Self.format(f.ks)), p \(Self.scientific(f.pValue)))"
            }
            parts.append("\(worst.count) feature\(worst.count == 1 ? "" : "s") drifted: " + named.joined(separator: ", ")
                + (worst.count > 5 ? ", ..." : ""))
        }
        if predictionShift {
            parts.append("predictions shifted (PSI \(Self.format(predictionPSI)), chi-square p \(Self.scientific(predictionPValue)))")
        }
        if parts.isEmpty { parts.append("no drift (max PSI \(Self.format(maxPSI)), max KS \(Self.format(maxKS)))") }
        return parts.joined(separator: "; ") + " over the last \(rows) rows"
    }

    static func format(_ v: Double) -> String {
        let scaled = (v * 1000).rounded() / 1000
        return "\(scaled)"
    }

    static func scientific(_ v: Double) -> String {
        guard v > 0 else { return "0" }
        if v >= 0.001 { return format(v) }
        let exponent = Int((log10(v)).rounded(.down))
        let mantissa = (v / pow(10, Double(exponent)) * 10).rounded() / 10
        return "\(mantissa)e\(exponent)"
    }
}
