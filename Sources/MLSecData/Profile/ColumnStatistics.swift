// ColumnStatistics: one pass over a column's values: type evidence, missing values, range, mean and spread,
// a seeded reservoir for quantiles, and category counts while there are few enough of them.

import Foundation
import MLSecFormats

/// What a column holds.
public enum ColumnType: String, Sendable, Equatable {
    case integer, float, categorical, string
}

/// Streaming statistics of one column.
struct ColumnStatistics {
    static let reservoirSize = 4096
    static let maxCategories = 1000

    var count = 0
    var missing = 0
    var numeric = 0
    var integral = 0
    var minimum = Double.infinity
    var maximum = -Double.infinity
    var mean = 0.0
    var m2 = 0.0
    var reservoir: [Double] = []
    var seen = 0
    var categories: [String: Int]? = [:]
    var state: UInt64

    init(seed: UInt64) { state = seed | 1 }

    /// Missing: an empty field, or NA / N/A / null / NaN (any case).
    static func isMissing(_ field: UnsafeBufferPointer<UInt8>) -> Bool {
        if field.isEmpty { return true }
        guard field.count <= 4 else { return false }
        // ASCII lower case without building a String: this runs for every field.
        var word: UInt32 = 0
        for b in field { word = word << 8 | UInt32(b >= 0x41 && b <= 0x5A ? b | 0x20 : b) }
        switch (field.count, word) {
        case (2, 0x6E61), (3, 0x6E2F61), (4, 0x6E75_6C6C), (3, 0x6E616E): return true   // na, n/a, null, nan
        default: return false
        }
    }

    mutating func add(_ row: CSVRow, column: Int) {
        count += 1
        let field = row.field(column)
        if Self.isMissing(field) {
            missing += 1
            return
        }
        if let v = FastNumber.parse(field) {
            numeric += 1
            // Typed by the literal, as TensorFlow Data Validation does: "3" is an integer, "3.0" and "3e0" are floats.
            if v == v.rounded(), abs(v) < 9e15, !field.contains(where: { $0 == 0x2E || $0 == 0x65 || $0 == 0x45 }) { integral += 1 }
            minimum = min(minimum, v)
            maximum = max(maximum, v)
            let delta = v - mean
            mean += delta / Double(numeric)
            m2 += delta * (v - mean)
            seen += 1
            if reservoir.count < Self.reservoirSize {
                reservoir.append(v)
            } else {
                // xorshift64*: Algorithm R with a reproducible stream.
                state ^= state >> 12; state ^= state << 25; state ^= state >> 27
                let j = Int((state &* 0x2545_F491_4F6C_DD1D) % UInt64(seen))
                if j < Self.reservoirSize { reservoir[j] = v }
            }
        }
        if categories != nil {
            let text = row.string(column)
            categories?[text, default: 0] += 1
            if (categories?.count ?? 0) > Self.maxCategories { categories = nil }
        }
    }

    /// The type the values support: numbers when every present value parses as one, else categories while there
    /// are at most 1,000 distinct values, else free text.
    var type: ColumnType {
        let present = count - missing
        if present > 0, numeric == present { return integral == numeric ? .integer : .float }
        return categories != nil ? .categorical : .string
    }

    var standardDeviation: Double { numeric > 1 ? (m2 / Double(numeric - 1)).squareRoot() : 0 }

    /// Decile edges (9 inner edges) from the reservoir, for the population stability index.
    var decileEdges: [Double] {
        let sorted = reservoir.sorted()
        guard !sorted.isEmpty else { return [] }
        return (1...9).map { q in sorted[min(sorted.count - 1, q * sorted.count / 10)] }
    }

    var quantiles: [Double] {
        let sorted = reservoir.sorted()
        guard !sorted.isEmpty else { return [] }
        return [0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99].map { sorted[min(sorted.count - 1, Int($0 * Double(sorted.count)))] }
    }
}
