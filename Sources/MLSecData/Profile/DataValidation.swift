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

    public static func validate(path: String, schema: DatasetSchema) throws -> ValidationReport {
        var header: [String] = []
        var mapping: [Int?] = []   // data column -> schema column
        var found: [String: (rows: [Int], count: Int, detail: String)] = [:]   // key "kind\u{1}column"
        var missing = [Int](repeating: 0, count: schema.columns.count)
        var bins = [[Int]](repeating: [Int](repeating: 0, count: 10), count: schema.columns.count)
        var numericCounts = [Int](repeating: 0, count: schema.columns.count)
        var labels: [String: Int] = [:]
        var duplicates = RowHashes()
        var duplicateRows: [Int] = []
        var rows = 0
        // Per-column settings in flat arrays: reading `schema.columns[s]` per field copied a struct of arrays and a
        // dictionary (reference counting on every field).
        let types = schema.columns.map(\.type)
        let lows = schema.columns.map { $0.minimum ?? -.infinity }
        let highs = schema.columns.map { $0.maximum ?? .infinity }
        let edgeLists = schema.columns.map(\.decileEdges)
        let hasEdges = edgeLists.map { !$0.isEmpty }
        let categorySets = schema.columns.map { $0.categories.map { Set($0.keys) } }
        let labelIndex = schema.labelColumn.flatMap { label in schema.columns.firstIndex { $0.name == label } }
        func note(_ kind: String, _ column: String, row: Int, _ detail: @autoclosure () -> String) {
            let key = kind + "\u{1}" + column
            if var entry = found[key] {
                entry.count += 1
                if entry.rows.count < maxListedRows { entry.rows.append(row) }
                found[key] = entry
            } else {
                found[key] = ([row], 1, detail())
            }
        }
        try CSVStream.forEachRow(path: path) { index, row in
            if index == 0 {
                header = (0..<row.count).map { row.string($0) }
                mapping = header.map { name in schema.columns.firstIndex { $0.name == name } }
                return
            }
            guard row.count == header.count else {
                throw MLSecError.malformed("\(path) row \(index): \(row.count) fields, the header has \(header.count)")
            }
            let r = index - 1
            rows += 1
            if duplicates.add(row), duplicateRows.count < maxListedRows { duplicateRows.append(r) }
            for c in 0..<row.count {
                guard let s = mapping[c] else { continue }
                let field = row.field(c)
                if ColumnStatistics.isMissing(field) { missing[s] += 1; continue }
                switch types[s] {
                case .integer, .float:
                    guard let v = FastNumber.parse(field) else {
                        note("type_error", schema.columns[s].name, row: r, "values that are not numbers (first: \"\(row.string(c).prefix(40))\")")
                        continue
                    }
                    if types[s] == .integer, v != v.rounded() {
                        note("type_error", schema.columns[s].name, row: r, "values that are not integers (first: \(v))")
                    }
                    if v < lows[s] || v > highs[s] {
                        note("out_of_range", schema.columns[s].name, row: r, "values outside [\(lows[s]), \(highs[s])] (first: \(v))")
                    }
                    if hasEdges[s] {
                        bins[s][edgeLists[s].withUnsafeBufferPointer { DatasetSchema.bin(v, edges: $0) }] += 1
                        numericCounts[s] += 1
                    }
                case .categorical:
                    if let categories = categorySets[s] {
                        let text = row.string(c)
                        if !categories.contains(text) {
                            note("unseen_category", schema.columns[s].name, row: r, "categories not in the schema (first: \"\(text.prefix(40))\")")
                        }
                    }
                case .string:
                    break
                }
                if s == labelIndex { labels[row.string(c), default: 0] += 1 }
            }
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
        let duplicateRate = rows > 0 ? Double(duplicates.duplicates) / Double(rows) : 0
        if duplicateRate > schema.maxDuplicateRate {
            add("duplicates", nil, rows: duplicateRows, count: duplicates.duplicates,
                String(format: "%d rows repeat an earlier row (%.4f, more than the %.4f allowed)", duplicates.duplicates, duplicateRate, schema.maxDuplicateRate))
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
