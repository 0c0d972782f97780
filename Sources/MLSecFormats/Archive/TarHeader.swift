// TarHeader: the fields of a 512-byte tar header block, and member path checks.

import MLSecCore

enum TarHeader {
    /// `true` when the header checksum (offset 148, 8 bytes) equals the unsigned or the signed byte sum of the
    /// block with the checksum field read as spaces (historic writers used signed chars).
    static func checksumMatches(_ block: [UInt8]) -> Bool {
        guard block.count == 512, let stored = number(block[148..<156]) else { return false }
        var unsigned = 0
        var signed = 0
        for i in 0..<512 {
            let byte = (148..<156).contains(i) ? UInt8(ascii: " ") : block[i]
            unsigned += Int(byte)
            signed += Int(Int8(bitPattern: byte))
        }
        return stored == unsigned || stored == signed
    }

    /// A numeric field: octal digits (leading and trailing spaces and NULs allowed, empty is 0) or GNU base-256
    /// (first byte 0x80 for positive, 0xFF for negative). `nil` when invalid or out of range.
    static func number(_ field: ArraySlice<UInt8>) -> Int? {
        guard let first = field.first else { return 0 }
        if first == 0x80 || first == 0xff {
            var value = 0
            for byte in field.dropFirst() {
                guard value <= (Int.max >> 8) else { return nil }
                value = value << 8 | Int(byte)
            }
            // 0xFF marks a negative number; sizes, modes and checksums cannot be negative.
            return first == 0xff ? nil : value
        }
        let text = field.prefix { $0 != 0 }
        var digits = text.drop { $0 == UInt8(ascii: " ") }
        while let last = digits.last, last == UInt8(ascii: " ") { digits = digits.dropLast() }
        var value = 0
        for byte in digits {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "7"), value <= (Int.max >> 3) else { return nil }
            value = value << 3 | Int(byte - UInt8(ascii: "0"))
        }
        return value
    }

    /// The bytes of a NUL-terminated string field.
    static func string(_ field: ArraySlice<UInt8>) -> [UInt8] { Array(field.prefix { $0 != 0 }) }
}

/// POSIX path helpers with Python `posixpath` semantics.
enum TarPath {
    /// `posixpath.dirname`: everything before the last `/`, trailing slashes removed (unless all slashes).
    static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "" }
        var head = path[...slash]
        if !head.allSatisfy({ $0 == "/" }) {
            while head.hasSuffix("/") { head = head.dropLast() }
        }
        return String(head)
    }

    /// `posixpath.normpath`: collapses `//` and `.`, resolves `..` lexically (keeping leading `..` in relative
    /// paths), keeps one leading `/` (two when exactly two), and gives `.` for an empty result.
    static func normpath(_ path: String) -> String {
        if path.isEmpty { return "." }
        var leading = 0
        if path.hasPrefix("/") {
            leading = path.hasPrefix("//") && !path.hasPrefix("///") ? 2 : 1
        }
        var parts: [Substring] = []
        for part in path.split(separator: "/", omittingEmptySubsequences: true) {
            if part == "." { continue }
            if part == ".." {
                if let last = parts.last, last != ".." {
                    parts.removeLast()
                } else if leading == 0 {
                    parts.append(part)
                }
                continue
            }
            parts.append(part)
        }
        let joined = String(repeating: "/", count: leading) + parts.joined(separator: "/")
        return joined.isEmpty ? "." : joined
    }
}

/// Walks the headers of a tar archive.
