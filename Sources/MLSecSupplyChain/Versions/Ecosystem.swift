// Ecosystem: the package ecosystems the audit understands, their version orderings and name normalization.

import MLSecCore

/// A package ecosystem as OSV names it.
public enum Ecosystem: String, Sendable, Hashable, CaseIterable {
    /// Python packages: PEP 440 versions, PEP 503 names.
    case pypi = "PyPI"
    /// Swift packages named by their repository URL: semantic versions.
    case swiftURL = "SwiftURL"

    /// The ecosystem an OSV `package.ecosystem` string names, or `nil` for one the audit does not match.
    /// `purl-type:swift` is read as `SwiftURL` (GitHub's advisory export has used it for Swift packages).
    public init?(osvName: String) {
        switch osvName {
        case "PyPI": self = .pypi
        case "SwiftURL", "purl-type:swift": self = .swiftURL
        default: return nil
        }
    }

    /// The ecosystem's `sort-versions` spelling, case-insensitive (`pypi`, `swifturl`, `semver`).
    public init?(argument: String) {
        switch argument.lowercased() {
        case "pypi": self = .pypi
        case "swifturl", "swift", "semver": self = .swiftURL
        default: return nil
        }
    }

    /// The key under which a package of this ecosystem is matched.
    ///
    /// PyPI: PEP 503 (lowercase, runs of `-`, `_`, `.` become one `-`). SwiftURL: the repository URL,
    /// lowercased, without scheme (`https://`, `http://`, `ssh://`, `git://`, `git+https://`), without a
    /// `git@host:` user part, without a trailing `/` or `.git`.
    public func normalizedName(_ name: String) -> String {
        switch self {
        case .pypi:
            var out = ""
            var lastWasSeparator = false
            for ch in name.osvTrimmed().lowercased() {
                if ch == "-" || ch == "_" || ch == "." {
                    if !lastWasSeparator { out.append("-") }
                    lastWasSeparator = true
                } else {
                    out.append(ch)
                    lastWasSeparator = false
                }
            }
            return out
        case .swiftURL:
            var url = name.osvTrimmed().lowercased()
            for scheme in ["git+https://", "git+ssh://", "https://", "http://", "ssh://", "git://"]
            where url.hasPrefix(scheme) {
                url.removeFirst(scheme.count)
                break
            }
            if url.hasPrefix("git@"), let colon = url.firstIndex(of: ":") {
                url = String(url[url.index(url.startIndex, offsetBy: 4)..<colon]) + "/" + url[url.index(after: colon)...]
            }
            if let at = url.firstIndex(of: "@"), let slash = url.firstIndex(of: "/"), at < slash {
                url = String(url[url.index(after: at)...])  // user@host/path
            }
            while url.hasSuffix("/") { url.removeLast() }
            if url.hasSuffix(".git") { url.removeLast(4) }
            return url
        }
    }

    /// Parses a version of this ecosystem.
    public func version(_ text: String) throws -> EcosystemVersion {
        switch self {
        case .pypi: .pep440(try PEP440Version(text))
        case .swiftURL: .semantic(try SemanticVersion(text))
        }
    }
}

/// A parsed version of some ecosystem. Versions of different kinds do not compare (they never meet: a
/// range is evaluated in one ecosystem).
public enum EcosystemVersion: Sendable, Hashable, CustomStringConvertible {
    case pep440(PEP440Version)
    case semantic(SemanticVersion)

    /// -1, 0 or 1; versions of different kinds compare by kind (PEP 440 first) so sorting never traps.
    public func compare(_ other: EcosystemVersion) -> Int {
        switch (self, other) {
        case (.pep440(let a), .pep440(let b)): a.compare(b)
        case (.semantic(let a), .semantic(let b)): a.compare(b)
        case (.pep440, .semantic): -1
        case (.semantic, .pep440): 1
        }
    }

    public var description: String {
        switch self {
        case .pep440(let v): v.description
        case .semantic(let v): v.description
        }
    }
}
