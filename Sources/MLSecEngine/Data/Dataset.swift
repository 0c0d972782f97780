// Dataset: labelled feature rows, read from CSV with strict checks or from the bundled digits data.

import MLSecCore
import MLSecFormats

/// Rows of features, with optional integer labels.
public struct Dataset: Sendable {
    public var featureNames: [String]
    /// Row-major, `count * featureCount` values.
    public var features: [Float]
    public var labels: [Int]?
    public var count: Int

    public var featureCount: Int { featureNames.count }

    public init(featureNames: [String], features: [Float], labels: [Int]?, count: Int) {
        self.featureNames = featureNames
        self.features = features
        self.labels = labels
        self.count = count
    }

    /// Most bytes read from a CSV file.
    public static let maxCSVBytes = 1 << 30

    /// Reads a CSV file: a header row, then one row per example. `labelColumn` names the label column;
    /// every other column is a feature, in order. Errors name the line.
    public static func csv(path: String, labelColumn: String?) throws -> Dataset {
        let bytes = try ReadOnlyFile.readAll(path, maxBytes: maxCSVBytes, what: "CSV file")
        return try csv(bytes: bytes, labelColumn: labelColumn, context: path)
    }

    public static func csv(bytes: [UInt8], labelColumn: String?, context: String) throws -> Dataset {
        var header: [String] = []
        var labelIndex: Int?
        var features: [Float] = []
        var labels: [Int] = []
        var count = 0
        // RFC 4180 rows (quoted fields, LF or CRLF ends) read straight from the bytes; numbers parsed from them.
        try CSVStream.forEachRow(bytes: bytes, context: context) { index, row in
            let lineNumber = index + 1
            if index == 0 {
                for i in 0..<row.count {
                    guard let name = String(validating: row.field(i), as: UTF8.self) else {
                        throw MLSecError.malformed("\(context) line 1: column \(i + 1)'s name is not UTF-8 text")
                    }
                    header.append(name.trimming(" \t"))
                }
                guard header.count <= 1 << 20 else { throw MLSecError.limitExceeded("\(context): too many columns") }
                guard Set(header).count == header.count else { throw MLSecError.malformed("\(context) line 1: duplicate column names") }
                if let labelColumn {
                    guard let i = header.firstIndex(of: labelColumn) else {
                        throw MLSecError.malformed(
                            "\(context) line 1: no column named \"\(labelColumn)\"; columns are \(header.prefix(8).joined(separator: ", "))…")
                    }
                    labelIndex = i
                }
                guard header.count > (labelIndex == nil ? 0 : 1) else { throw MLSecError.malformed("\(context) line 1: no feature columns") }
                return
            }
            if row.count == 1, row.isEmpty(0), header.count > 1 { return }  // a blank line
            guard row.count == header.count else {
                throw MLSecError.malformed("\(context) line \(lineNumber): \(row.count) fields, the header has \(header.count)")
            }
            for i in 0..<row.count {
                let value = row.number(i)   // parsed by the splitter for plain decimals, else FastNumber.parse
                if i == labelIndex {
                    guard let v = value, v == v.rounded(), v >= 0, v < 1e6 else {
                        throw MLSecError.malformed("\(context) line \(lineNumber): label \"\(row.string(i).prefix(32))\" is not a non-negative integer")
                    }
                    labels.append(Int(v))
                } else {
                    guard let v = value, Float(v).isFinite else {
                        throw MLSecError.malformed(
                            "\(context) line \(lineNumber), column \"\(header[i])\": \"\(row.string(i).prefix(32))\" is not a finite number")
                    }
                    features.append(Float(v))
                }
            }
            count += 1
        }
        guard !header.isEmpty else { throw MLSecError.malformed("\(context): empty file, expected a header row") }
        guard count >= 1 else { throw MLSecError.malformed("\(context): no data rows after the header") }
        let names = header.enumerated().filter { $0.offset != labelIndex }.map(\.element)
        return Dataset(featureNames: names, features: features, labels: labelIndex == nil ? nil : labels, count: count)
    }

    /// The rows at `indices` (in that order).
    public func subset(_ indices: [Int]) -> Dataset {
        var f: [Float] = []
        f.reserveCapacity(indices.count * featureCount)
        for i in indices { f.append(contentsOf: features[i * featureCount..<(i + 1) * featureCount]) }
        return Dataset(featureNames: featureNames, features: f, labels: labels.map { l in indices.map { l[$0] } },
                       count: indices.count)
    }
}
