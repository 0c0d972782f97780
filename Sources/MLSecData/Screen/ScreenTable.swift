// ScreenTable.swift: labelled numeric rows for the poisoning screens, read from CSV with a learned column encoding.

import MLSecCore

/// How one CSV column becomes features, learned from the screened data and applied unchanged to a test file.
public enum ScreenColumn: Sendable, Equatable {
    /// A numeric column; missing values take the column's median.
    case numeric(name: String, median: Float)
    /// A text column with few distinct values, one 0/1 feature per category (`name=value`); a missing or unseen
    /// value sets none of them.
    case oneHot(name: String, categories: [String])
    /// A column left out of the features, and why.
    case excluded(name: String, reason: String)

    public var name: String {
        switch self {
        case .numeric(let name, _), .oneHot(let name, _), .excluded(let name, _): return name
        }
    }
}

/// Something the reader did to a column that the report should state.
public struct ScreenColumnNote: Sendable, Equatable {
    public var file: String
    public var column: String
    /// `imputed-median`, `one-hot`, `excluded` or `unseen-category`.
    public var action: String
    /// Rows affected (missing values imputed, unseen categories), or categories encoded.
    public var count: Int
    public var detail: String
}

/// Numeric rows (row-major, `count × featureNames.count`) with their labels, ready for `DataScreen`.
public struct ScreenTable: Sendable {
    public var featureNames: [String]
    public var rows: [Float]
    public var count: Int
    /// Each row's label as written in the file; nil for a test file without the label column.
    public var labels: [String]?
    /// The encoding used; pass it to read a test file the same way.
    public var columns: [ScreenColumn]
    public var notes: [ScreenColumnNote]

    public var featureCount: Int { featureNames.count }

    /// Rows given directly (library use and tests): every value must be finite.
    public init(featureNames: [String], rows: [Float], labels: [String]?) throws {
        guard !featureNames.isEmpty else { throw MLSecError.usage("no feature columns to screen") }
        guard rows.count % featureNames.count == 0 else {
            throw MLSecError.usage("\(rows.count) values do not fill rows of \(featureNames.count) features")
        }
        guard rows.allSatisfy(\.isFinite) else { throw MLSecError.malformed("a feature value is NaN or infinite; impute or remove it") }
        count = rows.count / featureNames.count
        if let labels, labels.count != count {
            throw MLSecError.usage("\(labels.count) labels for \(count) rows")
        }
        self.featureNames = featureNames
        self.rows = rows
        self.labels = labels
        columns = featureNames.map { .numeric(name: $0, median: 0) }
        notes = []
    }

    /// The label values that mean "missing" in a numeric or text column (compared without case).
    static let missingTokens: Set<String> = ["", "na", "n/a", "nan", "null", "none", "?"]
    /// Most distinct values a text column may have to be one-hot encoded (more: the column is excluded).
    public static let maxCategories = 32
    /// Most columns a CSV file may have.
    public static let maxColumns = 100_000
    /// Most cells (rows times columns) read into memory: each is kept as text until its column's kind is known.
    public static let maxCells = 1 << 25

    /// Reads CSV `bytes`. With `schema` nil the encoding is learned from these rows and `labelColumn` must exist;
    /// with a schema (a test file) its columns are matched by name and the label column is optional.
    public static func csv(bytes: [UInt8], context: String, labelColumn: String, schema: [ScreenColumn]? = nil,
                           maxRows: Int) throws -> ScreenTable {
        var columnsText: [[String]] = []
        var lines: [Int] = []
        var labelIndex: Int?
        let header = try ScreenCSV.read(bytes, context: context) { fields, line in
            if columnsText.isEmpty { columnsText = Array(repeating: [], count: fields.count) }
            guard lines.count < maxRows else {
                throw MLSecError.limitExceeded("\(context): more than \(maxRows) rows; the screens compare every pair of rows, so screen a sample or split the file")
            }
            guard fields.count <= maxColumns, (lines.count + 1) * fields.count <= maxCells else {
                throw MLSecError.limitExceeded("\(context) line \(line): more than \(maxCells) cells (rows times columns); screen a sample or fewer columns")
            }
            for (c, f) in fields.enumerated() { columnsText[c].append(f) }
            lines.append(line)
        }
        guard header.count <= maxColumns else { throw MLSecError.limitExceeded("\(context): more than \(maxColumns) columns") }
        guard Set(header).count == header.count else { throw MLSecError.malformed("\(context) line 1: two columns have the same name; rename one") }
        guard !lines.isEmpty else { throw MLSecError.malformed("\(context): no data rows after the header") }
        if columnsText.isEmpty { columnsText = Array(repeating: [], count: header.count) }
        labelIndex = header.firstIndex(of: labelColumn)
        if schema == nil, labelIndex == nil {
            throw MLSecError.usage("\(context) has no column \"\(labelColumn)\"; pass --label-column with one of: \(header.prefix(10).joined(separator: ", "))")
        }
        var labels: [String]?
        if let labelIndex {
            labels = try columnsText[labelIndex].enumerated().map { r, value in
                guard !missingTokens.contains(value.lowercased()) else {
                    throw MLSecError.malformed("\(context) line \(lines[r]): the label is missing; label the row or remove it")
                }
                return value
            }
        }
        let byName = Dictionary(uniqueKeysWithValues: header.enumerated().map { ($1, $0) })
        var notes: [ScreenColumnNote] = []
        let columns: [ScreenColumn]
        if let schema {
            for name in header where name != labelColumn && !schema.contains(where: { $0.name == name }) {
                notes.append(ScreenColumnNote(file: context, column: name, action: "excluded", count: 0, detail: "not a column of the screened data"))
            }
            for column in schema where byName[column.name] == nil {
                if case .excluded = column { continue }
                throw MLSecError.malformed("\(context) has no column \"\(column.name)\"; the test file needs the screened data's columns")
            }
            columns = schema
        } else {
            columns = try header.enumerated().filter { $0.offset != labelIndex }.map { c, name in
                try learn(name: name, values: columnsText[c], lines: lines, context: context)
            }
        }
        var featureNames: [String] = []
        var blocks: [(index: Int, column: ScreenColumn)] = []
        for column in columns {
            switch column {
            case .numeric(let name, _): featureNames.append(name)
            case .oneHot(let name, let categories): featureNames += categories.map { "\(name)=\($0)" }
            case .excluded(let name, let reason):
                if schema == nil { notes.append(ScreenColumnNote(file: context, column: name, action: "excluded", count: 0, detail: reason)) }
                continue
            }
            guard let index = byName[column.name] else { continue }
            blocks.append((index, column))
        }
        guard !featureNames.isEmpty else {
            throw MLSecError.malformed("\(context): no numeric or categorical feature columns besides \"\(labelColumn)\"")
        }
        let n = lines.count
        var rows = [Float](repeating: 0, count: n * featureNames.count)
        var offset = 0
        for (index, column) in blocks {
            let values = columnsText[index]
            switch column {
            case .numeric(let name, let median):
                var imputed = 0
                for r in 0..<n {
                    if let v = try number(values[r], column: name, line: lines[r], context: context) {
                        rows[r * featureNames.count + offset] = v
                    } else {
                        rows[r * featureNames.count + offset] = median
                        imputed += 1
                    }
                }
                if imputed > 0 {
                    notes.append(ScreenColumnNote(file: context, column: name, action: "imputed-median", count: imputed,
                                                  detail: "missing values set to the median \(median)"))
                }
                offset += 1
            case .oneHot(let name, let categories):
                let position = Dictionary(uniqueKeysWithValues: categories.enumerated().map { ($1, $0) })
                var unseen = 0
                for r in 0..<n {
                    if let p = position[values[r]] { rows[r * featureNames.count + offset + p] = 1 }
                    else if !missingTokens.contains(values[r].lowercased()) { unseen += 1 }
                }
                if schema == nil {
                    notes.append(ScreenColumnNote(file: context, column: name, action: "one-hot", count: categories.count,
                                                  detail: "text column encoded as \(categories.count) 0/1 features"))
                } else if unseen > 0 {
                    notes.append(ScreenColumnNote(file: context, column: name, action: "unseen-category", count: unseen,
                                                  detail: "values not in the screened data encode as all zeros"))
                }
                offset += categories.count
            case .excluded: break
            }
        }
        var table = try ScreenTable(featureNames: featureNames, rows: rows, labels: labels)
        table.columns = columns
        table.notes = notes
        return table
    }

    /// A field as a number: nil when missing; throws when it is an infinite or unparsable number.
    static func number(_ text: String, column: String, line: Int, context: String) throws -> Float? {
        if missingTokens.contains(text.lowercased()) { return nil }
        guard let v = Double(text), v.isFinite, abs(v) <= Double(Float.greatestFiniteMagnitude) else {
            throw MLSecError.malformed("\(context) line \(line), column \"\(column)\": \"\(text.prefix(32))\" is not a finite number; fix the value or leave it empty (missing)")
        }
        return Float(v)
    }

    /// The encoding of one column of the screened data, from all its values.
    static func learn(name: String, values: [String], lines: [Int], context: String) throws -> ScreenColumn {
        var numbers: [Float] = []
        var texts: Set<String> = []
        var firstText: (String, Int)?
        for (r, value) in values.enumerated() where !missingTokens.contains(value.lowercased()) {
            if let v = Double(value) {
                guard v.isFinite, abs(v) <= Double(Float.greatestFiniteMagnitude) else {
                    throw MLSecError.malformed("\(context) line \(lines[r]), column \"\(name)\": \"\(value.prefix(32))\" is not a finite number; fix the value or leave it empty (missing)")
                }
                numbers.append(Float(v))
            } else {
                if firstText == nil { firstText = (value, lines[r]) }
                if texts.count <= maxCategories { texts.insert(value) }
            }
        }
        if let (text, line) = firstText {
            let sample = "\"\(text.prefix(24))\" on line \(line)"
            guard texts.count <= maxCategories else {
                return .excluded(name: name, reason: "text column with more than \(maxCategories) distinct values (e.g. \(sample))")
            }
            guard numbers.isEmpty else {
                return .excluded(name: name, reason: "mixes numbers and text (e.g. \(sample)); clean the column to screen it")
            }
            let all = Set(values.filter { !missingTokens.contains($0.lowercased()) })
            return .oneHot(name: name, categories: all.sorted())
        }
        guard !numbers.isEmpty else { return .excluded(name: name, reason: "every value is missing") }
        numbers.sort()
        let mid = numbers.count / 2
        let median = numbers.count % 2 == 1 ? numbers[mid] : (numbers[mid - 1] + numbers[mid]) / 2
        return .numeric(name: name, median: median)
    }
}
