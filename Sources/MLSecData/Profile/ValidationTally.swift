// ValidationTally: what one part of a file finds while it is validated (per column its missing values, decile bins
// and numbers; the first rows of each kind of anomaly; the label counts; the row fingerprints), and the schema's
// rules laid out per data column in flat memory, so that the loop over fields does no reference counting and no
// bounds checks.

import MLSecFormats

/// A schema's per-column settings in flat arrays, and the data's column order.
struct ValidationPlan {
    var mapping: [Int] = []        // data column -> schema column, -1 for none
    let types: [ColumnType]
    let lows: [Double]
    let highs: [Double]
    let edges: [[Double]]          // nine inner decile edges per column, or none
    let categories: [[String]?]
    let labelIndex: Int

    init(schema: DatasetSchema) {
        types = schema.columns.map(\.type)
        lows = schema.columns.map { $0.minimum ?? -.infinity }
        highs = schema.columns.map { $0.maximum ?? .infinity }
        edges = schema.columns.map { $0.decileEdges.count == 9 ? $0.decileEdges : [] }
        categories = schema.columns.map { $0.categories.map { Array($0.keys) } }
        labelIndex = schema.labelColumn.flatMap { label in schema.columns.firstIndex { $0.name == label } } ?? -1
    }
}

/// One data column's rule, as the loop over fields reads it.
struct ColumnRule {
    static let skip: UInt8 = 0, integer: UInt8 = 1, float: UInt8 = 2, categorical: UInt8 = 3, string: UInt8 = 4
    var schemaColumn: Int
    var kind: UInt8
    var hasEdges: Bool
    var isLabel: Bool
    var low: Double
    var high: Double
}

/// The plan per data column: rules, nine decile edges each, and the allowed categories. One per part, category sets
/// included: a shared set's reference count, touched per field by every core, made them wait on each other.
final class ValidationRules {
    let count: Int
    let rules: UnsafeMutablePointer<ColumnRule>
    let edges: UnsafeMutablePointer<Double>
    let categorySets: [CategorySet?]

    init(plan: ValidationPlan) {
        count = plan.mapping.count
        rules = .allocate(capacity: max(count, 1))
        edges = .allocate(capacity: max(count, 1) * 9)
        edges.initialize(repeating: 0, count: max(count, 1) * 9)
        var sets: [CategorySet?] = []
        for (c, s) in plan.mapping.enumerated() {
            guard s >= 0 else {
                (rules + c).initialize(to: ColumnRule(schemaColumn: 0, kind: ColumnRule.skip, hasEdges: false, isLabel: false, low: 0, high: 0))
                sets.append(nil)
                continue
            }
            let columnEdges = plan.edges[s]
            for (k, e) in columnEdges.enumerated() { edges[c * 9 + k] = e }
            let kind: UInt8 = switch plan.types[s] {
            case .integer: ColumnRule.integer
            case .float: ColumnRule.float
            case .categorical: ColumnRule.categorical
            case .string: ColumnRule.string
            }
            (rules + c).initialize(to: ColumnRule(schemaColumn: s, kind: kind, hasEdges: !columnEdges.isEmpty,
                                                  isLabel: s == plan.labelIndex, low: plan.lows[s], high: plan.highs[s]))
            sets.append(plan.categories[s].map { CategorySet($0) })
        }
        categorySets = sets
    }

    deinit {
        rules.deinitialize(count: count)
        rules.deallocate()
        edges.deallocate()
    }
}

/// One part's counts per schema column.
final class ValidationCounters {
    let columns: Int
    let missing: UnsafeMutablePointer<Int>
    let numeric: UnsafeMutablePointer<Int>
    let bins: UnsafeMutablePointer<Int>      // 10 per column

    init(columns: Int) {
        self.columns = columns
        missing = .allocate(capacity: max(columns, 1))
        missing.initialize(repeating: 0, count: max(columns, 1))
        numeric = .allocate(capacity: max(columns, 1))
        numeric.initialize(repeating: 0, count: max(columns, 1))
        bins = .allocate(capacity: max(columns, 1) * 10)
        bins.initialize(repeating: 0, count: max(columns, 1) * 10)
    }

    deinit {
        missing.deallocate()
        numeric.deallocate()
        bins.deallocate()
    }

    var missingCounts: [Int] { Array(UnsafeBufferPointer(start: missing, count: columns)) }
    var numericCounts: [Int] { Array(UnsafeBufferPointer(start: numeric, count: columns)) }
    var binCounts: [[Int]] { (0..<columns).map { Array(UnsafeBufferPointer(start: bins + $0 * 10, count: 10)) } }

    func add(_ other: ValidationCounters) {
        for i in 0..<columns {
            missing[i] += other.missing[i]
            numeric[i] += other.numeric[i]
        }
        for i in 0..<columns * 10 { bins[i] += other.bins[i] }
    }
}

/// What one part of the file found while validating.
struct ValidationTally {
    enum Kind: String, CaseIterable {
        case typeError = "type_error", outOfRange = "out_of_range", unseenCategory = "unseen_category"
    }

    struct Found {
        var rows: [Int]
        var count: Int
        var detail: String
    }

    let plan: ValidationPlan
    let rules: ValidationRules
    let counters: ValidationCounters
    var labels = CategoryCounter(limit: .max)
    var found: [Found?]        // kind * columns + column
    var hashes = RowFingerprints()

    init(plan: ValidationPlan) {
        self.plan = plan
        rules = ValidationRules(plan: plan)
        counters = ValidationCounters(columns: plan.types.count)
        found = [Found?](repeating: nil, count: plan.types.count * Kind.allCases.count)
    }

    /// Holds data row `r` (numbered in the part) to the rules; `row` has one field per data column.
    mutating func add(_ row: CSVRow, row r: Int) {
        let rules = self.rules.rules, edges = self.rules.edges
        let missing = counters.missing, numeric = counters.numeric, bins = counters.bins
        for c in 0..<min(row.count, self.rules.count) {
            let rule = rules[c]
            let s = rule.schemaColumn
            switch rule.kind {
            case ColumnRule.skip:
                continue
            case ColumnRule.integer, ColumnRule.float:
                // A number is never missing (FastNumber reads no NA, null or nan), so parsed numbers skip that check.
                guard case let (v, isInteger)? = row.numberLiteral(c) else {
                    if ColumnStatistics.isMissing(row.field(c)) {
                        missing[s] += 1
                    } else {
                        note(.typeError, s, row: r, "values that are not numbers (first: \"\(row.string(c).prefix(40))\")")
                    }
                    continue
                }
                if !isInteger, rule.kind == ColumnRule.integer, !ColumnStatistics.isIntegral(v) {
                    note(.typeError, s, row: r, "values that are not integers (first: \(v))")
                }
                if v < rule.low || v > rule.high {
                    note(.outOfRange, s, row: r, "values outside [\(rule.low), \(rule.high)] (first: \(v))")
                }
                if rule.hasEdges {
                    bins[s * 10 + DatasetSchema.bin(v, edges: UnsafeBufferPointer(start: edges + c * 9, count: 9))] += 1
                    numeric[s] += 1
                }
            case ColumnRule.categorical:
                let field = row.field(c)
                if ColumnStatistics.isMissing(field) { missing[s] += 1; continue }
                if self.rules.categorySets[c]?.contains(field, quoted: row.isQuoted(c)) == false {
                    note(.unseenCategory, s, row: r, "categories not in the schema (first: \"\(row.string(c).prefix(40))\")")
                }
            default:
                if ColumnStatistics.isMissing(row.field(c)) { missing[s] += 1; continue }
            }
            if rule.isLabel { labels.add(row.field(c), quoted: row.isQuoted(c)) }
        }
    }

    mutating func note(_ kind: Kind, _ column: Int, row: Int, _ detail: @autoclosure () -> String) {
        let key = (Kind.allCases.firstIndex(of: kind) ?? 0) * plan.types.count + column
        if found[key] == nil {
            found[key] = Found(rows: [row], count: 1, detail: detail())
        } else {
            found[key]?.count += 1
            if (found[key]?.rows.count ?? 0) < DataValidation.maxListedRows { found[key]?.rows.append(row) }
        }
    }

    /// Adds what a part found; its rows are shifted by `rowOffset`.
    mutating func merge(_ later: ValidationTally, rowOffset: Int) {
        counters.add(later.counters)
        labels.merge(later.labels)
        for (i, theirs) in later.found.enumerated() {
            guard let theirs else { continue }
            let shifted = theirs.rows.map { $0 + rowOffset }
            if var mine = found[i] {
                mine.count += theirs.count
                mine.rows = Array((mine.rows + shifted).prefix(DataValidation.maxListedRows))
                found[i] = mine
            } else {
                found[i] = Found(rows: shifted, count: theirs.count, detail: theirs.detail)
            }
        }
    }
}
