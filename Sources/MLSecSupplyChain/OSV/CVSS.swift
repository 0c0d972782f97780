// CVSS: base scores from CVSS v3.0/v3.1 and v2 vectors, computed with the specifications' formulas
// (CVSS v4.0 vectors are parsed and scored in CVSS4.swift).

import MLSecCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// CVSS base-score calculators for v3.x and v2 vectors; v4.0 vectors are scored by ``CVSS4``
/// (``v4Score(_:)``).
public enum CVSS {
    /// The base score (0.0 to 10.0) of a CVSS v3.0 or v3.1 vector such as
    /// `CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H`, computed as CVSS v3.1 §7 specifies, with its Roundup.
    /// Temporal and environmental metrics may be present; they do not change the base score.
    /// - Throws: `malformed` naming the problem (missing, repeated or unknown metric, bad value).
    public static func v3BaseScore(_ vector: String) throws -> Double {
        let parts = vector.split(separator: "/", omittingEmptySubsequences: false)
        guard let prefix = parts.first, prefix == "CVSS:3.0" || prefix == "CVSS:3.1" else {
            throw MLSecError.malformed("CVSS vector \(PEP440Version.quoted(vector)) does not start with CVSS:3.0/ or CVSS:3.1/")
        }
        let metrics = try metricsOf(parts.dropFirst(), vector: vector, base: ["AV", "AC", "PR", "UI", "S", "C", "I", "A"],
                                    optional: ["E", "RL", "RC", "CR", "IR", "AR", "MAV", "MAC", "MPR", "MUI", "MS", "MC",
                                               "MI", "MA"])
        func value(_ key: String, _ table: [String: Double]) throws -> Double {
            guard let raw = metrics[key], let v = table[raw] else {
                throw MLSecError.malformed("CVSS vector \(PEP440Version.quoted(vector)) has an invalid \(key) value")
            }
            return v
        }
        guard let scope = metrics["S"], scope == "U" || scope == "C" else {
            throw MLSecError.malformed("CVSS vector \(PEP440Version.quoted(vector)) has an invalid S value")
        }
        let changed = scope == "C"
        let av = try value("AV", ["N": 0.85, "A": 0.62, "L": 0.55, "P": 0.2])
        let ac = try value("AC", ["L": 0.77, "H": 0.44])
        let pr = try value("PR", changed ? ["N": 0.85, "L": 0.68, "H": 0.5] : ["N": 0.85, "L": 0.62, "H": 0.27])
        let ui = try value("UI", ["N": 0.85, "R": 0.62])
        let cia = ["H": 0.56, "L": 0.22, "N": 0.0]
        let c = try value("C", cia), i = try value("I", cia), a = try value("A", cia)
        let iss = 1 - ((1 - c) * (1 - i) * (1 - a))
        let impact = changed ? 7.52 * (iss - 0.029) - 3.25 * pow(iss - 0.02, 15) : 6.42 * iss
        let exploitability = 8.22 * av * ac * pr * ui
        guard impact > 0 else { return 0 }
        return changed ? roundUp(min(1.08 * (impact + exploitability), 10)) : roundUp(min(impact + exploitability, 10))
    }

    /// CVSS v3.1 Appendix A Roundup: the smallest one-decimal number at or above `x`, computed in integers
    /// so that floating-point noise (4.000000000000001) does not raise the score.
    public static func roundUp(_ x: Double) -> Double {
        let scaled = Int((x * 100_000).rounded())
        if scaled % 10_000 == 0 { return Double(scaled) / 100_000 }
        return Double(scaled / 10_000 + 1) / 10
    }

    /// The base score of a CVSS v2 vector such as `AV:N/AC:L/Au:N/C:P/I:P/A:P` (optionally in parentheses or
    /// prefixed `CVSS:2.0/`), per the CVSS v2 guide §3.2.1.
    public static func v2BaseScore(_ vector: String) throws -> Double {
        var text = Substring(vector)
        if text.hasPrefix("("), text.hasSuffix(")") { text = text.dropFirst().dropLast() }
        if text.hasPrefix("CVSS:2.0/") { text = text.dropFirst(9) }
        let metrics = try metricsOf(text.split(separator: "/", omittingEmptySubsequences: false)[...], vector: vector,
                                    base: ["AV", "AC", "Au", "C", "I", "A"],
                                    optional: ["E", "RL", "RC", "CDP", "TD", "CR", "IR", "AR"])
        func value(_ key: String, _ table: [String: Double]) throws -> Double {
            guard let raw = metrics[key], let v = table[raw] else {
                throw MLSecError.malformed("CVSS vector \(PEP440Version.quoted(vector)) has an invalid \(key) value")
            }
            return v
        }
        let av = try value("AV", ["L": 0.395, "A": 0.646, "N": 1.0])
        let ac = try value("AC", ["H": 0.35, "M": 0.61, "L": 0.71])
        let au = try value("Au", ["M": 0.45, "S": 0.56, "N": 0.704])
        let cia = ["N": 0.0, "P": 0.275, "C": 0.660]
        let c = try value("C", cia), i = try value("I", cia), a = try value("A", cia)
        let impact = 10.41 * (1 - (1 - c) * (1 - i) * (1 - a))
        let exploitability = 20 * av * ac * au
        let f = impact == 0 ? 0 : 1.176
        let score = ((0.6 * impact) + (0.4 * exploitability) - 1.5) * f
        return max(0, (score * 10).rounded(.toNearestOrAwayFromZero) / 10)
    }

    private static func metricsOf(_ parts: ArraySlice<Substring>, vector: String, base: [String], optional: [String])
        throws -> [String: String]
    {
        guard vector.utf8.count <= 512 else {
            throw MLSecError.malformed("CVSS vector is \(vector.utf8.count) bytes long, over the 512-byte limit")
        }
        var metrics: [String: String] = [:]
        for part in parts {
            let kv = part.split(separator: ":", omittingEmptySubsequences: false)
            guard kv.count == 2, !kv[1].isEmpty else {
                throw MLSecError.malformed("CVSS vector \(PEP440Version.quoted(vector)) has a malformed part \(PEP440Version.quoted(String(part)))")
            }
            let key = String(kv[0])
            guard base.contains(key) || optional.contains(key) else {
                throw MLSecError.malformed("CVSS vector \(PEP440Version.quoted(vector)) has an unknown metric \(key)")
            }
            guard metrics[key] == nil else {
                throw MLSecError.malformed("CVSS vector \(PEP440Version.quoted(vector)) repeats the metric \(key)")
            }
            metrics[key] = String(kv[1])
        }
        for key in base where metrics[key] == nil {
            throw MLSecError.malformed("CVSS vector \(PEP440Version.quoted(vector)) lacks the base metric \(key)")
        }
        return metrics
    }
}
