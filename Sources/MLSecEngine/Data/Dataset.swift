// Dataset: labelled feature rows, read from CSV with strict checks or from the bundled digits data.

import MLSecCore

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
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw MLSecError.malformed("\(context) is not UTF-8 text")
        }
        // "\r\n" is one Character in Swift: split on both, or CRLF files (Python's csv default) read as one line.
        var lines = text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" }).map {
            $0.hasSuffix("\r") ? $0.dropLast() : $0
        }
        while let last = lines.last, last.isEmpty { lines.removeLast() }
        guard let headerLine = lines.first else { throw MLSecError.malformed("\(context): empty file, expected a header row") }
        let header = headerLine.split(separator: ",", omittingEmptySubsequences: false).map {
            String($0).trimming(" \t")
        }
        guard header.count <= 1 << 20 else { throw MLSecError.limitExceeded("\(context): too many columns") }
        guard Set(header).count == header.count else { throw MLSecError.malformed("\(context) line 1: duplicate column names") }
        var labelIndex: Int?
        if let labelColumn {
            guard let i = header.firstIndex(of: labelColumn) else {
                throw MLSecError.malformed("\(context) line 1: no column named \"\(labelColumn)\"; columns are \(header.prefix(8).joined(separator: ", "))…")
            }
            labelIndex = i
        }
        let names = header.enumerated().filter { $0.offset != labelIndex }.map(\.element)
        guard !names.isEmpty else { throw MLSecError.malformed("\(context) line 1: no feature columns") }
        var features: [Float] = []
        features.reserveCapacity((lines.count - 1) * names.count)
        var labels: [Int] = []
        for (lineIndex, line) in lines.enumerated().dropFirst() {
            let lineNumber = lineIndex + 1
            let fields = line.split(separator: ",", omittingEmptySubsequences: false)
            guard fields.count == header.count else {
                throw MLSecError.malformed("\(context) line \(lineNumber): \(fields.count) fields, the header has \(header.count)")
            }
            for (i, field) in fields.enumerated() {
                let trimmed = field.trimming(" \t")
                if i == labelIndex {
                    guard let v = Double(trimmed), v == v.rounded(), v >= 0, v < 1e6 else {
                        throw MLSecError.malformed("\(context) line \(lineNumber): label \"\(trimmed.prefix(32))\" is not a non-negative integer")
                    }
                    labels.append(Int(v))
                } else {
                    guard let v = Float(trimmed), v.isFinite else {
                        throw MLSecError.malformed("\(context) line \(lineNumber), column \"\(header[i])\": \"\(trimmed.prefix(32))\" is not a finite number")
                    }
                    features.append(v)
                }
            }
        }
        let count = lines.count - 1
        guard count >= 1 else { throw MLSecError.malformed("\(context): no data rows after the header") }
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
