// DatasetSchemaFile: the schema's JSON form: written by `mlsec data profile`, edited by people (allowed ranges,
// categories, missing rates, which anomalies block), parsed strictly by `mlsec data validate`.

import MLSecCore

extension DatasetSchema {
    public static let maxFileBytes = 64 << 20

    static func number(_ v: Double) -> JSONValue { v.isFinite ? .number("\(v)") : .null }

    public var json: JSONValue {
        .object([
            ("format", .string(Self.format)), ("version", .int(1)), ("rows", .int(rows)),
            ("label_column", labelColumn.map { .string($0) } ?? .null),
            ("label_distribution", .object(labelShares.sorted { $0.key < $1.key }.map { ($0.key, Self.number($0.value)) })),
            ("duplicate_rate", Self.number(duplicateRate)), ("max_duplicate_rate", Self.number(maxDuplicateRate)),
            ("drift_threshold", Self.number(driftThreshold)), ("label_shift_threshold", Self.number(labelShiftThreshold)),
            ("blocking", .array(blocking.map { .string($0) })),
            ("columns", .array(columns.map { c in
                var members: [(String, JSONValue)] = [
                    ("name", .string(c.name)), ("type", .string(c.type.rawValue)), ("missing_rate", Self.number(c.missingRate)),
                    ("max_missing_rate", Self.number(c.maxMissingRate)),
                ]
                if let minimum = c.minimum, let maximum = c.maximum {
                    members += [("min", Self.number(minimum)), ("max", Self.number(maximum)),
                                ("observed_min", Self.number(c.observedMinimum ?? minimum)),
                                ("observed_max", Self.number(c.observedMaximum ?? maximum)), ("mean", Self.number(c.mean ?? 0)),
                                ("std", Self.number(c.standardDeviation ?? 0)), ("quantiles", .array(c.quantiles.map(Self.number))),
                                ("decile_edges", .array(c.decileEdges.map(Self.number))),
                                ("decile_shares", .array(c.decileShares.map(Self.number)))]
                }
                if let categories = c.categories {
                    members.append(("categories", .object(categories.sorted { $0.key < $1.key }.map { ($0.key, .int($0.value)) })))
                }
                return .object(members)
            })),
        ])
    }

    public init(bytes: [UInt8], context: String) throws {
        guard bytes.count <= Self.maxFileBytes else { throw MLSecError.limitExceeded("\(context) is over \(Self.maxFileBytes) bytes") }
        let json = try JSONParser(limits: .init(maxDepth: 8, maxStringBytes: 1 << 16, maxContainerCount: 1 << 20)).parse(bytes, context: context)
        guard json["format"]?.stringValue == Self.format, json["version"]?.integerValue == 1 else {
            throw MLSecError.malformed("\(context) is not an MLSec data schema (format \"\(Self.format)\", version 1)")
        }
        func double(_ value: JSONValue?, _ name: String, _ valid: (Double) -> Bool = { $0.isFinite }) throws -> Double {
            guard case .number(let text)? = value, let v = Double(text), v.isFinite, valid(v) else {
                throw MLSecError.malformed("\(context): \"\(name)\" is missing or out of range")
            }
            return v
        }
        func doubles(_ value: JSONValue?, _ name: String, max: Int) throws -> [Double] {
            guard let list = value?.arrayValue, list.count <= max else { throw MLSecError.malformed("\(context): \"\(name)\" must be a list") }
            return try list.map { try double($0, name) }
        }
        guard let columnValues = json["columns"]?.arrayValue, !columnValues.isEmpty, columnValues.count <= 1 << 20 else {
            throw MLSecError.malformed("\(context): \"columns\" must list the columns")
        }
        let columns = try columnValues.map { c -> ColumnSchema in
            guard let name = c["name"]?.stringValue, let type = c["type"]?.stringValue.flatMap(ColumnType.init(rawValue:)) else {
                throw MLSecError.malformed("\(context): each column needs a name and a type (integer, float, categorical, string)")
            }
            let numeric = type == .integer || type == .float
            if numeric, case .number(let low)? = c["min"], case .number(let high)? = c["max"], let lo = Double(low), let hi = Double(high), lo > hi {
                throw MLSecError.malformed("\(context): column \(name) has min \(lo) above max \(hi)")
            }
            var categories: [String: Int]?
            if let members = c["categories"]?.objectValue {
                guard members.count <= 100_000 else { throw MLSecError.limitExceeded("\(context): column \(name) lists too many categories") }
                categories = Dictionary(try members.map { key, value in
                    guard let n = value.integerValue, n >= 0 else { throw MLSecError.malformed("\(context): category counts must be integers") }
                    return (key, n)
                }, uniquingKeysWith: { a, _ in a })
            }
            let edges = numeric ? try doubles(c["decile_edges"] ?? .array([]), "decile_edges", max: 9) : []
            let shares = numeric ? try doubles(c["decile_shares"] ?? .array([]), "decile_shares", max: 10) : []
            guard edges.isEmpty || (edges.count == 9 && shares.count == 10) else {
                throw MLSecError.malformed("\(context): column \(name) needs 9 decile edges and 10 shares")
            }
            return ColumnSchema(
                name: name, type: type, missingRate: try double(c["missing_rate"], "missing_rate") { $0 >= 0 && $0 <= 1 },
                maxMissingRate: try double(c["max_missing_rate"], "max_missing_rate") { $0 >= 0 && $0 <= 1 },
                minimum: numeric ? try double(c["min"], "min") : nil, maximum: numeric ? try double(c["max"], "max") : nil,
                observedMinimum: numeric ? try c["observed_min"].map { try double($0, "observed_min") } : nil,
                observedMaximum: numeric ? try c["observed_max"].map { try double($0, "observed_max") } : nil,
                mean: numeric ? try double(c["mean"], "mean") : nil, standardDeviation: numeric ? try double(c["std"], "std") : nil,
                quantiles: numeric ? try doubles(c["quantiles"] ?? .array([]), "quantiles", max: 16) : [], decileEdges: edges,
                decileShares: shares, categories: categories)
        }
        let labelShares = Dictionary(try (json["label_distribution"]?.objectValue ?? []).map { key, value in
            (key, try double(value, "label_distribution") { $0 >= 0 && $0 <= 1 })
        }, uniquingKeysWith: { a, _ in a })
        let blocking = try (json["blocking"]?.arrayValue ?? []).map { value -> String in
            guard let text = value.stringValue, Self.anomalyKinds.contains(text) else {
                throw MLSecError.malformed("\(context): \"blocking\" lists anomaly kinds, one of \(Self.anomalyKinds.joined(separator: ", "))")
            }
            return text
        }
        self.init(rows: json["rows"]?.integerValue ?? 0, columns: columns, labelColumn: json["label_column"]?.stringValue,
                  labelShares: labelShares, duplicateRate: try double(json["duplicate_rate"], "duplicate_rate") { $0 >= 0 && $0 <= 1 },
                  maxDuplicateRate: try double(json["max_duplicate_rate"], "max_duplicate_rate") { $0 >= 0 && $0 <= 1 },
                  blocking: blocking, driftThreshold: try double(json["drift_threshold"], "drift_threshold") { $0 > 0 },
                  labelShiftThreshold: try double(json["label_shift_threshold"], "label_shift_threshold") { $0 > 0 })
    }
}
