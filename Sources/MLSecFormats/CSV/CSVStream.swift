// CSVStream: reads a CSV file once, in blocks, and hands each row's fields to a callback without copying them
// (RFC 4180: fields in double quotes may hold commas, quotes doubled, and line ends; CRLF or LF rows).

import Foundation
import MLSecCore

/// A row's fields, valid only during the callback that receives it.
public struct CSVRow {
    /// Start and end offsets of each field in `bytes` (quotes removed; doubled quotes still doubled: see `field`).
    var starts: [Int]
    var ends: [Int]
    var quoted: [Bool]
    var bytes: UnsafeBufferPointer<UInt8>

    public var count: Int { starts.count }

    /// The raw bytes of field `i` (without its surrounding quotes; a doubled quote inside stays doubled: use
    /// `string(_:)` for the unescaped text).
    public func field(_ i: Int) -> UnsafeBufferPointer<UInt8> {
        UnsafeBufferPointer(rebasing: bytes[starts[i]..<ends[i]])
    }

    /// Field `i` as text, quotes unescaped, invalid UTF-8 repaired.
    public func string(_ i: Int) -> String {
        let raw = field(i)
        guard quoted[i] else { return String(decoding: raw, as: UTF8.self) }
        var out: [UInt8] = []
        out.reserveCapacity(raw.count)
        var j = 0
        while j < raw.count {
            out.append(raw[j])
            if raw[j] == UInt8(ascii: "\""), j + 1 < raw.count, raw[j + 1] == UInt8(ascii: "\"") { j += 1 }
            j += 1
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Whether field `i` is empty (missing).
    public func isEmpty(_ i: Int) -> Bool { starts[i] == ends[i] }
}

/// Streams the rows of a CSV file.
public enum CSVStream {
    public static let blockSize = 8 << 20
    /// Longest row accepted.
    public static let maxRowBytes = 64 << 20
    public static let maxFields = 1 << 20

    /// Calls `body` with each row (the header row is row 0) and the byte offset where the row starts. Throws on an
    /// unclosed quote at the end, an over-long row or too many fields, naming the row.
    public static func forEachRow(path: String, _ body: (Int, CSVRow) throws -> Void) throws {
        let file = try ReadOnlyFile(path: path)
        file.adviseSequential()
        var buffer = [UInt8](repeating: 0, count: blockSize)
        var carry: [UInt8] = []       // a partial row from the previous block
        var offset: Int64 = 0
        var rowIndex = 0
        var row = CSVRow(starts: [], ends: [], quoted: [], bytes: UnsafeBufferPointer(start: nil, count: 0))
        row.starts.reserveCapacity(256)
        row.ends.reserveCapacity(256)
        row.quoted.reserveCapacity(256)
        while true {
            let n = try buffer.withUnsafeMutableBytes { try file.read(into: $0, at: offset) }
            offset += Int64(n)
            let atEnd = n == 0
            var data: [UInt8]
            if carry.isEmpty { data = Array(buffer[0..<n]) } else { data = carry; data.append(contentsOf: buffer[0..<n]) }
            let consumed = try data.withUnsafeBufferPointer { bytes -> Int in
                try parseRows(bytes, atEnd: atEnd, row: &row, rowIndex: &rowIndex, path: path, body)
            }
            carry = Array(data[consumed...])
            guard carry.count <= maxRowBytes else {
                throw MLSecError.limitExceeded("\(path) row \(rowIndex + 1): longer than \(maxRowBytes) bytes (an unclosed quote?)")
            }
            if atEnd { break }
        }
    }

    /// Calls `body` with each row of `bytes` (an in-memory CSV file).
    public static func forEachRow(bytes: [UInt8], context: String, _ body: (Int, CSVRow) throws -> Void) throws {
        var row = CSVRow(starts: [], ends: [], quoted: [], bytes: UnsafeBufferPointer(start: nil, count: 0))
        var rowIndex = 0
        _ = try bytes.withUnsafeBufferPointer { buffer in
            try parseRows(buffer, atEnd: true, row: &row, rowIndex: &rowIndex, path: context, body)
        }
    }

    /// Parses complete rows of `bytes`; returns how many bytes were consumed (a trailing partial row stays unless
    /// `atEnd`).
    static func parseRows(_ bytes: UnsafeBufferPointer<UInt8>, atEnd: Bool, row: inout CSVRow, rowIndex: inout Int, path: String,
                          _ body: (Int, CSVRow) throws -> Void) throws -> Int {
        let quote = UInt8(ascii: "\""), comma = UInt8(ascii: ","), lf = UInt8(ascii: "\n"), cr = UInt8(ascii: "\r")
        var rowStart = 0
        var i = 0
        let n = bytes.count
        row.bytes = bytes
        while rowStart < n {
            row.starts.removeAll(keepingCapacity: true)
            row.ends.removeAll(keepingCapacity: true)
            row.quoted.removeAll(keepingCapacity: true)
            i = rowStart
            var complete = false
            fieldLoop: while true {
                if row.starts.count >= maxFields { throw MLSecError.limitExceeded("\(path) row \(rowIndex + 1): more than \(maxFields) fields") }
                if i < n, bytes[i] == quote {
                    // Quoted field: up to the closing quote (a doubled quote is part of the text).
                    let start = i + 1
                    var j = start
                    var closed = false
                    while j < n {
                        if bytes[j] == quote {
                            if j + 1 < n, bytes[j + 1] == quote { j += 2; continue }
                            if j + 1 == n, !atEnd { break }
                            closed = true
                            break
                        }
                        j += 1
                    }
                    guard closed else {
                        if atEnd { throw MLSecError.malformed("\(path) row \(rowIndex + 1): a quoted field is not closed before the end of the file") }
                        return rowStart
                    }
                    row.starts.append(start)
                    row.ends.append(j)
                    row.quoted.append(true)
                    i = j + 1
                } else {
                    let start = i
                    while i < n, bytes[i] != comma, bytes[i] != lf { i += 1 }
                    var end = i
                    if i < n, bytes[i] == lf, end > start, bytes[end - 1] == cr { end -= 1 }
                    if i == n, !atEnd { return rowStart }
                    if i == n, end > start, bytes[end - 1] == cr { end -= 1 }
                    row.starts.append(start)
                    row.ends.append(end)
                    row.quoted.append(false)
                }
                if i >= n {
                    guard atEnd else { return rowStart }
                    complete = true
                    break fieldLoop
                }
                switch bytes[i] {
                case comma: i += 1
                case lf: i += 1; complete = true; break fieldLoop
                case cr where i + 1 < n && bytes[i + 1] == lf: i += 2; complete = true; break fieldLoop
                default:
                    throw MLSecError.malformed("\(path) row \(rowIndex + 1): text after a closing quote (a quote inside a field must be doubled)")
                }
            }
            if complete {
                // A blank last line is not a row.
                if !(row.starts.count == 1 && row.starts[0] == row.ends[0] && i >= n && !row.quoted[0]) {
                    try body(rowIndex, row)
                    rowIndex += 1
                }
                rowStart = i
            }
        }
        return rowStart
    }
}

/// Parses decimal numbers straight from bytes: [+-]digits[.digits][(e|E)[+-]digits], spaces and tabs around
/// allowed. Correctly rounded: up to 15 significant digits and powers of ten up to 1e22 take Clinger's exact fast
/// path (one rounding of exact operands), anything longer goes to the C library's `strtod`. Nil for anything else
/// (inf, nan, hex, empty).
public enum FastNumber {
    public static func parse(_ field: UnsafeBufferPointer<UInt8>) -> Double? {
        var lo = 0, hi = field.count
        while lo < hi, field[lo] == 32 || field[lo] == 9 { lo += 1 }
        while hi > lo, field[hi - 1] == 32 || field[hi - 1] == 9 { hi -= 1 }
        let s = UnsafeBufferPointer(rebasing: field[lo..<hi])
        let n = s.count
        guard n > 0, n <= 400 else { return nil }
        var i = 0
        var negative = false
        if s[0] == UInt8(ascii: "-") || s[0] == UInt8(ascii: "+") { negative = s[0] == UInt8(ascii: "-"); i = 1 }
        var mantissa: UInt64 = 0
        var significant = 0, scale = 0, sawDigit = false, exact = true
        // Integer part, then fraction: leading zeros are skipped, digits past the 19th only move the scale.
        while i < n, s[i] &- 48 < 10 {
            let d = s[i] &- 48
            sawDigit = true
            if mantissa != 0 || d != 0 {
                if significant < 19 { mantissa = mantissa &* 10 &+ UInt64(d); significant += 1 } else { exact = false; scale += 1 }
            }
            i += 1
        }
        if i < n, s[i] == UInt8(ascii: ".") {
            i += 1
            while i < n, s[i] &- 48 < 10 {
                let d = s[i] &- 48
                sawDigit = true
                if mantissa == 0 && d == 0 {
                    scale -= 1
                } else if significant < 19 {
                    mantissa = mantissa &* 10 &+ UInt64(d); significant += 1; scale -= 1
                } else {
                    exact = false
                }
                i += 1
            }
        }
        guard sawDigit else { return nil }
        if i < n, s[i] == UInt8(ascii: "e") || s[i] == UInt8(ascii: "E") {
            i += 1
            var expNegative = false
            if i < n, s[i] == UInt8(ascii: "-") || s[i] == UInt8(ascii: "+") { expNegative = s[i] == UInt8(ascii: "-"); i += 1 }
            var exponent = 0, expDigits = 0
            while i < n, s[i] >= 48, s[i] <= 57 { exponent = min(exponent * 10 + Int(s[i] - 48), 100_000); expDigits += 1; i += 1 }
            guard expDigits > 0 else { return nil }
            scale += expNegative ? -exponent : exponent
        }
        guard i == n else { return nil }
        var value: Double
        if mantissa == 0 {
            value = 0
        } else if exact, significant <= 15, scale >= -22, scale <= 22 {
            let m = Double(Int64(bitPattern: mantissa))   // at most 15 digits: a signed conversion is one instruction
            value = scale >= 0 ? m * powers[scale] : m / powers[-scale]
        } else {
            // Long mantissas or far exponents: the C library rounds correctly.
            var text = [CChar](repeating: 0, count: n + 1)
            for j in 0..<n { text[j] = CChar(bitPattern: s[j]) }
            value = strtod(text, nil)
            return value.isFinite ? value : nil
        }
        return negative ? -value : value
    }

    static let powers: [Double] = [1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
                                   1e17, 1e18, 1e19, 1e20, 1e21, 1e22]
}
