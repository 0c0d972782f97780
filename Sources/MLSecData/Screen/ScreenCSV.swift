// ScreenCSV.swift: a strict RFC 4180 reader for the poisoning screens: a header row, then rows of equal width.

import MLSecCore

/// Cuts CSV bytes into rows of fields. Fields may be quoted ("" escapes a quote, and a quoted field may hold commas
/// and newlines); CRLF and LF both end rows; a UTF-8 byte-order mark is skipped; blank lines are ignored.
/// Every row must have as many fields as the header.
enum ScreenCSV {
    /// Calls `row` with each data row's fields (unquoted, trimmed of spaces and tabs) and its 1-based line number.
    /// Returns the header's fields.
    @discardableResult
    static func read(_ bytes: [UInt8], context: String,
                     row: (_ fields: [String], _ line: Int) throws -> Void) throws -> [String] {
        var header: [String]?
        var fields: [String] = []
        var field: [UInt8] = []
        var inQuotes = false
        var wasQuoted = false
        var line = 1
        var rowLine = 1
        var i = bytes.starts(with: [0xEF, 0xBB, 0xBF]) ? 3 : 0

        func endField() throws {
            guard let text = String(validating: field, as: UTF8.self) else {
                throw MLSecError.malformed("\(context) line \(rowLine): a field is not UTF-8 text; save the file as UTF-8")
            }
            fields.append(wasQuoted ? text : ScreenCSV.trim(text))
            field.removeAll(keepingCapacity: true)
            wasQuoted = false
        }
        func endRow() throws {
            try endField()
            defer { fields.removeAll(keepingCapacity: true); rowLine = line }
            if fields.count == 1, fields[0].isEmpty { return }  // a blank line
            guard let names = header else {
                header = fields
                return
            }
            guard fields.count == names.count else {
                throw MLSecError.malformed(
                    "\(context) line \(rowLine): \(fields.count) fields, the header has \(names.count); "
                        + "quote fields that contain commas")
            }
            try row(fields, rowLine)
        }

        while i < bytes.count {
            let b = bytes[i]
            i += 1
            if inQuotes {
                if b == UInt8(ascii: "\"") {
                    if i < bytes.count, bytes[i] == UInt8(ascii: "\"") {
                        field.append(b)
                        i += 1
                    } else {
                        inQuotes = false
                    }
                } else {
                    if b == UInt8(ascii: "\n") { line += 1 }
                    field.append(b)
                }
                continue
            }
            switch b {
            case UInt8(ascii: ","):
                try endField()
            case UInt8(ascii: "\n"):
                line += 1
                try endRow()
            case UInt8(ascii: "\r") where i < bytes.count && bytes[i] == UInt8(ascii: "\n"):
                break
            case UInt8(ascii: "\""):
                guard field.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) else {
                    throw MLSecError.malformed("\(context) line \(line): a quote inside an unquoted field; quote the whole field and double the quote")
                }
                field.removeAll(keepingCapacity: true)
                inQuotes = true
                wasQuoted = true
            default:
                if wasQuoted, b != 0x20, b != 0x09 {
                    throw MLSecError.malformed("\(context) line \(line): text after a closing quote; quote the whole field")
                }
                if !wasQuoted { field.append(b) }
            }
        }
        guard !inQuotes else { throw MLSecError.malformed("\(context) line \(rowLine): a quoted field is never closed") }
        if !field.isEmpty || !fields.isEmpty || wasQuoted { try endRow() }
        guard let names = header else { throw MLSecError.malformed("\(context): empty file; the screens need a header row and data rows") }
        return names
    }
}

extension ScreenCSV {
    /// `text` without leading and trailing spaces and tabs.
    static func trim(_ text: String) -> String {
        let scalars = text.unicodeScalars
        guard let first = scalars.firstIndex(where: { $0 != " " && $0 != "\t" }),
              let last = scalars.lastIndex(where: { $0 != " " && $0 != "\t" })
        else { return "" }
        return String(scalars[first...last])
    }
}
