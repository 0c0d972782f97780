// AuditDepsCommand: `mlsec audit-deps`, an offline dependency audit against a copy of the OSV database.

import ArgumentParser
import Foundation
import MLSecCore
import MLSecSupplyChain

extension SeverityRating: ExpressibleByArgument {}

struct AuditDepsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit-deps",
        abstract: "Audit pinned dependencies against an offline copy of the OSV database.",
        discussion: """
            Matches pins from a pip requirements file, a SwiftPM Package.resolved or a CycloneDX \
            JSON BOM against OSV records under --osv (*.json files, recursively, and OSV's \
            per-ecosystem all.zip dumps), with PEP 440 ordering for PyPI and SemVer 2.0 for \
            SwiftURL. Records that share an id or alias are one finding. Severity is the score computed \
            from the record's newest CVSS vector (v4.0, else v3.x, else v2); records without one use \
            the database's own label. Exit status: 1 when a finding is at or above --fail-on \
            (findings of unknown severity always count: fail closed), 0 otherwise, 2 when an input \
            or the database cannot be read. Pins that cannot be audited (unpinned, revision-only, \
            other ecosystems) are listed on stderr and in the JSON, never dropped.
            Examples:
              mlsec audit-deps --osv osv-db --requirements requirements.txt
              mlsec audit-deps --osv osv-db --package-resolved Package.resolved \\
                  --fail-on high --format json
              mlsec audit-deps --osv osv-db --sbom bom.json --max-age-days 7
              mlsec audit-deps sort-versions --ecosystem PyPI versions.txt
            """,
        subcommands: [SortVersions.self, Score.self])

    @Option(help: "Directory of OSV records (*.json, recursively, and <ecosystem>/all.zip).")
    var osv: String?

    @Option(help: "A pip requirements file (repeatable).")
    var requirements: [String] = []

    @Option(name: .customLong("package-resolved"), help: "A SwiftPM Package.resolved (repeatable).")
    var packageResolved: [String] = []

    @Option(help: "A CycloneDX JSON BOM (repeatable).")
    var sbom: [String] = []

    @Option(name: .customLong("fail-on"),
            help: "Exit 1 for findings at or above: low, medium, high or critical (unknown always fails).")
    var failOn: SeverityRating = .low

    @Option(name: .customLong("max-age-days"), help: "Warn when the newest OSV record is older than this.")
    var maxAgeDays = 30

    @Option(help: "Output: text or json.")
    var format: OutputFormat = .text

    func run() async throws {
        guard let osv else { throw MLSecError.usage("mlsec audit-deps needs --osv DIR (a copy of the OSV database)") }
        guard !(requirements.isEmpty && packageResolved.isEmpty && sbom.isEmpty) else {
            throw MLSecError.usage("mlsec audit-deps needs --requirements FILE, --package-resolved FILE or --sbom FILE")
        }
        guard failOn != .unknown, failOn != .none else {
            throw MLSecError.usage("--fail-on takes low, medium, high or critical")
        }
        guard maxAgeDays >= 0 else { throw MLSecError.usage("--max-age-days must be 0 or more") }
        let database = try OSVDatabase.load(directory: osv)
        let ageDays = reportDatabase(database, path: osv)
        var inputs = DependencyList()
        for path in requirements { merge(try RequirementsFile.read(path), into: &inputs) }
        for path in packageResolved { merge(try PackageResolved.read(path), into: &inputs) }
        for path in sbom { merge(try CycloneDXDependencies.read(path), into: &inputs) }
        let report = try DependencyAudit.audit(inputs, database: database)
        for skipped in report.skipped {
            Terminal.warning("\(skipped.origin): \(skipped.name): \(skipped.reason)")
        }
        let failing = report.failing(threshold: failOn)
        switch format {
        case .text: printText(report, failing: failing.count)
        case .json: printJSON(json(report, database: database, path: osv, ageDays: ageDays, failing: failing.count))
        }
        if !failing.isEmpty { throw ExitCode(1) }
    }

    private func merge(_ list: DependencyList, into all: inout DependencyList) {
        all.dependencies += list.dependencies
        all.skipped += list.skipped
    }

    /// Prints the database summary on stderr; returns the age in days of its newest record.
    private func reportDatabase(_ db: OSVDatabase, path: String) -> Int? {
        var line = "loaded \(db.records.count) OSV records from \(path) (\(db.withdrawnCount) withdrawn, skipped)"
        var age: Int?
        if let newest = db.newestModified {
            age = max(0, Int(Date().timeIntervalSince(newest.date) / 86_400))
            line += "; newest modified \(newest.text) (\(age ?? 0) days ago)"
        }
        Terminal.note(line)
        if let age, age > maxAgeDays {
            Terminal.warning("the OSV data is \(age) days old (over --max-age-days \(maxAgeDays)); refresh it so new advisories are seen")
        } else if age == nil {
            Terminal.warning("no OSV record has a readable \"modified\" date; the data's age is unknown")
        }
        for warning in db.warnings.prefix(20) { Terminal.warning(warning) }
        if db.warnings.count > 20 { Terminal.warning("\(db.warnings.count - 20) more database warnings not shown") }
        return age
    }

    private func printText(_ report: AuditReport, failing: Int) {
        for f in report.findings {
            print("\(f.dependency.name) \(f.dependency.version) (\(f.dependency.origin))")
            print("  \(f.ids.joined(separator: ", "))")
            if let summary = f.summary { print("  \(summary)") }
            var severity = "  severity: \(f.severity.rating.rawValue)"
            if let score = f.severity.score { severity += " \(String(format: "%.1f", score))" }
            if let vector = f.severity.vector { severity += " \(vector)" }
            if f.severity.source == "database_specific" { severity += " (rating from the database)" }
            print(severity)
            print("  fixed in: " + (f.fixed.isEmpty ? "no fixed version known" : f.fixed.joined(separator: ", ")))
        }
        let vulnerable = Set(report.findings.map(\.dependency)).count
        print("\(report.findings.count) known vulnerabilities in \(vulnerable) of \(report.audited.count) audited "
            + "dependencies; \(failing) at or above --fail-on \(failOn.rawValue); \(report.skipped.count) not audited")
    }

    private func json(_ report: AuditReport, database db: OSVDatabase, path: String, ageDays: Int?, failing: Int)
        -> JSONValue
    {
        func optional(_ s: String?) -> JSONValue { s.map { .string($0) } ?? .null }
        return .object([
            ("database", .object([
                ("path", .string(path)), ("records", .int(db.records.count)), ("withdrawn_skipped", .int(db.withdrawnCount)),
                ("newest_modified", optional(db.newestModified?.text)), ("age_days", ageDays.map { .int($0) } ?? .null),
                ("warnings", .array(db.warnings.map { .string($0) })),
            ])),
            ("fail_on", .string(failOn.rawValue)),
            ("verdict", .string(failing > 0 ? "vulnerable" : "clean")),
            ("failing", .int(failing)),
            ("audited", .int(report.audited.count)),
            ("findings", .array(report.findings.map { f in
                .object([
                    ("package", .string(f.dependency.name)), ("ecosystem", .string(f.dependency.ecosystem.rawValue)),
                    ("version", .string(f.dependency.version)), ("origin", .string(f.dependency.origin)),
                    ("ids", .array(f.ids.map { .string($0) })), ("records", .array(f.recordIDs.map { .string($0) })),
                    ("summary", optional(f.summary)),
                    ("severity", .object([
                        ("rating", .string(f.severity.rating.rawValue)),
                        ("score", f.severity.score.map { .number(String(format: "%.1f", $0)) } ?? .null),
                        ("vector", optional(f.severity.vector)), ("source", .string(f.severity.source)),
                    ])),
                    ("fixed", .array(f.fixed.map { .string($0) })),
                ])
            })),
            ("not_audited", .array(report.skipped.map {
                .object([("name", .string($0.name)), ("origin", .string($0.origin)), ("reason", .string($0.reason))])
            })),
        ])
    }
}
