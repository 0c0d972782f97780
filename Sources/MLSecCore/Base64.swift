// Base64: standard and URL-safe Base64 with strict decoding.

import Foundation

/// Base64 helpers (RFC 4648). Decoding rejects whitespace and characters outside the alphabet.
public enum Base64 {
    private static let standardAlphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
    private static let urlAlphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)

    /// Encodes with `alphabet`, with or without `=` padding (no Foundation: this runs per request in the gateway).
    private static func encode<Bytes: Sequence>(_ bytes: Bytes, alphabet: [UInt8], pad: Bool) -> String
    where Bytes.Element == UInt8 {
        if let text = bytes.withContiguousStorageIfAvailable({ encode(buffer: $0, alphabet: alphabet, pad: pad) }) {
            return text
        }
        return Array(bytes).withUnsafeBufferPointer { encode(buffer: $0, alphabet: alphabet, pad: pad) }
    }

    private static func encode(buffer input: UnsafeBufferPointer<UInt8>, alphabet: [UInt8], pad: Bool) -> String {
        let full = input.count / 3
        let rest = input.count - full * 3
        let length = full * 4 + (rest == 0 ? 0 : (pad ? 4 : rest + 1))
        return alphabet.withUnsafeBufferPointer { table in
            String(unsafeUninitializedCapacity: length) { out in
                var o = 0
                for block in 0..<full {
                    let i = block * 3
                    let n = UInt32(input[i]) << 16 | UInt32(input[i + 1]) << 8 | UInt32(input[i + 2])
                    out[o] = table[Int(n >> 18)]
                    out[o + 1] = table[Int(n >> 12 & 63)]
                    out[o + 2] = table[Int(n >> 6 & 63)]
                    out[o + 3] = table[Int(n & 63)]
                    o += 4
                }
                if rest > 0 {
                    let i = full * 3
                    let n = UInt32(input[i]) << 16 | (rest == 2 ? UInt32(input[i + 1]) << 8 : 0)
                    out[o] = table[Int(n >> 18)]
                    out[o + 1] = table[Int(n >> 12 & 63)]
                    o += 2
                    if rest == 2 {
                        out[o] = table[Int(n >> 6 & 63)]
                        o += 1
                    }
                    if pad {
                        while o < length {
                            out[o] = UInt8(ascii: "=")
                            o += 1
                        }
                    }
                }
                return o
            }
        }
    }

    /// Standard alphabet with padding.
    public static func encode<Bytes: Sequence>(_ bytes: Bytes) -> String where Bytes.Element == UInt8 {
        encode(bytes, alphabet: standardAlphabet, pad: true)
    }

    /// Decodes standard Base64 with padding; `nil` when invalid.
    public static func decode(_ text: String) -> [UInt8]? {
        guard let data = Data(base64Encoded: text) else { return nil }
        return [UInt8](data)
    }

    /// URL-safe alphabet without padding (RFC 4648 section 5), as JWTs and receipts use.
    public static func encodeURL<Bytes: Sequence>(_ bytes: Bytes) -> String where Bytes.Element == UInt8 {
        encode(bytes, alphabet: urlAlphabet, pad: false)
    }

    /// Decodes URL-safe Base64 without padding; `nil` when invalid.
    public static func decodeURL(_ text: String) -> [UInt8]? {
        guard !text.contains("="), !text.contains("+"), !text.contains("/") else { return nil }
        var s = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        switch s.count % 4 {
        case 2: s += "=="
        case 3: s += "="
        case 1: return nil
        default: break
        }
        return decode(s)
    }
}

extension Base64 {
    /// Whether strict decoding expects `=` padding.
    public enum Padding: Sendable {
        /// Padding is required (the encoded length is a multiple of 4).
        case required
        /// Padding is forbidden (the encoded length is never 1 more than a multiple of 4).
        case forbidden
    }

    /// Decodes standard-alphabet Base64 strictly: no whitespace, the padding rule given, and canonical only
    /// (the unused low bits of the last character must be zero, so each byte string has one encoding).
    /// Returns `nil` when `text` breaks any rule.
    public static func decodeStrict<Text: Collection>(_ text: Text, padding: Padding) -> [UInt8]?
    where Text.Element == UInt8 {
        var body = Array(text)
        var padCount = 0
        if padding == .required {
            guard body.count % 4 == 0 else { return nil }
            while padCount < 2, body.last == UInt8(ascii: "=") {
                body.removeLast()
                padCount += 1
            }
        }
        let remainder = body.count % 4
        guard remainder != 1 else { return nil }
        if padding == .required, padCount != (remainder == 0 ? 0 : 4 - remainder) { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(body.count * 3 / 4)
        var accumulator: UInt32 = 0
        var bits = 0
        for c in body {
            let v: UInt8
            switch c {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): v = c - UInt8(ascii: "A")
            case UInt8(ascii: "a")...UInt8(ascii: "z"): v = c - UInt8(ascii: "a") + 26
            case UInt8(ascii: "0")...UInt8(ascii: "9"): v = c - UInt8(ascii: "0") + 52
            case UInt8(ascii: "+"): v = 62
            case UInt8(ascii: "/"): v = 63
            default: return nil
            }
            accumulator = (accumulator << 6) | UInt32(v)
            bits += 6
            if bits >= 8 {
                bits -= 8
                out.append(UInt8(truncatingIfNeeded: accumulator >> UInt32(bits)))
                accumulator &= (1 << UInt32(bits)) - 1
            }
        }
        // Leftover bits must be zero for a canonical encoding.
        guard accumulator == 0 else { return nil }
        return out
    }

    /// Encodes with the standard alphabet and no padding (as age's header does).
    public static func encodeUnpadded<Bytes: Sequence>(_ bytes: Bytes) -> String where Bytes.Element == UInt8 {
        encode(bytes, alphabet: standardAlphabet, pad: false)
    }
}
