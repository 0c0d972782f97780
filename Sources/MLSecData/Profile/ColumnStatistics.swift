// ColumnStatistics: one pass over a column's values: type evidence, missing values, range, mean and spread,
// a seeded reservoir for quantiles, and category counts while there are few enough of them. Statistics of parts
// of a file merge into those of the whole (`merge`), so a large file is profiled on all cores.

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
    /// Sums of `v - shift` and of its square, `shift` being the first value (the shifted-data algorithm: exact
    /// enough while the shift is near the mean, and no division per value).
    var shift = 0.0
    var sum = 0.0
    var sumSquares = 0.0
    /// A uniform sample of the numbers (Li's Algorithm L: a random skip instead of a random number per value).
    var reservoir: [Double] = []
    var nextSampled = 0
    var skipWeight = 1.0
    var categories: CategoryCounter? = CategoryCounter(limit: ColumnStatistics.maxCategories)
    var state: UInt64

    init(seed: UInt64) { state = seed | 1 }

    /// Missing: an empty field, or NA / N/A / null / NaN (any case).
    @inline(__always)
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

    /// Whether a finite value is a whole number (without `rounded()`, a library call on baseline x86-64 that the
    /// optimiser may hoist out of the branch that needs it).
    @inline(__always)
    static func isIntegral(_ v: Double) -> Bool { abs(v) >= 0x1p52 || Double(Int64(v)) == v }

    /// xorshift64*, as a double in (0, 1).
    mutating func uniform() -> Double {
        state ^= state >> 12; state ^= state << 25; state ^= state >> 27
        return (Double((state &* 0x2545_F491_4F6C_DD1D) >> 11) + 0.5) * 0x1p-53
    }

    mutating func add(_ row: CSVRow, column: Int) {
        count += 1
        // A number is never missing (FastNumber reads no NA, null or nan), so parsed numbers skip that check.
        let number = row.numberLiteral(column)
        if number == nil, Self.isMissing(row.field(column)) {
            missing += 1
            return
        }
        if case let (v, isInteger)? = number {
            // Typed by the literal, as TensorFlow Data Validation does: "3" is an integer, "3.0" and "3e0" are floats.
            if isInteger, abs(v) < 9e15 { integral += 1 }
            if numeric == 0 { shift = v }
            minimum = min(minimum, v)
            maximum = max(maximum, v)
            let d = v - shift
            sum += d
            sumSquares += d * d
            if numeric < Self.reservoirSize {
                reservoir.append(v)
                if numeric + 1 == Self.reservoirSize { scheduleNextSample(after: numeric, first: true) }
            } else if numeric == nextSampled {
                reservoir[Int(uniform() * Double(Self.reservoirSize))] = v
                scheduleNextSample(after: numeric, first: false)
            }
            numeric += 1
        }
        if categories != nil {
            categories?.add(row.field(column), quoted: row.isQuoted(column))
            if categories?.overflowed == true { categories = nil }
        }
    }

    private mutating func scheduleNextSample(after index: Int, first: Bool) {
        let k = Double(Self.reservoirSize)
        skipWeight = first ? exp(log(uniform()) / k) : skipWeight * exp(log(uniform()) / k)
        let skip = (log(uniform()) / log1p(-skipWeight)).rounded(.down)
        nextSampled = index + 1 + Int(min(skip, 1e15))
    }

    var mean: Double { numeric > 0 ? shift + sum / Double(numeric) : 0 }
    var m2: Double { numeric > 0 ? max(0, sumSquares - sum * sum / Double(numeric)) : 0 }

    /// Adds the statistics of a later part of the same column.
    mutating func merge(_ other: ColumnStatistics) {
        let n1 = Double(numeric), n2 = Double(other.numeric)
        if other.numeric > 0 {
            let mergedMean = numeric == 0 ? other.mean : mean + (other.mean - mean) * n2 / (n1 + n2)
            let delta = other.mean - mean
            let mergedM2 = numeric == 0 ? other.m2 : m2 + other.m2 + delta * delta * n1 * n2 / (n1 + n2)
            reservoir = mergeSamples(reservoir, population: numeric, other.reservoir, population: other.numeric)
            shift = mergedMean
            sum = 0
            sumSquares = mergedM2
            minimum = min(minimum, other.minimum)
            maximum = max(maximum, other.maximum)
        }
        count += other.count
        missing += other.missing
        numeric += other.numeric
        integral += other.integral
        if let theirs = other.categories, categories != nil {
            categories?.merge(theirs)
            if categories?.overflowed == true { categories = nil }
        } else {
            categories = nil
        }
    }

    /// A uniform sample of the union of two populations from a uniform sample of each: draw without replacement,
    /// from the first with probability (its undrawn population) / (both undrawn populations).
    private mutating func mergeSamples(_ a: [Double], population na: Int, _ b: [Double], population nb: Int) -> [Double] {
        if na + nb <= Self.reservoirSize { return a + b }
        var a = a, b = b
        for i in stride(from: a.count - 1, to: 0, by: -1) { a.swapAt(i, Int(uniform() * Double(i + 1))) }
        for i in stride(from: b.count - 1, to: 0, by: -1) { b.swapAt(i, Int(uniform() * Double(i + 1))) }
        var out: [Double] = []
        out.reserveCapacity(Self.reservoirSize)
        var ra = Double(na), rb = Double(nb), ia = 0, ib = 0
        while out.count < Self.reservoirSize {
            if ib >= b.count || ia < a.count && uniform() * (ra + rb) < ra {
                out.append(a[ia]); ia += 1; ra -= 1
            } else {
                out.append(b[ib]); ib += 1; rb -= 1
            }
        }
        return out
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
