// Bech32: the BIP 173 encoding age uses for recipients (age1...) and identities (AGE-SECRET-KEY-1...).

import MLSecCore

/// Bech32 (BIP 173, checksum constant 1) without BIP 173's 90-character limit, as age uses it.
public enum Bech32 {
    private static let alphabet = Array("qpzry9x8gf2tvdw0s3jn54khce6mua7l".utf8)
    private static let generator: [UInt32] = [0x3b6a_57b2, 0x2650_8e6d, 0x1ea1_19fa, 0x3d42_33dd, 0x2a14_62b3]
    /// Longest string accepted, far above any age key, so that hostile input stays cheap.
    static let maxLength = 4096

    private static func polymod(_ values: [UInt8]) -> UInt32 {
        var checksum: UInt32 = 1
        for value in values {
            let top = checksum >> 25
            checksum = (checksum & 0x1ff_ffff) << 5 ^ UInt32(value)
            for i in 0..<5 where (top >> UInt32(i)) & 1 == 1 { checksum ^= generator[i] }
        }
        return checksum
    }

    private static func expand(_ hrp: [UInt8]) -> [UInt8] {
        hrp.map { $0 >> 5 } + [0] + hrp.map { $0 & 31 }
    }

    /// Regroups bits from `from`-bit to `to`-bit values; with `pad` false, leftover bits must be zero padding.
    private static func regroup(_ values: [UInt8], from: Int, to: Int, pad: Bool) -> [UInt8]? {
        var accumulator = 0
        var bits = 0
        var out: [UInt8] = []
        let mask = (1 << to) - 1
        for value in values {
            guard Int(value) >> from == 0 else { return nil }
            accumulator = (accumulator << from) | Int(value)
            bits += from
            while bits >= to {
                bits -= to
                out.append(UInt8((accumulator >> bits) & mask))
            }
            accumulator &= (1 << bits) - 1
        }
        if pad {
            if bits > 0 { out.append(UInt8((accumulator << (to - bits)) & mask)) }
        } else if bits >= from || accumulator != 0 {
            return nil
        }
        return out
    }

    /// Encodes `data` under the human-readable part `hrp`; `uppercase` gives the all-caps form.
    public static func encode(hrp: String, data: [UInt8], uppercase: Bool = false) -> String {
        let lowerHRP = Array(hrp.lowercased().utf8)
        let values = regroup(data, from: 8, to: 5, pad: true) ?? []
        let mod = polymod(expand(lowerHRP) + values + [0, 0, 0, 0, 0, 0]) ^ 1
        let checksum = (0..<6).map { UInt8((mod >> UInt32(5 * (5 - $0))) & 31) }
        var out = lowerHRP + [UInt8(ascii: "1")]
        out += (values + checksum).map { alphabet[Int($0)] }
        let text = String(decoding: out, as: UTF8.self)
        return uppercase ? text.uppercased() : text
    }

    /// Decodes `text`, returning its lowercase human-readable part and data.
    /// - Throws: `MLSecError` (`invalidKey`) naming what is wrong: mixed case, bad characters, bad checksum.
    public static func decode(_ text: String) throws -> (hrp: String, data: [UInt8]) {
        let bytes = Array(text.utf8)
        guard bytes.count <= maxLength else { throw MLSecError.invalidKey("Bech32 string is too long") }
        let hasLower = bytes.contains { $0 >= UInt8(ascii: "a") && $0 <= UInt8(ascii: "z") }
        let hasUpper = bytes.contains { $0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z") }
        guard !(hasLower && hasUpper) else { throw MLSecError.invalidKey("Bech32 string mixes upper and lower case") }
        guard bytes.allSatisfy({ $0 >= 33 && $0 <= 126 }) else {
            throw MLSecError.invalidKey("Bech32 string has characters outside printable ASCII")
        }
        let lower = bytes.map { $0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z") ? $0 + 32 : $0 }
        guard let separator = lower.lastIndex(of: UInt8(ascii: "1")), separator >= 1, lower.count - separator - 1 >= 6
        else {
            throw MLSecError.invalidKey("Bech32 string has no separator or too short a checksum")
        }
        let hrp = Array(lower[..<separator])
        var values: [UInt8] = []
        values.reserveCapacity(lower.count - separator - 1)
        for c in lower[(separator + 1)...] {
            guard let index = alphabet.firstIndex(of: c) else {
                throw MLSecError.invalidKey("Bech32 string has an invalid character '\(Character(Unicode.Scalar(c)))'")
            }
            values.append(UInt8(index))
        }
        guard polymod(expand(hrp) + values) == 1 else { throw MLSecError.invalidKey("Bech32 checksum does not match") }
        guard let data = regroup(Array(values.dropLast(6)), from: 5, to: 8, pad: false) else {
            throw MLSecError.invalidKey("Bech32 data has invalid padding")
        }
        return (String(decoding: hrp, as: UTF8.self), data)
    }
}
