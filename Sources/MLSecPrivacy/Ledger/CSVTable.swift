// CSVTable: a strict reader of the CSV files queries run over (a header row; RFC 4180 quoting; bounded).

import MLSecCore

/// A table of text cells with named columns.
public struct CSVTable: Sendable {
    public var columns: [String]
    public var rows: [[String]]

    public static let maxBytes = 1 << 30

    public static func read(path: String) throws -> CSVTable {
        let bytes = try ReadOnlyFile.readAll(path, maxBytes: maxBytes, what: "CSV file")
        return try parse(bytes, context: path)
    }

    /// Parses `bytes`; every row must have as many fields as the header. Errors name the line.
    public static func parse(_ bytes: [UInt8], context: String) throws -> CSVTable {
        guard let text = String(validating: bytes, as: UTF8.self) else { throw MLSecError.malformed("\(context) is not UTF-8 text") }
        var records: [[String]] = []
        var field = "", record: [String] = []
        var quoted = false, afterQuote = false, line = 1
        var iterator = text.unicodeScalars.makeIterator()
        var pending: Unicode.Scalar?
        func endRecord() {
            record.append(field)
            if !(record.count == 1 && record[0].isEmpty) { records.append(record) }
            record = []; field = ""
        }
        while let c = pending ?? iterator.next() {
            pending = nil
            if quoted {
                if c == "\"" {
                    if let next = iterator.next() {
                        if next == "\"" { field.unicodeScalars.append("\"") } else { quoted = false; afterQuote = true; pending = next }
                    } else { quoted = false; afterQuote = true }
                } else {
                    if c == "\n" { line += 1 }
                    field.unicodeScalars.append(c)
                }
                continue
            }
            switch c {
            case "\"":
                guard field.isEmpty, !afterQuote else { throw MLSecError.malformed("\(context) line \(line): a quote inside an unquoted field") }
                quoted = true
            case ",": record.append(field); field = ""; afterQuote = false
            case "\r": continue
            case "\n": endRecord(); afterQuote = false; line += 1
            default:
                guard !afterQuote else { throw MLSecError.malformed("\(context) line \(line): text after a closing quote") }
                field.unicodeScalars.append(c)
            }
        }
        guard !quoted else { throw MLSecError.malformed("\(context): a quoted field is not closed") }
        if !field.isEmpty || !record.isEmpty { endRecord() }
        guard let header = records.first else { throw MLSecError.malformed("\(context): empty file, expected a header row") }
        for (i, row) in records.enumerated() where row.count != header.count {
            throw MLSecError.malformed("\(context): record \(i + 1) has \(row.count) fields, the header \(header.count)")
        }
        return CSVTable(columns: header, rows: Array(records.dropFirst()))
    }

    public func column(_ name: String) throws -> Int {
        guard let index = columns.firstIndex(of: name) else {
            throw MLSecError.usage("no column \"\(name.prefix(60))\"; the columns are \(columns.prefix(20).joined(separator: ", "))")
        }
        return index
    }

    /// The column's values as numbers; an empty or non-numeric cell is an error naming its row.
    public func numbers(_ index: Int, rows selection: [Int]? = nil) throws -> [Double] {
        try (selection ?? Array(rows.indices)).map { r in
            guard let v = Double(rows[r][index].trimmingCharacters(in: [" "])), v.isFinite else {
                throw MLSecError.malformed("row \(r + 2), column \(columns[index].prefix(60)): \"\(rows[r][index].prefix(40))\" is not a number")
            }
            return v
        }
    }
}

extension String {
    fileprivate func trimmingCharacters(in set: Set<Character>) -> String {
        var s = Substring(self)
        while let f = s.first, set.contains(f) { s = s.dropFirst() }
        while let l = s.last, set.contains(l) { s = s.dropLast() }
        return String(s)
    }
}
