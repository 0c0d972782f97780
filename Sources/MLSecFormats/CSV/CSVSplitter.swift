// CSVSplitter: the row splitter under CSVStream: one pass over a buffer, field boundaries into the reader's field
// table, and each plain decimal field's value parsed on the way (Clinger's exact fast path: at most 2^53 as the
// integer of its digits and at most 22 digits after the point, the same correctly rounded value as
// `FastNumber.parse`; anything else is parsed on demand).

import Foundation
import MLSecCore

extension CSVStream {
    /// Parses the complete rows of `bytes` that start before `stopAt`; returns how many bytes were consumed (a
    /// trailing partial row stays unless `atEnd`).
    static func parseRows(_ bytes: UnsafePointer<UInt8>, count n: Int, atEnd: Bool, stopAt: Int, storage: CSVRowStorage,
                          rowIndex: inout Int, path: String, _ body: (Int, CSVRow) throws -> Void) throws -> Int {
        try FastNumber.powers.withUnsafeBufferPointer { powers in
            try parseRows(bytes, count: n, atEnd: atEnd, stopAt: stopAt, storage: storage, powers: powers, rowIndex: &rowIndex,
                          path: path, body)
        }
    }

    private static func parseRows(_ bytes: UnsafePointer<UInt8>, count n: Int, atEnd: Bool, stopAt: Int, storage: CSVRowStorage,
                                  powers: UnsafeBufferPointer<Double>, rowIndex: inout Int, path: String,
                                  _ body: (Int, CSVRow) throws -> Void) throws -> Int {
        let quote: UInt8 = 0x22, comma: UInt8 = 0x2C, lf: UInt8 = 0x0A, cr: UInt8 = 0x0D
        let dot: UInt8 = 0x2E, minus: UInt8 = 0x2D, plus: UInt8 = 0x2B
        var rowStart = 0
        // The field table's address and size in locals: a class property read per field costs an exclusivity check.
        var slots = storage.slots
        var capacity = storage.capacity
        while rowStart < n, rowStart < stopAt {
            var fields = 0
            var i = rowStart
            var lastQuoted = false
            var anyQuoted = false
            fieldLoop: while true {
                if fields == capacity {
                    guard fields < maxFields else {
                        throw MLSecError.limitExceeded("\(path) row \(rowIndex + 1): more than \(maxFields) fields")
                    }
                    storage.grow()
                    slots = storage.slots
                    capacity = storage.capacity
                }
                let slot = slots + fields
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
                        if atEnd {
                            throw MLSecError.malformed("\(path) row \(rowIndex + 1): a quoted field is not closed before the end of the file")
                        }
                        return rowStart
                    }
                    slot.pointee = CSVFieldSlot(start: start, end: j, value: 0, kind: CSVFieldSlot.kindQuoted)
                    lastQuoted = true
                    anyQuoted = true
                    i = j + 1
                } else if i &+ 17 <= n, let (value, end, kind) = shortNumber(bytes, at: i, powers: powers) {
                    slot.pointee = CSVFieldSlot(start: i, end: end, value: value, kind: kind)
                    lastQuoted = false
                    i = end
                } else {
                    // Sign, digits, point, digits: the plain decimal literal, accumulated while scanning.
                    let start = i
                    var p = i
                    var negative = false
                    if p < n, bytes[p] == minus || bytes[p] == plus { negative = bytes[p] == minus; p += 1 }
                    var mantissa: UInt64 = 0
                    var digits = 0
                    accumulateDigits(bytes, n, &p, &mantissa, &digits)
                    var fraction = -1
                    if p < n, bytes[p] == dot {
                        p += 1
                        let before = digits
                        accumulateDigits(bytes, n, &p, &mantissa, &digits)
                        fraction = digits &- before
                    }
                    i = p
                    while i < n, bytes[i] != comma, bytes[i] != lf { i += 1 }
                    var end = i
                    if i < n, bytes[i] == lf, end > start, bytes[end - 1] == cr { end -= 1 }
                    if i == n, !atEnd { return rowStart }
                    if i == n, end > start, bytes[end - 1] == cr { end -= 1 }
                    var kind = CSVFieldSlot.kindUnparsed
                    var value = 0.0
                    if end == p, digits > 0, digits <= 18, mantissa <= 1 << 53, fraction <= 22 {
                        let m = Double(Int64(bitPattern: mantissa))
                        value = fraction > 0 ? m / powers[fraction] : m
                        if negative { value = -value }
                        kind = fraction < 0 ? CSVFieldSlot.kindInteger : CSVFieldSlot.kindDecimal
                    }
                    slot.pointee = CSVFieldSlot(start: start, end: end, value: value, kind: kind)
                    lastQuoted = false
                }
                fields += 1
                if i >= n {
                    guard atEnd else { return rowStart }
                    break fieldLoop
                }
                switch bytes[i] {
                case comma: i += 1
                case lf: i += 1; break fieldLoop
                case cr where i + 1 < n && bytes[i + 1] == lf: i += 2; break fieldLoop
                case cr where i + 1 == n && !atEnd: return rowStart   // the line feed is in the next block
                default:
                    throw MLSecError.malformed("\(path) row \(rowIndex + 1): text after a closing quote (a quote inside a field must be doubled)")
                }
            }
            // A blank last line is not a row. Only the file's last: a blank line where a read ends waits for the next
            // read, which tells whether it was.
            let first = slots.pointee
            let blankLast = fields == 1 && first.start == first.end && i >= n && !lastQuoted
            if blankLast, !atEnd { return rowStart }
            if !blankLast {
                try body(rowIndex, CSVRow(slots: slots, bytes: bytes, count: fields, hasQuotedField: anyQuoted))
                rowIndex += 1
            }
            rowStart = i
        }
        return rowStart
    }

    /// The commonest numbers, without loops: a sign, 1-8 digits and a comma or line feed (an integer), or a sign,
    /// 1-6 digits, a point, 1-7 digits and a comma or line feed (a decimal), read from two eight-byte words at
    /// `start` (17 bytes must be readable there). The same value, kind and end (the comma or line feed) as the
    /// byte-by-byte path; nil for anything else, which that path reads.
    @inline(__always)
    private static func shortNumber(_ bytes: UnsafePointer<UInt8>, at start: Int, powers: UnsafeBufferPointer<Double>)
        -> (value: Double, end: Int, kind: UInt8)? {
        let comma: UInt8 = 0x2C, lf: UInt8 = 0x0A, minus: UInt8 = 0x2D, plus: UInt8 = 0x2B
        let zeros: UInt64 = 0x3030_3030_3030_3030
        let lead = bytes[start]
        let negative: UInt64 = lead == minus ? 1 : 0
        let s = start &+ (lead == minus || lead == plus ? 1 : 0)
        let low = UnsafeRawPointer(bytes + s).loadUnaligned(as: UInt64.self) ^ zeros
        let integerDigits = nonDigits(low).trailingZeroBitCount >> 3
        guard integerDigits >= 1 else { return nil }
        let after = bytes[s &+ integerDigits]
        if after == comma || after == lf {
            let value = Double(Int64(bitPattern: digitValue(low, count: integerDigits)))
            return (Double(bitPattern: value.bitPattern | negative << 63), s &+ integerDigits, CSVFieldSlot.kindInteger)
        }
        guard after == 0x2E, integerDigits <= 6 else { return nil }
        // The fraction's bytes: from just after the point, across the two words.
        let shift = UInt64(integerDigits &+ 1) &* 8
        let high = UnsafeRawPointer(bytes + (s &+ 8)).loadUnaligned(as: UInt64.self) ^ zeros
        let fraction = (low &>> shift) | (high &<< (64 &- shift))
        let fractionDigits = nonDigits(fraction).trailingZeroBitCount >> 3
        guard fractionDigits >= 1, fractionDigits <= 7 else { return nil }
        let end = s &+ integerDigits &+ 1 &+ fractionDigits
        guard bytes[end] == comma || bytes[end] == lf else { return nil }
        let digits = integerDigits &+ fractionDigits
        let mantissa = digits <= 8
            ? digitValue((low & ((1 &<< (UInt64(integerDigits) &* 8)) &- 1)) | (fraction &<< (UInt64(integerDigits) &* 8)), count: digits)
            : digitValue(low, count: integerDigits) &* powersOfTen[fractionDigits] &+ digitValue(fraction, count: fractionDigits)
        let value = Double(Int64(bitPattern: mantissa)) / powers[fractionDigits]
        return (Double(bitPattern: value.bitPattern | negative << 63), end, CSVFieldSlot.kindDecimal)
    }

    /// The high bit of each byte of `values` (bytes minus "0") that is not a digit; bytes after the first such one
    /// may be marked wrongly (only the first is used).
    @inline(__always)
    private static func nonDigits(_ values: UInt64) -> UInt64 {
        (values | (values &+ 0x7676_7676_7676_7676)) & 0x8080_8080_8080_8080
    }

    /// The number written by the first `count` (1-8) digit values of `values`, the first in the lowest byte: moved
    /// to the high bytes (the rest shifted out) and converted with three multiplications.
    @inline(__always)
    private static func digitValue(_ values: UInt64, count: Int) -> UInt64 {
        var v = values &<< UInt64((8 &- count) &* 8)
        v = (v &* 10) &+ (v >> 8)
        return (((v & 0x0000_00FF_0000_00FF) &* (100 &+ (1_000_000 << 32)))
            &+ (((v >> 16) & 0x0000_00FF_0000_00FF) &* (1 &+ (10_000 << 32)))) >> 32
    }

    /// Adds the digits at `p` to `mantissa` (wrapping: callers reject more than 18 digits), eight bytes at a time
    /// where the buffer allows: the run of digits is found with a mask and converted with three multiplications.
    @inline(__always)
    private static func accumulateDigits(_ bytes: UnsafePointer<UInt8>, _ n: Int, _ p: inout Int, _ mantissa: inout UInt64,
                                         _ digits: inout Int) {
        while p &+ 8 <= n {
            let word = UnsafeRawPointer(bytes + p).loadUnaligned(as: UInt64.self)
            let values = word ^ 0x3030_3030_3030_3030                  // a digit byte becomes 0...9
            let run = nonDigits(values).trailingZeroBitCount >> 3   // 8 when all are digits
            if run == 0 { return }
            mantissa = mantissa &* powersOfTen[run] &+ digitValue(values, count: run)
            digits &+= run
            p &+= run
            if run < 8 { return }
        }
        while p < n {
            let d = bytes[p] &- 48
            if d >= 10 { return }
            mantissa = mantissa &* 10 &+ UInt64(d)
            digits &+= 1
            p &+= 1
        }
    }

    private static let powersOfTen: [UInt64] = [1, 10, 100, 1000, 10_000, 100_000, 1_000_000, 10_000_000, 100_000_000]
}
