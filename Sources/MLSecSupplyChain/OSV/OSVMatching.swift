// OSVMatching: whether an installed version falls in an affected entry (OSV schema, "Evaluation").

/// The outcome of matching one installed version against one affected entry.
public struct OSVMatch: Sendable {
    /// Whether the version is affected (listed in `versions[]`, or inside a range).
    public var isAffected: Bool
    /// The entry's `fixed` versions above the installed version, as written, lowest first.
    public var fixedAbove: [(text: String, version: EcosystemVersion)]
}

extension OSVAffected {
    /// Matches `installed` (parsed in this entry's ecosystem; `installedText` as written, for `SEMVER`
    /// ranges of an ecosystem with another grammar and for literal `versions[]` entries).
    ///
    /// A version is affected if it is listed in `versions[]` or if, walking a range's events in version
    /// order, the last event at or below it is an `introduced` (`fixed` is exclusive, `last_affected`
    /// inclusive). `limit` events belong to GIT ranges and are ignored.
    public func match(installedText: String, installed: EcosystemVersion) -> OSVMatch {
        var affected = parsedVersions.contains(installed) || versions.contains(installedText)
        var fixes: [(text: String, version: EcosystemVersion)] = []
        for range in ranges {
            let v: EcosystemVersion
            if range.type == "SEMVER", case .pep440 = installed {
                guard let semantic = try? SemanticVersion(installedText) else { continue }
                v = .semantic(semantic)
            } else {
                v = installed
            }
            var inRange = false
            for event in range.events {
                switch event.kind {
                case .introduced:
                    if let at = event.version { if v.compare(at) >= 0 { inRange = true } } else { inRange = true }
                case .fixed:
                    if let at = event.version, v.compare(at) >= 0 { inRange = false }
                case .lastAffected:
                    if let at = event.version, v.compare(at) > 0 { inRange = false }
                case .limit:
                    break
                }
            }
            if inRange {
                affected = true
                for event in range.events where event.kind == .fixed {
                    if let at = event.version, at.compare(v) > 0 { fixes.append((event.text, at)) }
                }
            }
        }
        if affected, fixes.isEmpty {
            // Listed in versions[] only: any fix above the installed version is the best hint there is.
            for range in ranges {
                for event in range.events where event.kind == .fixed {
                    if let at = event.version, at.compare(installed) > 0 { fixes.append((event.text, at)) }
                }
            }
        }
        fixes.sort { $0.version.compare($1.version) < 0 }
        return OSVMatch(isAffected: affected, fixedAbove: affected ? fixes : [])
    }
}
