// NumpyHeader: the header of a NumPy `.npy` file: magic, version, length and the Python-literal dictionary.

import MLSecCore

/// The parsed header of a `.npy` file (also the members of `.npz` archives). The dictionary is a Python
/// literal read by a small parser that evaluates nothing.
package struct NumpyHeader: Equatable, Sendable {
    package var descr: String
    package var fortranOrder: Bool
    package var shape: [Int]
    /// Offset of the array data.
    package var dataOffset: Int

    /// `\x93NUMPY`.
    static let magic: [UInt8] = [0x93] + Array("NUMPY".utf8)

    /// Bytes per element of a simple dtype string such as `<f4`, `|b1`, `<U10`, `|S5`; nil when unknown or
    /// structured.
    package static func itemSize(_ descr: String) -> Int? {
        let chars = Array(descr.utf8)
        guard chars.count >= 2 else { return nil }
        var i = 0
        if [UInt8(ascii: "<"), UInt8(ascii: ">"), UInt8(ascii: "|"), UInt8(ascii: "=")].contains(chars[0]) { i = 1 }
        guard i < chars.count else { return nil }
        let kind = chars[i]
        guard let n = Int(String(decoding: chars[(i + 1)...], as: UTF8.self)), n >= 0, n <= 1 << 20 else { return nil }
        switch kind {
        case UInt8(ascii: "f"), UInt8(ascii: "i"), UInt8(ascii: "u"), UInt8(ascii: "c"), UInt8(ascii: "b"),
            UInt8(ascii: "S"), UInt8(ascii: "V"), UInt8(ascii: "m"), UInt8(ascii: "M"), UInt8(ascii: "a"):
            return n
        case UInt8(ascii: "U"): return n * 4
        case UInt8(ascii: "?"): return 1
        default: return nil
        }
    }

    /// Parses the magic, version, header length and the Python-literal header dictionary.
    package init(parsing bytes: [UInt8]) throws {
        var c = ByteCursor(bytes: bytes)
        guard bytes.count >= 10, try c.take(6, "magic") == Self.magic else { throw MLSecError.malformed("not a NumPy file (bad magic)") }
        let major = try c.u8("format version")
        _ = try c.u8("minor format version")
        let length: Int
        switch major {
        case 1: length = Int(try c.u16("header length"))
        case 2, 3: length = Int(try c.u32("header length"))
        default: throw MLSecError.malformed("unknown NumPy format version \(major)")
        }
        let start = c.position
        guard length <= 1 << 20, length <= c.remaining else {
            throw MLSecError.malformed("NumPy header length \(length) runs past the end of the file")
        }
        guard let text = String(validating: bytes[start..<start + length], as: UTF8.self) else {
            throw MLSecError.malformed("NumPy header is not text")
        }
        var literal = PythonLiteral(text)
        let dict = try literal.parseDict()
        guard case .string(let descr)? = dict["descr"] else {
            throw MLSecError.malformed("NumPy header has no 'descr' string (structured dtypes are not supported)")
        }
        guard case .bool(let fortran)? = dict["fortran_order"] else {
            throw MLSecError.malformed("NumPy header has no 'fortran_order' boolean")
        }
        guard case .tuple(let dims)? = dict["shape"] else { throw MLSecError.malformed("NumPy header has no 'shape' tuple") }
        var shape: [Int] = []
        for d in dims {
            guard case .int(let v) = d, v >= 0 else { throw MLSecError.malformed("NumPy shape holds a non-integer") }
            shape.append(v)
        }
        guard dict.count == 3 else { throw MLSecError.malformed("NumPy header has unexpected keys") }
        self.descr = descr
        fortranOrder = fortran
        self.shape = shape
        dataOffset = start + length
    }
}

/// A tiny parser for the Python literals in NumPy headers: dicts of strings to strings, booleans and
/// tuples of integers. Nothing is evaluated.
struct PythonLiteral {
    enum Value: Equatable { case string(String), bool(Bool), int(Int), tuple([Value]) }
    let chars: [UInt8]
    var i = 0

    init(_ text: String) { chars = Array(text.utf8) }

    mutating func skipSpace() { while i < chars.count, chars[i] == 0x20 || chars[i] == 0x0a || chars[i] == 0x09 { i += 1 } }

    mutating func expect(_ c: Character) throws {
        skipSpace()
        guard i < chars.count, chars[i] == c.asciiValue else { throw MLSecError.malformed("NumPy header: expected '\(c)' at \(i)") }
        i += 1
    }

    mutating func parseDict() throws -> [String: Value] {
        try expect("{")
        var out: [String: Value] = [:]
        while true {
            skipSpace()
            if i < chars.count, chars[i] == UInt8(ascii: "}") { i += 1; break }
            guard case .string(let key) = try parseValue(depth: 0) else { throw MLSecError.malformed("NumPy header: key is not a string") }
            try expect(":")
            guard out[key] == nil else { throw MLSecError.malformed("NumPy header: duplicate key \(key)") }
            out[key] = try parseValue(depth: 0)
            skipSpace()
            if i < chars.count, chars[i] == UInt8(ascii: ",") { i += 1 }
            guard out.count <= 16 else { throw MLSecError.malformed("NumPy header: too many keys") }
        }
        return out
    }

    mutating func parseValue(depth: Int) throws -> Value {
        skipSpace()
        guard i < chars.count, depth < 4 else { throw MLSecError.malformed("NumPy header: truncated or too deep") }
        let c = chars[i]
        if c == UInt8(ascii: "'") || c == UInt8(ascii: "\"") {
            i += 1
            let start = i
            while i < chars.count, chars[i] != c {
                guard chars[i] != UInt8(ascii: "\\") else { throw MLSecError.malformed("NumPy header: escapes are not allowed") }
                i += 1
            }
            guard i < chars.count else { throw MLSecError.malformed("NumPy header: unterminated string") }
            let s = String(decoding: chars[start..<i], as: UTF8.self)
            i += 1
            return .string(s)
        }
        if c == UInt8(ascii: "(") {
            i += 1
            var items: [Value] = []
            while true {
                skipSpace()
                if i < chars.count, chars[i] == UInt8(ascii: ")") { i += 1; break }
                items.append(try parseValue(depth: depth + 1))
                guard items.count <= 64 else { throw MLSecError.malformed("NumPy header: shape has too many dimensions") }
                skipSpace()
                if i < chars.count, chars[i] == UInt8(ascii: ",") { i += 1 }
            }
            return .tuple(items)
        }
        if chars[i...].starts(with: Array("True".utf8)) { i += 4; return .bool(true) }
        if chars[i...].starts(with: Array("False".utf8)) { i += 5; return .bool(false) }
        let start = i
        while i < chars.count, chars[i] >= UInt8(ascii: "0"), chars[i] <= UInt8(ascii: "9") { i += 1 }
        if i < chars.count, chars[i] == UInt8(ascii: "L") { i += 1 }
        guard i > start, let v = Int(String(decoding: chars[start..<i].filter { $0 != UInt8(ascii: "L") }, as: UTF8.self)) else {
            throw MLSecError.malformed("NumPy header: unexpected value at \(start)")
        }
        return .int(v)
    }
}
