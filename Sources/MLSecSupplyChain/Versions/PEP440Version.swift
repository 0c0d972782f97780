// PEP440Version: a Python package version as PEP 440 defines it and `packaging.version.Version` parses it.

import MLSecCore

/// A PEP 440 version: `[N!]N(.N)*[{a|b|rc}N][.postN][.devN][+local]`, with the spellings PEP 440 normalizes
/// (case, a leading `v`, `alpha`/`beta`/`c`/`pre`/`preview`, `-N` and `rev`/`r` post releases, implicit
/// numbers, `.`/`-`/`_` separators, surrounding whitespace). Ordering is that of `packaging.version.Version`.
///
/// Legacy (non-PEP 440) versions are refused: `init` throws `malformed` naming the text.
public struct PEP440Version: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The pre-release phase, in order.
    public enum PreReleaseKind: Int, Sendable, Hashable, Comparable {
        case alpha = 0, beta = 1, releaseCandidate = 2
        public static func < (lhs: Self, rhs: Self) -> Bool { lhs.rawValue < rhs.rawValue }
        var label: String {
            switch self {
            case .alpha: "a"
            case .beta: "b"
            case .releaseCandidate: "rc"
            }
        }
    }

    /// One part of a local version label: a number or a lowercase alphanumeric string.
    public enum LocalPart: Sendable, Hashable {
        case number(DecimalDigits)
        case text(String)
    }

    public let epoch: DecimalDigits
    public let release: [DecimalDigits]
    public let pre: (kind: PreReleaseKind, number: DecimalDigits)?
    public let post: DecimalDigits?
    public let dev: DecimalDigits?
    public let local: [LocalPart]?

    /// Longest version text accepted (a real version is under 100 characters).
    public static let maxLength = 1024
    /// Most release components accepted.
    public static let maxReleaseComponents = 64

    /// Parses `text`, throwing `malformed` for anything `packaging.version.Version` would refuse.
    public init(_ text: String) throws {
        guard text.utf8.count <= Self.maxLength else {
            throw MLSecError.malformed("version is \(text.utf8.count) bytes long, over the \(Self.maxLength)-byte limit")
        }
        var scanner = VersionScanner(text)
        guard let parsed = scanner.parsePEP440() else {
            throw MLSecError.malformed(
                "\(Self.quoted(text)) is not a valid PEP 440 version (legacy versions are not supported); "
                    + "pin a version such as 1.2.3, 1.0rc1 or 2.0.post1")
        }
        self = parsed
    }

    init(epoch: DecimalDigits, release: [DecimalDigits], pre: (PreReleaseKind, DecimalDigits)?, post: DecimalDigits?,
         dev: DecimalDigits?, local: [LocalPart]?) {
        self.epoch = epoch
        self.release = release
        self.pre = pre.map { (kind: $0.0, number: $0.1) }
        self.post = post
        self.dev = dev
        self.local = local
    }

    /// Whether `text` parses.
    public static func isValid(_ text: String) -> Bool { (try? PEP440Version(text)) != nil }

    /// The normalized form, as `str(packaging.version.Version(text))` prints it.
    public var description: String {
        var out = epoch.isZero ? "" : "\(epoch)!"
        out += release.map(\.digits).joined(separator: ".")
        if let pre { out += pre.kind.label + pre.number.digits }
        if let post { out += ".post" + post.digits }
        if let dev { out += ".dev" + dev.digits }
        if let local {
            out += "+" + local.map {
                switch $0 {
                case .number(let n): n.digits
                case .text(let s): s
                }
            }.joined(separator: ".")
        }
        return out
    }

    /// The version without its local label (`1.0+ubuntu1` → `1.0`).
    public var public_: PEP440Version {
        PEP440Version(epoch: epoch, release: release, pre: pre.map { ($0.kind, $0.number) }, post: post, dev: dev,
                      local: nil)
    }

    static func quoted(_ text: String) -> String {
        let shown = text.count > 80 ? String(text.prefix(80)) + "…" : text
        return "\"" + shown.unicodeScalars.map { $0.value < 0x20 || $0.value == 0x7F ? "?" : String($0) }.joined() + "\""
    }

    public static func == (lhs: PEP440Version, rhs: PEP440Version) -> Bool { lhs.compare(rhs) == 0 }
    public static func < (lhs: PEP440Version, rhs: PEP440Version) -> Bool { lhs.compare(rhs) < 0 }

    public func hash(into hasher: inout Hasher) {
        // Equal versions must hash alike: trailing zero release components do not count.
        hasher.combine(epoch)
        hasher.combine(Array(release.reversed().drop { $0.isZero }.reversed()))
        hasher.combine(pre?.kind)
        hasher.combine(pre?.number)
        hasher.combine(post)
        hasher.combine(dev)
        hasher.combine(local)
    }
}
