// DriftWindow.swift: the last N live rows of a model (a fixed-size ring: inputs, their histogram bins and the
// predicted classes, with running bin and class counts), and its comparison with the reference.

import Foundation

/// The fixed-size ring of recent rows. Appending a row is O(features); memory is `capacity` rows, fixed at start.
struct DriftWindow {
    let capacity: Int
    let features: Int
    /// Offset of each feature's bins in `binCounts`.
    let binOffsets: [Int]
    var values: [Float]
    var bins: [UInt8]
    var predictions: [Int32]
    var binCounts: [Int32]
    var classCounts: [Int]
    var next = 0
    var filled = 0
    var sinceCheck = 0

    init(reference: MonitorReference, capacity: Int) {
        self.capacity = capacity
        features = reference.featureCount
        var offsets: [Int] = []
        var total = 0
        for f in reference.features {
            offsets.append(total)
            total += f.shares.count
        }
        binOffsets = offsets
        values = [Float](repeating: 0, count: capacity * features)
        bins = [UInt8](repeating: 0, count: capacity * features)
        predictions = [Int32](repeating: 0, count: capacity)
        binCounts = [Int32](repeating: 0, count: total)
        classCounts = [Int](repeating: 0, count: reference.classCount)
    }

    /// Adds one row (evicting the oldest when full).
    mutating func append(_ row: UnsafeBufferPointer<Float>, prediction: Int, reference: MonitorReference) {
        let base = next * features
        if filled == capacity {
            for f in 0..<features { binCounts[binOffsets[f] + Int(bins[base + f])] -= 1 }
            classCounts[Int(predictions[next])] -= 1
        } else {
            filled += 1
        }
        for f in 0..<features {
            let b = DriftStatistics.bin(of: Double(row[f]), edges: reference.features[f].edges)
            values[base + f] = row[f]
            bins[base + f] = UInt8(b)
            binCounts[binOffsets[f] + b] += 1
        }
        predictions[next] = Int32(prediction)
        classCounts[prediction] += 1
        next = (next + 1) % capacity
        sinceCheck += 1
    }

    /// A copy to compare off the request path.
    var snapshot: DriftSnapshot {
        DriftSnapshot(rows: filled, features: features, values: Array(values[0..<(filled * features)]), binCounts: binCounts,
                      binOffsets: binOffsets, classCounts: classCounts)
    }
}

/// The window at one moment, compared with the reference by ``evaluate(reference:settings:)``.
public struct DriftSnapshot: Sendable {
    public var rows: Int
    var features: Int
    var values: [Float]
    var binCounts: [Int32]
    var binOffsets: [Int]
    var classCounts: [Int]

    /// PSI and Kolmogorov-Smirnov per feature, PSI and chi-square over predicted classes. A feature drifts when
    /// its PSI reaches the threshold and its KS p-value is below `ksPValue` divided by the number of features
    /// (Bonferroni: the chance that any clean feature is called drifting stays below `ksPValue`); predictions
    /// shift when their PSI reaches the threshold and the chi-square p-value is below `ksPValue`.
    /// Costs O(features · rows · log rows): run it off the request path.
    public func evaluate(reference: MonitorReference, settings: MonitorSettings) -> DriftReport {
        var report = DriftReport(rows: rows)
        guard rows > 0 else { return report }
        var column = [Double](repeating: 0, count: rows)
        let corrected = settings.ksPValue / Double(max(features, 1))
        for f in 0..<features {
            let feature = reference.features[f]
            let actual = (0..<feature.shares.count).map { Double(binCounts[binOffsets[f] + $0]) / Double(rows) }
            let psi = DriftStatistics.populationStabilityIndex(expected: feature.shares, actual: actual)
            for r in 0..<rows { column[r] = Double(values[r * features + f]) }
            column.sort()
            let ks = column.withUnsafeBufferPointer {
                DriftStatistics.kolmogorovSmirnov(sorted: $0, values: feature.cdfValues, fractions: feature.cdfShares)
            }
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
