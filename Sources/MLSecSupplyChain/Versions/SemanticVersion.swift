// SemanticVersion: Semantic Versioning 2.0.0 precedence, for OSV `SEMVER` ranges and Swift package versions.

import MLSecCore

/// A semantic version `MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD]`, ordered by SemVer 2.0.0 §11 precedence
/// (build metadata ignored).
///
/// Accepted beyond the strict grammar, as OSV's semver tooling and Swift tags need: a leading `v` or `V`;
/// a missing minor or patch (`1` and `1.2` read as `1.0.0` and `1.2.0`); leading zeros in numeric parts
/// (compared by value); surrounding whitespace. Refused: empty identifiers, characters outside
/// `[0-9A-Za-z-]` in pre-release and build identifiers, more than three numeric parts.
public struct SemanticVersion: Sendable, Hashable, Comparable, CustomStringConvertible {
    public enum Identifier: Sendable, Hashable {
        case number(DecimalDigits)
        case text(String)
    }

    public let major: DecimalDigits
    public let minor: DecimalDigits
    public let patch: DecimalDigits
    public let preRelease: [Identifier]
    public let build: [String]

    public static let maxLength = 1024
    public static let maxIdentifiers = 64

    public init(_ text: String) throws {
        guard text.utf8.count <= Self.maxLength else {
            throw MLSecError.malformed("version is \(text.utf8.count) bytes long, over the \(Self.maxLength)-byte limit")
        }
        guard let parsed = Self.parse(text) else {
            throw MLSecError.malformed(
                "\(PEP440Version.quoted(text)) is not a semantic version; use MAJOR.MINOR.PATCH such as 2.58.0")
        }
        self = parsed
    }

    private init(major: DecimalDigits, minor: DecimalDigits, patch: DecimalDigits, preRelease: [Identifier],
                 build: [String]) {
        self.major = major
        self.minor = minor
        self.patch = patch
        self.preRelease = preRelease
        self.build = build
    }

    private static func isIdentifierByte(_ b: UInt8) -> Bool {
        (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || b == 0x2D
    }

    private static func parse(_ raw: String) -> SemanticVersion? {
        var text = Substring(raw.osvTrimmed())
        if text.first == "v" || text.first == "V" { text = text.dropFirst() }
        var build: [String] = []
        if let plus = text.firstIndex(of: "+") {
            let parts = text[text.index(after: plus)...].split(separator: ".", omittingEmptySubsequences: false)
            guard parts.count <= maxIdentifiers,
                parts.allSatisfy({ !$0.isEmpty && $0.utf8.allSatisfy(isIdentifierByte) })
            else { return nil }
            build = parts.map(String.init)
            text = text[..<plus]
        }
        var pre: [Identifier] = []
        if let dash = text.firstIndex(of: "-") {
            let parts = text[text.index(after: dash)...].split(separator: ".", omittingEmptySubsequences: false)
            guard parts.count <= maxIdentifiers,
                parts.allSatisfy({ !$0.isEmpty && $0.utf8.allSatisfy(isIdentifierByte) })
            else { return nil }
            pre = parts.map { DecimalDigits($0).map { .number($0) } ?? .text(String($0)) }
            text = text[..<dash]
        }
        let core = text.split(separator: ".", omittingEmptySubsequences: false)
        guard (1...3).contains(core.count) else { return nil }
        var numbers: [DecimalDigits] = []
        for part in core {
            guard let n = DecimalDigits(part) else { return nil }
            numbers.append(n)
        }
        while numbers.count < 3 { numbers.append(.zero) }
        return SemanticVersion(major: numbers[0], minor: numbers[1], patch: numbers[2], preRelease: pre, build: build)
    }

    public var description: String {
        var out = "\(major).\(minor).\(patch)"
        if !preRelease.isEmpty {
            out += "-" + preRelease.map {
                switch $0 {
                case .number(let n): n.digits
                case .text(let s): s
                }
            }.joined(separator: ".")
        }
        if !build.isEmpty { out += "+" + build.joined(separator: ".") }
        return out
    }

    /// -1, 0 or 1 by SemVer precedence (build metadata ignored).
    public func compare(_ other: SemanticVersion) -> Int {
        for (a, b) in [(major, other.major), (minor, other.minor), (patch, other.patch)] where a != b {
            return a < b ? -1 : 1
        }
        switch (preRelease.isEmpty, other.preRelease.isEmpty) {
        case (true, true): return 0
        case (true, false): return 1
        case (false, true): return -1
        case (false, false): break
        }
        for (a, b) in zip(preRelease, other.preRelease) {
            switch (a, b) {
            case (.number(let m), .number(let n)):
                if m != n { return m < n ? -1 : 1 }
            case (.text(let s), .text(let t)):
                if s != t { return s.utf8.lexicographicallyPrecedes(t.utf8) ? -1 : 1 }
            case (.number, .text): return -1
            case (.text, .number): return 1
            }
        }
        return preRelease.count == other.preRelease.count ? 0 : (preRelease.count < other.preRelease.count ? -1 : 1)
    }

    public static func < (lhs: SemanticVersion, rhs: SemanticVersion) -> Bool { lhs.compare(rhs) < 0 }
    public static func == (lhs: SemanticVersion, rhs: SemanticVersion) -> Bool { lhs.compare(rhs) == 0 }
    public func hash(into hasher: inout Hasher) {
        hasher.combine(major)
        hasher.combine(minor)
        hasher.combine(patch)
        hasher.combine(preRelease)
    }
}

extension String {
    /// The text without leading and trailing ASCII whitespace.
    func osvTrimmed() -> String {
        let isSpace: (UInt8) -> Bool = { $0 == 0x20 || ($0 >= 0x09 && $0 <= 0x0D) }
        let bytes = Array(utf8)
        guard let first = bytes.firstIndex(where: { !isSpace($0) }), let last = bytes.lastIndex(where: { !isSpace($0) })
        else { return "" }
        return String(decoding: bytes[first...last], as: UTF8.self)
    }
}
