// JinjaStringEscapes: the value of a Jinja string literal, with Python's backslash escapes decoded.

/// Jinja decodes a string literal's body with Python's `unicode-escape` codec, so `'\x5f\x5fclass\x5f\x5f'` is
/// `__class__`: the analysis must see the decoded value. Escapes whose value cannot be known here exactly
/// (`\N{name}`, lone surrogates) make the value unknown (nil), never a guess.
package enum JinjaStringEscapes {
    package struct Failure: Error, Sendable {
        package var message: String
    }

    /// The decoded value of a literal's body (the text between its quotes).
    package static func decode(_ body: [Unicode.Scalar]) throws(Failure) -> String? {
        var out = String.UnicodeScalarView()
        var known = true
        var i = 0
        while i < body.count {
            let c = body[i]
            guard c == "\\", i + 1 < body.count else {
                out.append(c)
                i += 1
                continue
            }
            let e = body[i + 1]
            i += 2
            switch e {
            case "\\": out.append("\\")
            case "'": out.append("'")
            case "\"": out.append("\"")
            case "a": out.append("\u{07}")
            case "b": out.append("\u{08}")
            case "f": out.append("\u{0C}")
            case "n": out.append("\n")
            case "r": out.append("\r")
            case "t": out.append("\t")
            case "v": out.append("\u{0B}")
            case "\n": break  // line continuation
            case "0"..."7":
                var value = Int(e.value - 48)
                var n = 1
                while n < 3, i < body.count, ("0"..."7").contains(body[i]) {
                    value = value * 8 + Int(body[i].value - 48)
                    i += 1
                    n += 1
                }
                if let s = Unicode.Scalar(value) { out.append(s) } else { known = false }
            case "x", "u", "U":
                let width = e == "x" ? 2 : e == "u" ? 4 : 8
                guard i + width <= body.count else { throw Failure(message: "truncated \\\(e) escape in a string") }
                var value: UInt32 = 0
                for d in body[i..<i + width] {
                    guard let digit = hexValue(d) else { throw Failure(message: "truncated \\\(e) escape in a string") }
                    value = value &* 16 &+ digit
                }
                i += width
                guard value <= 0x10FFFF else { throw Failure(message: "illegal Unicode character in a string") }
                if let s = Unicode.Scalar(value) { out.append(s) } else { known = false }  // a surrogate
            case "N":
                guard i < body.count, body[i] == "{", let close = body[i...].firstIndex(of: "}") else {
                    throw Failure(message: "malformed \\N character escape in a string")
                }
                i = close + 1
                known = false
            default:
                out.append("\\")
                out.append(e)
            }
        }
        return known ? String(out) : nil
    }

    static func hexValue(_ s: Unicode.Scalar) -> UInt32? {
        switch s {
        case "0"..."9": return s.value - 48
        case "a"..."f": return s.value - 87
        case "A"..."F": return s.value - 55
        default: return nil
        }
    }
}
