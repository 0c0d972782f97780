// DatasetSchema: what `mlsec data profile` learns about a CSV dataset and `validate` holds new data to: per column
// its type, allowed range or categories, missing-value allowance and distribution; the label's distribution.

import Foundation
import MLSecCore
import MLSecFormats

/// One column's expectations.
public struct ColumnSchema: Sendable, Equatable {
    public var name: String
    public var type: ColumnType
    /// Observed, and allowed (validate flags a higher rate).
    public var missingRate: Double
    public var maxMissingRate: Double
    /// Allowed range of numeric columns: validate blocks values outside it. `profile` widens the observed range
    /// (see `DatasetSchema.allowedRange`); edit it to hold the data to a declared domain.
    public var minimum: Double?
    public var maximum: Double?
    /// The range seen when profiling.
    public var observedMinimum: Double?
    public var observedMaximum: Double?
    public var mean: Double?
    public var standardDeviation: Double?
    public var quantiles: [Double]
    /// Inner decile edges and the reference share of each of the 10 bins (for the population stability index).
    public var decileEdges: [Double]
    public var decileShares: [Double]
    /// Allowed categories (categorical columns) with their reference counts.
    public var categories: [String: Int]?
}

/// A dataset's expectations.
public struct DatasetSchema: Sendable, Equatable {
    public static let format = "mlsec-data-schema"
    /// Anomaly kinds that fail validation unless the schema's `blocking` list says otherwise.
    /// Every anomaly kind `validate` reports.
    public static let anomalyKinds = ["missing_column", "unexpected_column", "type_error", "out_of_range", "unseen_category", "missing",
                                      "duplicates", "drift", "label_shift"]
    public static let defaultBlocking = ["missing_column", "unexpected_column", "type_error", "out_of_range", "unseen_category", "missing",
                                         "duplicates"]

    public var rows: Int
    public var columns: [ColumnSchema]
    public var labelColumn: String?
    public var labelShares: [String: Double]
    public var duplicateRate: Double
    public var maxDuplicateRate: Double
    public var blocking: [String]
    /// Population stability index above which a column is reported as drifted, and total-variation distance
    /// above which the label distribution is reported as shifted.
    public var driftThreshold: Double
    public var labelShiftThreshold: Double

    /// The allowed range `profile` gives a numeric column observed over [lo, hi]: a column seen within [0, 1]
    /// (pixels, shares, probabilities) is held to [0, 1]; otherwise the range is widened on each side by `slack`
    /// times the larger of its own span and `typicalSpan` (the median span of the numeric feature columns, so that
    /// a sparse column seen at one value does not block its neighbours' ordinary values), and a column never seen
    /// negative stays non-negative.
    public static func allowedRange(lo: Double, hi: Double, typicalSpan: Double, slack: Double) -> (Double, Double) {
        if lo >= 0, hi <= 1 { return (0, 1) }
        let margin = slack * max(hi - lo, typicalSpan)
        return (lo >= 0 ? max(0, lo - margin) : lo - margin, hi + margin)
    }

    /// Profiles the CSV file at `path` in one pass. `rangeSlack` widens each numeric column's observed range into
    /// the allowed one (`allowedRange`).
    /// `partBytes` is the smallest part of the file read on a thread of its own (tests make it small).
    public static func profile(path: String, labelColumn: String?, rangeSlack: Double = 0.25,
                               partBytes: Int64 = CSVStream.minPartBytes) throws -> DatasetSchema {
        var header: [String] = []
        let parts = try CSVStream.forEachRowInParts(path: path, partBytes: partBytes, header: { row in
            header = (0..<row.count).map { row.string($0) }
            guard Set(header).count == header.count else { throw MLSecError.malformed("\(path) line 1: duplicate column names") }
        }, makeState: { part in
            ProfileTally(stats: header.indices.map { ColumnStatistics(seed: 0x5EED &+ UInt64($0) &+ UInt64(part) << 32) }, hashes: RowFingerprints())
        }) { tally, r, row in
            guard row.count == header.count else {
                throw MLSecError.malformed("\(path) row \(r + 1): \(row.count) fields, the header has \(header.count)")
            }
            tally.stats.withUnsafeMutableBufferPointer { stats in   // one uniqueness check per row, not per field
                for c in 0..<row.count { stats[c].add(row, column: c) }
            }
            tally.hashes.add(row)
        }
        var stats = parts.first?.state.stats ?? []
        for part in parts.dropFirst() {
            for c in stats.indices { stats[c].merge(part.state.stats[c]) }
        }
        let duplicates = DuplicateRows.find(parts.map(\.state.hashes), offsets: parts.map(\.rowOffset), listing: 0)
        let rows = parts.reduce(0) { $0 + $1.rows }
        guard !header.isEmpty, rows > 0 else { throw MLSecError.malformed("\(path): no header and data rows") }
        if let labelColumn, !header.contains(labelColumn) {
            throw MLSecError.malformed("\(path): no column named \"\(labelColumn)\"")
        }
        var columns: [ColumnSchema] = []
        var labelShares: [String: Double] = [:]
        let spans = zip(header, stats).compactMap { name, s -> Double? in
            (s.type == .integer || s.type == .float) && name != labelColumn ? s.maximum - s.minimum : nil
        }.sorted()
        let typicalSpan = spans.isEmpty ? 0 : spans[spans.count / 2]
        for (name, s) in zip(header, stats) {
            let type = s.type
            let numeric = type == .integer || type == .float
            let edges = numeric ? s.decileEdges : []
            var shares: [Double] = []
            if numeric, !s.reservoir.isEmpty {
                var counts = [Int](repeating: 0, count: 10)
                for v in s.reservoir { counts[Self.bin(v, edges: edges)] += 1 }
                shares = counts.map { Double($0) / Double(s.reservoir.count) }
            }
            let missingRate = Double(s.missing) / Double(max(s.count, 1))
            let allowed = numeric ? Self.allowedRange(lo: s.minimum, hi: s.maximum, typicalSpan: typicalSpan, slack: rangeSlack) : nil
            columns.append(ColumnSchema(
                name: name, type: type, missingRate: missingRate, maxMissingRate: min(1, missingRate + 0.01),
                minimum: allowed?.0, maximum: allowed?.1, observedMinimum: numeric ? s.minimum : nil,
                observedMaximum: numeric ? s.maximum : nil, mean: numeric ? s.mean : nil,
                standardDeviation: numeric ? s.standardDeviation : nil, quantiles: numeric ? s.quantiles : [],
                decileEdges: edges, decileShares: shares, categories: type == .categorical || name == labelColumn ? s.categories?.dictionary : nil))
            if name == labelColumn, let categories = s.categories?.dictionary {
                let total = Double(categories.values.reduce(0, +))
                labelShares = categories.mapValues { Double($0) / max(total, 1) }
            }
        }
        let duplicateRate = Double(duplicates.count) / Double(rows)
        return DatasetSchema(rows: rows, columns: columns, labelColumn: labelColumn, labelShares: labelShares, duplicateRate: duplicateRate,
                             maxDuplicateRate: min(1, duplicateRate + 0.001), blocking: defaultBlocking, driftThreshold: 0.25,
                             labelShiftThreshold: 0.1)
    }

    /// Bin 0...9 of `v` among the 9 inner decile edges.
    static func bin(_ v: Double, edges: [Double]) -> Int {
        edges.withUnsafeBufferPointer { bin(v, edges: $0) }
    }

    /// How many edges are at most `v` (for sorted edges, the bin a binary search finds). Counted from the sign of
    /// `v - edge`, without a branch: validation bins every value, and on random values a binary search's branches
    /// mispredicted (the compiler turns a counted comparison back into a branch). `+ 0.0` makes -0 into +0.
    @inline(__always)
    static func bin(_ v: Double, edges: UnsafeBufferPointer<Double>) -> Int {
        var count: UInt64 = 0
        for edge in edges { count &+= ~((v - edge) + 0.0).bitPattern >> 63 }
        return Int(count)
    }
}

/// What one part of the file gathers while profiling.
struct ProfileTally {
    var stats: [ColumnStatistics]
    var hashes: RowFingerprints
}
