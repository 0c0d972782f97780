// FastNumber: decimal numbers parsed straight from bytes, correctly rounded, without building a String.

import Foundation

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
