// VersionScanner: a hand-written scanner for PEP 440's grammar (packaging's VERSION_PATTERN, case-insensitive).
// Every choice the pattern can backtrack over is decided by one character of lookahead, so a greedy scan
// accepts exactly what the regular expression accepts, in time linear in the input.

struct VersionScanner {
    private let bytes: [UInt8]
    private var i = 0

    init(_ text: String) {
        bytes = Array(text.utf8).map { $0 >= 0x41 && $0 <= 0x5A ? $0 + 0x20 : $0 }
    }

    private static func isSpace(_ b: UInt8) -> Bool { b == 0x20 || (b >= 0x09 && b <= 0x0D) }
    private static func isDigit(_ b: UInt8) -> Bool { b >= 0x30 && b <= 0x39 }
    private static func isAlnum(_ b: UInt8) -> Bool { isDigit(b) || (b >= 0x61 && b <= 0x7A) }
    private static func isSeparator(_ b: UInt8) -> Bool { b == 0x2E || b == 0x2D || b == 0x5F }

    private var current: UInt8? { i < bytes.count ? bytes[i] : nil }

    private mutating func digits() -> DecimalDigits? {
        let start = i
        while let c = current, Self.isDigit(c) { i += 1 }
        guard i > start else { return nil }
        return DecimalDigits(String(decoding: bytes[start..<i], as: UTF8.self))
    }

    /// Consumes `word` if the input continues with it.
    private mutating func word(_ word: String) -> Bool {
        let w = Array(word.utf8)
        guard i + w.count <= bytes.count, Array(bytes[i..<(i + w.count)]) == w else { return false }
        i += w.count
        return true
    }

    /// Optional separator then a label from `labels` (tried in order); restores the position when none follows.
    private mutating func label(_ labels: [String]) -> String? {
        let start = i
        if let c = current, Self.isSeparator(c) { i += 1 }
        for l in labels where word(l) { return l }
        i = start
        return nil
    }

    /// `[-_.]?` then `[0-9]*`: an implicit number is 0. The separator stays consumed even when no digits
    /// follow; every part after it accepts its own optional separator, so this never loses a parse.
    private mutating func implicitNumber() -> DecimalDigits {
        if let c = current, Self.isSeparator(c) { i += 1 }
        return digits() ?? .zero
    }

    mutating func parsePEP440() -> PEP440Version? {
        while let c = current, Self.isSpace(c) { i += 1 }
        if current == 0x76 { i += 1 }  // v
        guard var first = digits() else { return nil }
        var epoch = DecimalDigits.zero
        if current == 0x21 {  // !
            i += 1
            epoch = first
            guard let n = digits() else { return nil }
            first = n
        }
        var release = [first]
        while current == 0x2E, i + 1 < bytes.count, Self.isDigit(bytes[i + 1]) {
            i += 1
            guard let n = digits(), release.count < PEP440Version.maxReleaseComponents else { return nil }
            release.append(n)
        }
        var pre: (PEP440Version.PreReleaseKind, DecimalDigits)?
        if let l = label(["alpha", "a", "beta", "b", "preview", "pre", "c", "rc"]) {
            let kind: PEP440Version.PreReleaseKind =
                switch l {
                case "alpha", "a": .alpha
                case "beta", "b": .beta
                default: .releaseCandidate
                }
            pre = (kind, implicitNumber())
        }
        var post: DecimalDigits?
        if current == 0x2D, i + 1 < bytes.count, Self.isDigit(bytes[i + 1]) {
            i += 1
            post = digits()
        } else if label(["post", "rev", "r"]) != nil {
            post = implicitNumber()
        }
        var dev: DecimalDigits?
        if label(["dev"]) != nil { dev = implicitNumber() }
        var local: [PEP440Version.LocalPart]?
        if current == 0x2B {  // +
            i += 1
            var parts: [PEP440Version.LocalPart] = []
            while true {
                let start = i
                while let c = current, Self.isAlnum(c) { i += 1 }
                guard i > start, parts.count < PEP440Version.maxReleaseComponents else { return nil }
                let text = String(decoding: bytes[start..<i], as: UTF8.self)
                parts.append(DecimalDigits(text).map { .number($0) } ?? .text(text))
                guard let c = current, Self.isSeparator(c) else { break }
                i += 1
            }
            local = parts
        }
        while let c = current, Self.isSpace(c) { i += 1 }
        guard i == bytes.count else { return nil }
        return PEP440Version(epoch: epoch, release: release, pre: pre, post: post, dev: dev, local: local)
    }
}
