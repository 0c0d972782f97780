// Tests of the scanner's policy, format detection and in-memory scanning.

import MLSecCore
import MLSecScan
import Testing

@Suite struct ScannerTests {
    func pickle(_ module: String, _ name: String, proto: UInt8 = 2) -> [UInt8] {
        [0x80, proto] + Array("c\(module)\n\(name)\n(Vecho hi\ntR.".utf8)
    }

    @Test func denyByDefaultWithDangerousSeverity() {
        let policy = ScanPolicy()
        #expect(policy.decide(module: "collections", name: "OrderedDict") == .allowed)
        #expect(policy.decide(module: "torch._utils", name: "_rebuild_tensor_v2") == .allowed)
        #expect(policy.decide(module: "__builtin__", name: "set") == .allowed)
        #expect(policy.decide(module: "sklearn.linear_model._logistic", name: "LogisticRegression") == .allowed)
        guard case .denied(let dangerous, _) = policy.decide(module: "posix", name: "system") else {
            Issue.record("posix.system must be denied")
            return
        }
        #expect(dangerous)
        guard case .denied(let unknownIsDangerous, _) = policy.decide(module: "acme.models", name: "Thing") else {
            Issue.record("unknown callables must be denied")
            return
        }
        #expect(!unknownIsDangerous)
        // An allow-list entry can never allow a dangerous callable.
        var permissive = ScanPolicy()
        permissive.allowedPrefixes.append("os.")
        #expect(permissive.decide(module: "os", name: "system") != .allowed)
        #expect(permissive.decide(module: "builtins", name: "getattr") != .allowed)
    }

    @Test func scansInMemoryPickles() {
        let scanner = ModelScanner()
        let bad = scanner.scanBytes(pickle("os", "system"), name: "bad.pkl")
        #expect(bad.verdict == .unsafe)
        #expect(bad.findings.contains { $0.rule == "pickle-dangerous-callable" && $0.severity == .critical })
        let unknown = scanner.scanBytes(pickle("acme", "Thing"), name: "u.pkl")
        #expect(unknown.verdict == .unsafe)
        #expect(unknown.findings.first?.rule == "pickle-unknown-callable")
        let good = scanner.scanBytes([0x80, 0x02, 0x7d, 0x71, 0x00, 0x2e], name: "empty-dict.pkl")  // {}
        #expect(good.verdict == .clean)
        #expect(good.format == "pickle")
    }

    @Test func protocolZeroPicklesAreFoundByContent() {
        let report = ModelScanner().scanBytes(Array("cposix\nsystem\n(Vecho hi\ntR.".utf8), name: "x.txt")
        #expect(report.format == "pickle")
        #expect(report.verdict == .unsafe)
        let text = ModelScanner().scanBytes(Array("config: value\n".utf8), name: "README")
        #expect(text.verdict == .unsupported)
    }

    @Test func truncatedPickleIsMalformedNeverClean() {
        var bytes = pickle("collections", "OrderedDict")
        bytes.removeLast(3)
        let report = ModelScanner().scanBytes(bytes, name: "t.pkl")
        #expect(report.verdict != .clean)
    }

    @Test func npyHeadersAreValidated() {
        func npy(_ header: String, data: Int) -> [UInt8] {
            var h = header
            while (10 + h.utf8.count + 1) % 64 != 0 { h += " " }
            h += "\n"
            let n = h.utf8.count
            return [0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(n & 0xff), UInt8(n >> 8)] + Array(h.utf8)
                + [UInt8](repeating: 0, count: data)
        }
        let ok = ModelScanner().scanBytes(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", data: 24), name: "a.npy")
        #expect(ok.verdict == .clean)
        let short = ModelScanner().scanBytes(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (100,), }", data: 8), name: "b.npy")
        #expect(short.verdict == .malformed)
        let objects = ModelScanner().scanBytes(
            npy("{'descr': '|O', 'fortran_order': False, 'shape': (1,), }", data: 0) + pickle("os", "system"), name: "c.npy")
        #expect(objects.verdict == .unsafe)
    }

    @Test func sarifHasOneResultPerFinding() throws {
        let report = ScanReport(files: [ModelScanner().scanBytes(pickle("os", "system"), name: "a b.pkl")])
        let sarif = ReportWriter.sarif(report, toolVersion: "test")
        #expect(sarif["version"]?.stringValue == "2.1.0")
        let results = sarif["runs"]?.arrayValue?.first?["results"]?.arrayValue ?? []
        #expect(results.count == report.files[0].findings.count)
        let uri = results.first?["locations"]?.arrayValue?.first?["physicalLocation"]?["artifactLocation"]?["uri"]?.stringValue
        #expect(uri == "a%20b.pkl")
    }

    @Test func hostileGGUFCountsAreMalformed() {
        var bytes = Array("GGUF".utf8) + [3, 0, 0, 0]
        bytes += [0, 0, 0, 0, 0, 0, 0, 0x40] + [0, 0, 0, 0, 0, 0, 0, 0x40]  // 2^62 tensors and metadata entries
        let report = ModelScanner().scanBytes(bytes, name: "x.gguf")
        #expect(report.format == "gguf")
        #expect(report.verdict == .malformed)
    }
}

@Suite("findings")
struct FindingEqualityTests {
    @Test("findings that differ only in the class that decides the verdict are not equal")
    func classDecidesEquality() {
        let unsafe = Finding(.high, rule: "r", message: "m", location: "x", class: .unsafe)
        let malformed = Finding(.high, rule: "r", message: "m", location: "x", class: .malformed)
        #expect(unsafe != malformed)
        #expect(unsafe == Finding(.high, rule: "r", message: "m", location: "x", class: .unsafe))
    }
}
