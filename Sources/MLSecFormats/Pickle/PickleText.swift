// PickleText: decoding of the text arguments of protocol 0 opcodes (numbers, quoted strings, escapes).

/// Decoders for the newline-terminated text arguments of protocol 0 opcodes. All of them work on the line
/// without its newline, never trap, and are lenient where CPython's two unpicklers disagree.
enum PickleText {
    /// `true` for the ASCII whitespace Python's `int()` and `float()` strip.
    @inline(__always)
    static func isSpace(_ byte: UInt8) -> Bool {
        byte == 0x20 || (byte >= 0x09 && byte <= 0x0D)
    }

    /// The line without leading and trailing ASCII whitespace.
    static func trimmed(_ line: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        var lower = 0
        var upper = line.count
        while lower < upper, isSpace(line[lower]) { lower += 1 }
        while upper > lower, isSpace(line[upper - 1]) { upper -= 1 }
        return UnsafeRawBufferPointer(rebasing: line[lower..<upper])
    }

    /// A decimal integer (optional sign, digits with single underscores between them, surrounding
    /// whitespace), or `nil` when the text is not one. `overflow` is set when it does not fit an `Int`.
    static func decimal(_ line: UnsafeRawBufferPointer) -> (value: Int, overflow: Bool)? {
        let text = trimmed(line)
        var index = 0
        var negative = false
        if index < text.count, text[index] == UInt8(ascii: "-") || text[index] == UInt8(ascii: "+") {
            negative = text[index] == UInt8(ascii: "-")
            index += 1
        }
        guard index < text.count else { return nil }
        var value = 0
        var overflow = false
        var previousWasDigit = false
        while index < text.count {
            let byte = text[index]
            if byte == UInt8(ascii: "_") {
                guard previousWasDigit else { return nil }
                previousWasDigit = false
            } else {
                guard byte >= 0x30, byte <= 0x39 else { return nil }
                let digit = Int(byte - 0x30)
                let times = value.multipliedReportingOverflow(by: 10)
                let sum =
                    negative
                    ? times.partialValue.subtractingReportingOverflow(digit)
                    : times.partialValue.addingReportingOverflow(digit)
                if times.overflow || sum.overflow { overflow = true }
                value = sum.partialValue
                previousWasDigit = true
            }
            index += 1
        }
        guard previousWasDigit else { return nil }
        return (value, overflow)
    }

    /// The value of an `INT` line: a bool for `00` and `01`, an int, or a big-int placeholder when it does not
    /// fit (or is written in a form this decoder does not evaluate, such as hex).
    static func intValue(_ line: UnsafeRawBufferPointer) -> PickleValue {
        if line.count == 2, line[0] == UInt8(ascii: "0") {
            if line[1] == UInt8(ascii: "0") { return .bool(false) }
            if line[1] == UInt8(ascii: "1") { return .bool(true) }
        }
        return longValue(line)
    }

    /// The value of a `LONG` line (an optional trailing `L` is allowed).
    static func longValue(_ line: UnsafeRawBufferPointer) -> PickleValue {
        var text = trimmed(line)
        if let last = text.last, last == UInt8(ascii: "L") { text = UnsafeRawBufferPointer(rebasing: text.dropLast()) }
        guard let parsed = decimal(text), !parsed.overflow else { return .bigInt(text.count) }
        return .int(parsed.value)
    }

    /// The value of a `FLOAT` line; text Swift cannot read becomes NaN (the value never matters for safety).
    static func floatValue(_ line: UnsafeRawBufferPointer) -> PickleValue {
        let text = trimmed(line)
        guard text.count <= 64, let value = Double(String(decoding: text, as: UTF8.self)) else { return .float(.nan) }
        return .float(value)
    }

    /// `true` when `text` is one or more Python identifiers joined by dots (ASCII letters, digits and `_`, not
    /// starting with a digit; any non-ASCII character is allowed, as Python allows Unicode identifiers).
    static func isDottedName(_ text: String) -> Bool {
        var atStart = true
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "."):
                guard !atStart else { return false }
                atStart = true
            case UInt8(ascii: "0")...UInt8(ascii: "9"):
                guard !atStart else { return false }
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "_"),
                0x80...0xFF:
                atStart = false
            default:
                return false
            }
        }
        return !atStart
    }

    /// Bytes as Latin-1 text: Python 3 reads protocol 0-2 byte strings with an ASCII-compatible encoding.
    static func latin1(_ bytes: UnsafeRawBufferPointer) -> String {
        var ascii = true
        for byte in bytes where byte >= 0x80 {
            ascii = false
            break
        }
        if ascii { return String(decoding: bytes, as: UTF8.self) }
        var text = ""
        text.unicodeScalars.reserveCapacity(bytes.count)
        for byte in bytes { text.unicodeScalars.append(Unicode.Scalar(byte)) }
        return text
    }

    /// Bytes as Latin-1 text.
    static func latin1(_ bytes: [UInt8]) -> String {
        bytes.withUnsafeBytes { latin1($0) }
    }

    /// `line` packed as a ``PickleValue/shortString(_:)`` when it is at most 7 ASCII bytes without backslashes
    /// (so that every text decoding leaves it unchanged).
    @inline(__always)
    static func plainShort(_ line: UnsafeRawBufferPointer) -> PickleValue? {
        guard line.count <= 7 else { return nil }
        for byte in line where byte >= 0x80 || byte == UInt8(ascii: "\\") { return nil }
        return PickleValue.packShort(line).map { .shortString($0) }
    }

    /// The content of a `STRING` line: Python string-literal escapes between matching quotes. `nil` when the
    /// line is not quoted (CPython refuses it). `complete` is `false` when the line was cut at the kept cap;
    /// then the closing quote is not required.
    static func quotedString(_ line: UnsafeRawBufferPointer, complete: Bool) -> [UInt8]? {
        guard let quote = line.first, quote == UInt8(ascii: "'") || quote == UInt8(ascii: "\"") else { return nil }
        var body = line.dropFirst()
        if complete {
            guard line.count >= 2, line.last == quote else { return nil }
            body = body.dropLast()
        }
        return escapeDecoded(UnsafeRawBufferPointer(rebasing: body))
    }

    /// Python string-literal escapes (`codecs.escape_decode`): `\\n`, `\\xhh`, octal, and a backslash kept
    /// before any other character. Malformed `\\x` escapes are kept as written.
    static func escapeDecoded(_ body: UnsafeRawBufferPointer) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(body.count)
        var index = 0
        let end = body.count
        while index < end {
            let byte = body[index]
            index += 1
            guard byte == UInt8(ascii: "\\"), index < end else {
                out.append(byte)
                continue
            }
            let next = body[index]
            index += 1
            switch next {
            case UInt8(ascii: "\n"): break
            case UInt8(ascii: "\\"): out.append(0x5C)
            case UInt8(ascii: "'"): out.append(0x27)
            case UInt8(ascii: "\""): out.append(0x22)
            case UInt8(ascii: "a"): out.append(0x07)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "v"): out.append(0x0B)
            case UInt8(ascii: "0")...UInt8(ascii: "7"):
                var value = Int(next - 0x30)
                var digits = 1
                while digits < 3, index < end, body[index] >= 0x30, body[index] <= 0x37 {
                    value = value * 8 + Int(body[index] - 0x30)
                    index += 1
                    digits += 1
                }
                out.append(UInt8(truncatingIfNeeded: value))
            case UInt8(ascii: "x"):
                if index + 1 < end, let high = hexValue(body[index]), let low = hexValue(body[index + 1]) {
                    out.append(high << 4 | low)
                    index += 2
                } else {
                    out.append(0x5C)
                    out.append(next)
                }
            default:
                out.append(0x5C)
                out.append(next)
            }
        }
        return out
    }

    /// The text of a `UNICODE` line (`raw-unicode-escape`): bytes are Latin-1 code points, except `\\uXXXX`
    /// and `\\UXXXXXXXX`. Escapes that are cut short or out of range are kept as written.
    static func rawUnicodeEscapeDecoded(_ body: UnsafeRawBufferPointer) -> String {
        var text = ""
        var index = 0
        let end = body.count
        while index < end {
            let byte = body[index]
            index += 1
            guard byte == UInt8(ascii: "\\"), index < end else {
                text.unicodeScalars.append(Unicode.Scalar(byte))
                continue
            }
            let next = body[index]
            index += 1
            let digits: Int
            switch next {
            case UInt8(ascii: "u"): digits = 4
            case UInt8(ascii: "U"): digits = 8
            default:
                text.unicodeScalars.append("\\")
                text.unicodeScalars.append(Unicode.Scalar(next))
                continue
            }
            var value: UInt32 = 0
            var valid = end - index >= digits
            if valid {
                for offset in 0..<digits {
                    guard let nibble = hexValue(body[index + offset]) else {
                        valid = false
                        break
                    }
                    value = value << 4 | UInt32(nibble)
                }
            }
            if valid, let scalar = Unicode.Scalar(value) {
                text.unicodeScalars.append(scalar)
                index += digits
            } else if valid {
                text.unicodeScalars.append("\u{FFFD}")
                index += digits
            } else {
                text.unicodeScalars.append("\\")
                text.unicodeScalars.append(Unicode.Scalar(next))
            }
        }
        return text
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - 0x30
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - 0x61 + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - 0x41 + 10
        default: nil
        }
    }
}
