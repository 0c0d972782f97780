import Foundation
import MLSecCore
import MLSecSupplyChain
import Testing

/// The committed OSV fixture directory (real GHSA/PYSEC records plus labelled synthetic ones; Fixtures/SOURCE.md).
func osvFixtures() throws -> String {
    let url = try #require(Bundle.module.url(forResource: "Fixtures", withExtension: nil))
    return url.appendingPathComponent("osv").path
}

func temporaryFile(_ name: String, _ text: String) throws -> String {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mlsec-audit-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    let path = dir.appendingPathComponent(name).path
    try Data(text.utf8).write(to: URL(fileURLWithPath: path))
    return path
}

@Suite struct DependencyAuditTests {
    func audit(_ requirements: String) throws -> AuditReport {
        let db = try OSVDatabase.load(directory: try osvFixtures())
        return try DependencyAudit.audit(try RequirementsFile.read(try temporaryFile("requirements.txt", requirements)),
                                         database: db)
    }

    @Test func loadsRecordsAndSkipsWithdrawn() throws {
        let db = try OSVDatabase.load(directory: try osvFixtures())
        #expect(db.withdrawnCount == 1)
        #expect(db.records.count == 9)
        #expect(db.newestModified?.text == "2025-05-01T03:31:17Z")
        #expect(!db.records.contains { $0.id == "MLSEC-TEST-2025-0001" })
    }

    @Test func mergesAliasesAndPicksTheHighestSeverity() throws {
        let report = try audit("Jinja2==2.10  # old\n")
        let ids = report.findings.map { $0.ids.first ?? "" }
        #expect(report.findings.count == 4)
        let sandbox = try #require(report.findings.first { $0.recordIDs.contains("PYSEC-2019-217") })
        #expect(sandbox.ids == ["GHSA-462w-v97r-4m45", "PYSEC-2019-217", "CVE-2019-10906"])
        #expect(sandbox.severity.rating == .high)
        #expect(sandbox.severity.score == 8.6)
        #expect(sandbox.fixed == ["2.10.1"])
        #expect(ids.contains("GHSA-cpwx-vrp4-4pq7"))
        let v4 = try #require(report.findings.first { $0.ids.first == "GHSA-cpwx-vrp4-4pq7" })
        #expect(v4.severity.source == "CVSS_V4")
        #expect(v4.severity.score == 5.4)
        #expect(v4.severity.rating == .medium)
    }

    @Test func fixedBoundariesAreExclusiveAndLastAffectedInclusive() throws {
        #expect(try audit("jinja2==3.1.6\n").findings.isEmpty)
        #expect(try audit("jinja2==3.1.5\n").findings.map { $0.ids[0] } == ["GHSA-cpwx-vrp4-4pq7"])
        #expect(try audit("pillow==9.0.1\n").findings.count == 1)
        #expect(try audit("pillow==9.0.2\n").findings.isEmpty)
        #expect(try audit("pillow==8.4.0\n").findings.isEmpty)
        let torch = try audit("torch==1.13.0 --hash=sha256:00\n")
        #expect(torch.findings.map { $0.ids } == [["PYSEC-2022-43015", "CVE-2022-45907"]])
        #expect(torch.findings.first?.severity.rating == .unknown)
        #expect(torch.failing(threshold: .critical).count == 1)
    }

    @Test func reportsWhatItCannotAudit() throws {
        let report = try audit("requests>=2.0\nnumpy\n-e ./local\nflask @ https://x.test/f.whl\nrequests==2.2.0 ; python_version<'3'\n")
        #expect(report.skipped.map(\.reason) == ["not pinned, not audited", "not pinned, not audited",
                                                 "editable install, not audited", "path or URL requirement, not audited"])
        #expect(report.findings.map { $0.ids[0] } == ["MLSEC-TEST-2025-0004"])
        #expect(report.findings[0].severity.rating == .unknown)
    }

    @Test func refusesBadPinsAndFollowsIncludes() throws {
        #expect(throws: MLSecError.self) { try audit("jinja2==2.0-SNAPSHOT\n") }
        let inner = try temporaryFile("inner.txt", "pillow==9.0.0\n")
        let outer = (inner as NSString).deletingLastPathComponent + "/outer.txt"
        try Data("-r inner.txt\njinja2==3.1.6 \\\n    --hash=sha256:ab\n".utf8).write(to: URL(fileURLWithPath: outer))
        let list = try RequirementsFile.read(outer)
        #expect(list.dependencies.map(\.name) == ["pillow", "jinja2"])
        #expect(list.dependencies[1].origin.hasSuffix("outer.txt:2"))
        let loop = (inner as NSString).deletingLastPathComponent + "/loop.txt"
        try Data("-r loop.txt\n".utf8).write(to: URL(fileURLWithPath: loop))
        #expect(throws: MLSecError.self) { try RequirementsFile.read(loop) }
    }

    @Test func auditsSwiftPinsFromPackageResolved() throws {
        let resolved = try temporaryFile("Package.resolved", """
            {"pins": [
              {"identity": "swift-nio-http2", "kind": "remoteSourceControl",
               "location": "https://github.com/apple/swift-nio-http2.git",
               "state": {"revision": "abc", "version": "1.27.0"}},
              {"identity": "swift-nio", "kind": "remoteSourceControl", "location": "https://github.com/apple/swift-nio.git",
               "state": {"branch": "main", "revision": "def"}}
            ], "version": 2}
            """)
        let db = try OSVDatabase.load(directory: try osvFixtures())
        let report = try DependencyAudit.audit(try PackageResolved.read(resolved), database: db)
        #expect(report.findings.map { $0.ids } == [["MLSEC-TEST-2025-0003", "CVE-2023-44487"]])
        #expect(report.findings.first?.fixed == ["1.28.0"])
        #expect(report.skipped.map(\.reason) == ["pinned by branch main, not audited"])
    }

    @Test func auditsBOMComponentsByPurl() throws {
        let bom = try temporaryFile("bom.json", """
            {"bomFormat": "CycloneDX", "specVersion": "1.6", "components": [
              {"type": "library", "name": "jinja2", "purl": "pkg:pypi/jinja2@3.1.4"},
              {"type": "library", "name": "swift-nio-http2", "purl": "pkg:swift/github.com/apple/swift-nio-http2@1.28.0"},
              {"type": "library", "name": "left-pad", "purl": "pkg:npm/left-pad@1.0.0"}
            ]}
            """)
        let db = try OSVDatabase.load(directory: try osvFixtures())
        let report = try DependencyAudit.audit(try CycloneDXDependencies.read(bom), database: db)
        #expect(report.audited.count == 2)
        #expect(Set(report.findings.map { $0.ids[0] }) == ["GHSA-q2x7-8rv6-6q7h", "GHSA-cpwx-vrp4-4pq7"])
        #expect(report.skipped.map(\.reason) == ["unsupported ecosystem npm, not audited"])
    }

    @Test func refusesMalformedRecordsNamingTheFile() throws {
        let bad = try temporaryFile("BAD-1.json", "{\"id\": \"X\", \"affected\": 5}")
        let dir = (bad as NSString).deletingLastPathComponent
        do {
            _ = try OSVDatabase.load(directory: dir)
            Issue.record("loaded a malformed record")
        } catch let error as MLSecError {
            #expect(error.message.contains("BAD-1.json"))
        }
        let truncated = try temporaryFile("T.json", "{\"id\": \"X\", \"affected\": [")
        #expect(throws: MLSecError.self) { try OSVDatabase.load(directory: (truncated as NSString).deletingLastPathComponent) }
    }
}
