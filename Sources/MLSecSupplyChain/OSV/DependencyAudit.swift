// DependencyAudit: matches dependencies against an OSV database and merges records that name one flaw.

import MLSecCore

/// One vulnerability of one dependency: every record that affects the installed version and shares an id
/// or alias with another (transitively) is one finding.
public struct AuditFinding: Sendable {
    public var dependency: Dependency
    /// The primary id first (GHSA, then PYSEC, then other record ids), then the other record ids, then aliases.
    public var ids: [String]
    /// The ids of the records merged into this finding.
    public var recordIDs: [String]
    public var summary: String?
    /// The highest severity of the merged records (a known rating wins over unknown).
    public var severity: RecordSeverity
    /// Fixed versions above the installed one, lowest first (the first is the nearest upgrade).
    public var fixed: [String]
}

/// The result of an audit.
public struct AuditReport: Sendable {
    public var findings: [AuditFinding] = []
    /// Every dependency that was matched against the database.
    public var audited: [Dependency] = []
    public var skipped: [SkippedDependency] = []

    /// Findings at or above `threshold`; findings of unknown severity always count (fail closed).
    public func failing(threshold: SeverityRating) -> [AuditFinding] {
        findings.filter { $0.severity.rating == .unknown || $0.severity.rating >= threshold }
    }
}

/// Audits dependency lists against an ``OSVDatabase``.
public enum DependencyAudit {
    /// Matches each dependency with its ecosystem's ordering and merges aliases.
    /// - Throws: `malformed` for a dependency whose version does not parse in its ecosystem (naming where it was read).
    public static func audit(_ list: DependencyList, database: OSVDatabase) throws -> AuditReport {
        var report = AuditReport()
        report.skipped = list.skipped
        for dependency in list.dependencies {
            let installed: EcosystemVersion
            do {
                installed = try dependency.ecosystem.version(dependency.version)
            } catch let error as MLSecError {
                throw MLSecError.malformed("\(dependency.origin): \(dependency.name): \(error.message)")
            }
            report.audited.append(dependency)
            let key = dependency.ecosystem.normalizedName(dependency.name)
            var matched: [(record: OSVRecord, fixes: [(text: String, version: EcosystemVersion)])] = []
            for record in database.candidates(ecosystem: dependency.ecosystem, key: key) {
                var hit = false
                var fixes: [(text: String, version: EcosystemVersion)] = []
                for affected in record.affected where affected.ecosystem == dependency.ecosystem && affected.key == key {
                    let m = affected.match(installedText: dependency.version, installed: installed)
                    if m.isAffected {
                        hit = true
                        fixes += m.fixedAbove
                    }
                }
                if hit { matched.append((record, fixes)) }
            }
            for group in groups(matched.map(\.record)) {
                let members = group.map { matched[$0] }
                report.findings.append(finding(dependency, members))
            }
        }
        return report
    }

    /// Indices of `records` grouped by shared identifiers (id or alias), transitively.
    static func groups(_ records: [OSVRecord]) -> [[Int]] {
        var parent = Array(records.indices)
        func find(_ i: Int) -> Int {
            var i = i
            while parent[i] != i {
                parent[i] = parent[parent[i]]
                i = parent[i]
            }
            return i
        }
        var owner: [String: Int] = [:]
        for (i, record) in records.enumerated() {
            for name in [record.id] + record.aliases {
                if let j = owner[name] { parent[find(i)] = find(j) } else { owner[name] = i }
            }
        }
        var byRoot: [Int: [Int]] = [:]
        for i in records.indices { byRoot[find(i), default: []].append(i) }
        return byRoot.values.sorted { ($0.min() ?? 0) < ($1.min() ?? 0) }
    }

    private static func idRank(_ id: String) -> Int {
        if id.hasPrefix("GHSA-") { return 0 }
        if id.hasPrefix("PYSEC-") { return 1 }
        if id.hasPrefix("CVE-") { return 3 }
        return 2
    }

    private static func finding(_ dependency: Dependency,
                                _ members: [(record: OSVRecord, fixes: [(text: String, version: EcosystemVersion)])])
        -> AuditFinding
    {
        let records = members.map(\.record).sorted { (idRank($0.id), $0.id) < (idRank($1.id), $1.id) }
        let recordIDs = records.map(\.id)
        let aliases = Set(records.flatMap(\.aliases)).subtracting(recordIDs).sorted { (idRank($0), $0) < (idRank($1), $1) }
        var severity = records.first?.severity ?? .unknown
        for record in records where record.severity.isHigher(than: severity) { severity = record.severity }
        var fixes: [(text: String, version: EcosystemVersion)] = []
        for fix in members.flatMap(\.fixes).sorted(by: { $0.version.compare($1.version) < 0 })
        where !fixes.contains(where: { $0.version.compare(fix.version) == 0 }) {
            fixes.append(fix)
        }
        let summary = records.lazy.compactMap(\.summary).first { !$0.isEmpty }
        return AuditFinding(dependency: dependency, ids: recordIDs + aliases, recordIDs: recordIDs, summary: summary,
                            severity: severity, fixed: fixes.map(\.text))
    }
}
