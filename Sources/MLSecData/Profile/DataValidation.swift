// DataValidation: holds a CSV file to a schema in one pass and reports anomalies by column and row: missing or
// unexpected columns, type errors, out-of-range values, unseen categories, missing values above the allowance,
// duplicate rows, drifted columns (population stability index) and a shifted label distribution.

import Foundation
import MLSecCore
import MLSecFormats

/// One anomaly.
public struct Anomaly: Sendable, Equatable {
    public var column: String?
    public var kind: String
    /// 0-based data rows (header excluded), the first 100.
    public var rows: [Int]
    public var count: Int
    public var blocking: Bool
    public var detail: String
}

/// The verdict on a dataset.
public struct ValidationReport: Sendable {
    public var rows: Int
    public var anomalies: [Anomaly]
    public var isValid: Bool { !anomalies.contains { $0.blocking } }
}

public enum DataValidation {
    static let maxListedRows = 100

    /// Holds the CSV file at `path` to `schema`. `partBytes` is the smallest part of the file read on a thread of its
    /// own (tests make it small to cut small files).
    public static func validate(path: String, schema: DatasetSchema, partBytes: Int64 = CSVStream.minPartBytes) throws -> ValidationReport {
        var header: [String] = []
        let columnCount = schema.columns.count
        let names = schema.columns.map(\.name)
        var plan = ValidationPlan(schema: schema)
        let parts = try CSVStream.forEachRowInParts(path: path, partBytes: partBytes, header: { row in
            header = (0..<row.count).map { row.string($0) }
            plan.mapping = header.map { name in schema.columns.firstIndex { $0.name == name } ?? -1 }
        }, makeState: { _ in ValidationTally(plan: plan) }) { tally, r, row in
            guard row.count == tally.plan.mapping.count else {
                throw MLSecError.malformed("\(path) row \(r + 1): \(row.count) fields, the header has \(tally.plan.mapping.count)")
            }
            tally.hashes.add(row)
            tally.add(row, row: r)
        }
        var total = ValidationTally(plan: plan)
        for part in parts { total.merge(part.state, rowOffset: part.rowOffset) }
        let rows = parts.reduce(0) { $0 + $1.rows }
        let missing = total.counters.missingCounts, numericCounts = total.counters.numericCounts
        let bins = total.counters.binCounts
        let labels = total.labels.dictionary
        let duplicates = DuplicateRows.find(parts.map(\.state.hashes), offsets: parts.map(\.rowOffset), listing: maxListedRows)
        let duplicateRows = duplicates.rows
        var found: [String: ValidationTally.Found] = [:]
        for (i, entry) in total.found.enumerated() {
            guard let entry else { continue }
            found[ValidationTally.Kind.allCases[i / max(columnCount, 1)].rawValue + "\u{1}" + names[i % columnCount]] = entry
        }
        var anomalies: [Anomaly] = []
        func add(_ kind: String, _ column: String?, rows: [Int], count: Int, _ detail: String) {
            anomalies.append(Anomaly(column: column, kind: kind, rows: rows, count: count, blocking: schema.blocking.contains(kind), detail: detail))
        }
        for column in schema.columns where !header.contains(column.name) {
            add("missing_column", column.name, rows: [], count: 0, "the schema's column \(column.name) is not in the data")
        }
        for name in header where !schema.columns.contains(where: { $0.name == name }) {
            add("unexpected_column", name, rows: [], count: 0, "the data has a column the schema does not know")
        }
        for (key, entry) in found.sorted(by: { $0.key < $1.key }) {
            let parts = key.split(separator: "\u{1}", maxSplits: 1).map(String.init)
            add(parts[0], parts.count > 1 ? parts[1] : nil, rows: entry.rows, count: entry.count, "\(entry.count) \(entry.detail)")
        }
        for (s, column) in schema.columns.enumerated() where rows > 0 && header.contains(column.name) {
            let rate = Double(missing[s]) / Double(rows)
            if rate > column.maxMissingRate {
                add("missing", column.name, rows: [], count: missing[s],
                    String(format: "%.4f of values missing, more than the %.4f allowed", rate, column.maxMissingRate))
            }
            if numericCounts[s] >= 10, column.decileShares.count == 10 {
                let psi = populationStabilityIndex(expected: column.decileShares, observed: bins[s].map { Double($0) / Double(numericCounts[s]) })
                if psi > schema.driftThreshold {
                    add("drift", column.name, rows: [], count: numericCounts[s],
                        String(format: "population stability index %.3f (over %.2f: the distribution moved)", psi, schema.driftThreshold))
                }
            }
        }
        let duplicateRate = rows > 0 ? Double(duplicates.count) / Double(rows) : 0
        if duplicateRate > schema.maxDuplicateRate {
            add("duplicates", nil, rows: duplicateRows, count: duplicates.count,
                String(format: "%d rows repeat an earlier row (%.4f, more than the %.4f allowed)", duplicates.count, duplicateRate, schema.maxDuplicateRate))
        }
        if let label = schema.labelColumn, !schema.labelShares.isEmpty, !labels.isEmpty {
            let total = Double(labels.values.reduce(0, +))
            let keys = Set(labels.keys).union(schema.labelShares.keys)
            let distance = 0.5 * keys.reduce(0) { $0 + abs(Double(labels[$1] ?? 0) / total - (schema.labelShares[$1] ?? 0)) }
            if distance > schema.labelShiftThreshold {
                add("label_shift", label, rows: [], count: Int(total),
                    String(format: "total-variation distance %.3f from the schema's label distribution (over %.2f)", distance, schema.labelShiftThreshold))
            }
        }
        return ValidationReport(rows: rows, anomalies: anomalies)
    }

    /// PSI = Σ (o − e) · ln(o / e), shares floored at 1e-4.
    public static func populationStabilityIndex(expected: [Double], observed: [Double]) -> Double {
        zip(expected, observed).reduce(0) { sum, pair in
            let e = max(pair.0, 1e-4), o = max(pair.1, 1e-4)
            return sum + (o - e) * log(o / e)
        }
    }
}
