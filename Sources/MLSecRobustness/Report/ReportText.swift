// ReportText: locale-free number formatting and markup escaping shared by the report's HTML, SVG and JSON.

/// Text helpers for the report renderings. Numbers are formatted without Foundation or the C library's locale, so
/// the same report always renders to the same bytes; markup escaping covers text and attribute values.
package enum ReportText {
    /// `value` with exactly `decimals` digits after the point ("0.50", "-1.25", "3"), rounding half away from zero;
    /// "n/a" for NaN and infinities. Values too large for fixed notation fall back to Swift's shortest form.
    package static func fixed(_ value: Double, _ decimals: Int) -> String {
        guard value.isFinite else { return "n/a" }
        let places = max(0, min(decimals, 15))
        var scale = 1.0
        for _ in 0..<places { scale *= 10 }
        let scaled = (abs(value) * scale).rounded()
        guard scaled < 9.0e15 else { return String(value) }
        let units = UInt64(scaled)
        var text = String(units)
        if places > 0 {
            if text.count <= places { text = String(repeating: "0", count: places - text.count + 1) + text }
            let split = text.index(text.endIndex, offsetBy: -places)
            text = String(text[..<split]) + "." + String(text[split...])
        }
        return (value < 0 && units != 0 ? "-" : "") + text
    }

    /// `value` with at most `digits` significant digits and no trailing zeros ("0.97", "0.0625", "12", "1e-12");
    /// `nil` for NaN and infinities. The text is always a valid JSON number.
    package static func significant(_ value: Double, _ digits: Int = 6) -> String? {
        guard value.isFinite else { return nil }
        if value == 0 { return "0" }
        let decimals = max(0, digits - 1 - decimalExponent(of: value))
        guard decimals <= 15 else { return String(value) }
        var text = fixed(value, decimals)
        if text.contains("."), !text.contains("e") {
            while text.hasSuffix("0") { text.removeLast() }
            if text.hasSuffix(".") { text.removeLast() }
        }
        return text == "-0" ? "0" : text
    }

    /// Like ``significant(_:_:)`` but keeps one decimal on whole numbers ("0.0", "0.25", "1.0"), as the JSON's
    /// radius keys and the tables' epsilon columns show them; "n/a" for NaN and infinities.
    package static func decimal(_ value: Double, _ digits: Int = 6) -> String {
        guard let text = significant(value, digits) else { return "n/a" }
        if text.contains(".") || text.contains("e") { return text }
        return text + ".0"
    }

    /// `fraction` as a percentage with one decimal ("41.5 %"); "n/a" for NaN and infinities.
    package static func percent(_ fraction: Double) -> String {
        guard fraction.isFinite else { return "n/a" }
        return fixed(fraction * 100, 1) + " %"
    }

    /// The power of ten of the leading digit of a finite, non-zero `value` (0.0625 → -2, 97 → 1), found without
    /// `log10` so that the result does not depend on the C library.
    package static func decimalExponent(of value: Double) -> Int {
        var magnitude = abs(value)
        var exponent = 0
        while magnitude >= 10, exponent < 400 {
            magnitude /= 10
            exponent += 1
        }
        while magnitude < 1, magnitude > 0, exponent > -400 {
            magnitude *= 10
            exponent -= 1
        }
        return exponent
    }

    /// 10 raised to `exponent`, by repeated multiplication (exact for the small exponents the charts use).
    package static func powerOfTen(_ exponent: Int) -> Double {
        var result = 1.0
        if exponent >= 0 {
            for _ in 0..<min(exponent, 400) { result *= 10 }
        } else {
            for _ in 0..<min(-exponent, 400) { result /= 10 }
        }
        return result
    }

    /// `text` escaped for HTML and XML text and for quoted attribute values: `&`, `<`, `>`, `"` and `'` become
    /// entities, and control characters that XML forbids become U+FFFD.
    package static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            case "\t", "\n", "\r": out.unicodeScalars.append(scalar)
            default:
                if scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value) || scalar.value == 0xFFFE
                    || scalar.value == 0xFFFF {
                    out += "\u{FFFD}"
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out
    }

    /// The report's norm as people write it: "inf" → "L∞", "2" → "L2", anything else "L" followed by it.
    package static func normName(_ norm: String) -> String {
        switch norm.lowercased() {
        case "inf", "linf", "l∞", "infinity": return "L∞"
        case "2", "l2": return "L2"
        case "1", "l1": return "L1"
        default: return "L" + norm
        }
    }
}
