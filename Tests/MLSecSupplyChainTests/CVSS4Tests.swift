import MLSecCore
import MLSecSupplyChain
import Testing

/// CVSS v4.0 scoring (CVSS4.swift). Expected scores are those of FIRST's calculator (as computed by the
/// `cvss` Python library, cvss==3.6, which interop/test_audit_deps.py also compares against on random vectors).
@Suite struct CVSS4Tests {
    @Test("base vectors score as FIRST's calculator does")
    func baseScores() throws {
        let cases: [(String, Double, SeverityRating)] = [
            ("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N", 9.3, .critical),
            ("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:H/SI:H/SA:H", 10.0, .critical),
            ("CVSS:4.0/AV:L/AC:L/AT:N/PR:L/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N", 8.5, .high),
            ("CVSS:4.0/AV:L/AC:L/AT:P/PR:L/UI:P/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N", 5.4, .medium),
            ("CVSS:4.0/AV:N/AC:L/AT:N/PR:L/UI:N/VC:N/VI:L/VA:N/SC:N/SI:N/SA:N", 5.3, .medium),
            ("CVSS:4.0/AV:A/AC:L/AT:N/PR:L/UI:N/VC:L/VI:L/VA:N/SC:L/SI:L/SA:N", 5.1, .medium),
            ("CVSS:4.0/AV:N/AC:H/AT:N/PR:N/UI:P/VC:H/VI:L/VA:L/SC:N/SI:N/SA:N", 6.1, .medium),
            ("CVSS:4.0/AV:P/AC:H/AT:P/PR:H/UI:A/VC:L/VI:N/VA:N/SC:N/SI:N/SA:N", 1.0, .low),
            ("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:N/VI:N/VA:N/SC:N/SI:N/SA:N", 0.0, .none),
        ]
        for (vector, score, rating) in cases {
            let parsed = try CVSS4(vector)
            #expect(parsed.score == score, "\(vector)")
            #expect(SeverityRating(cvssScore: parsed.score) == rating, "\(vector)")
            #expect(try CVSS.v4Score(vector) == score)
            #expect(parsed.nomenclature == "CVSS-B")
        }
        #expect(try CVSS4(cases[0].0).macroVector == "000200")
    }

    @Test("threat and environmental metrics enter the score; supplemental and Not Defined ones do not")
    func threatAndEnvironmentalScores() throws {
        let base = "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N"
        let cases: [(String, Double, String)] = [
            (base + "/E:U", 8.1, "CVSS-BT"),
            (base + "/E:P", 8.9, "CVSS-BT"),
            (base + "/CR:L/IR:L/AR:L", 8.9, "CVSS-BE"),
            (base + "/MAV:P/MPR:H", 7.0, "CVSS-BE"),
            (base + "/E:X/CR:X/MAV:X", 9.3, "CVSS-B"),
            (base + "/S:P/AU:Y/R:I/V:C/RE:H/U:Red", 9.3, "CVSS-B"),
            ("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:L/VI:L/VA:L/SC:N/SI:N/SA:N/MSI:S", 8.9, "CVSS-BE"),
            ("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:N/VI:N/VA:N/SC:N/SI:N/SA:N/MVC:H", 8.7, "CVSS-BE"),
            (base + "/E:P/MVC:L", 7.8, "CVSS-BTE"),
            (base + "/E:U/CR:M/MAC:H/MSI:S/S:N/U:Amber", 8.9, "CVSS-BTE"),
        ]
        for (vector, score, nomenclature) in cases {
            let parsed = try CVSS4(vector)
            #expect(parsed.score == score, "\(vector)")
            #expect(parsed.nomenclature == nomenclature, "\(vector)")
        }
    }

    @Test("malformed vectors are refused, naming the metric")
    func strictParsing() throws {
        let base = "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N"
        let cases: [(String, String)] = [
            ("CVSS:3.1/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N", "CVSS:4.0/"),
            ("CVSS:4.1/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N", "CVSS:4.0/"),
            ("CVSS:4.0/AV:N/AC:L/AT:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N", "base metric PR"),
            ("CVSS:4.0/AC:L/AV:N/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N", "AV out of order"),
            (base + "/CR:H/E:A", "E out of order"),
            (base + "/U:Red/S:P", "S out of order"),
            (base + "/AV:N", "repeats the metric AV"),
            (base + "/E:A/E:A", "repeats the metric E"),
            (base + "/ZZ:1", "unknown metric ZZ"),
            (base + "/", "malformed part"),
            (base + "/E", "malformed part"),
            (base + "/E:", "malformed part"),
            (base + "/E:A:B", "malformed part"),
            ("CVSS:4.0/AV:X/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N", "invalid AV value"),
            ("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:S/SA:N", "invalid SI value"),
            (base + "/MSC:S", "invalid MSC value"),
            (base + "/U:red", "invalid U value"),
            (base + "/E:a", "invalid E value"),
            ("cvss:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N", "CVSS:4.0/"),
            ("CVSS:4.0/", "malformed part"),
            (base + "/" + String(repeating: "E:A/", count: 200) + "E:A", "512-byte limit"),
        ]
        for (vector, needle) in cases {
            let error = try #require(throws: MLSecError.self, "\(vector)") { try CVSS4(vector) }
            #expect(error.code == .malformed && error.message.contains(needle), "\(vector): \(error.message)")
        }
    }

    @Test("an OSV record is rated from its newest CVSS version, falling back when a vector does not parse")
    func recordSeverityPrefersV4() throws {
        func record(_ severity: String, label: String? = nil) throws -> (OSVRecord, [String]) {
            let specific = label.map { #", "database_specific": {"severity": "\#($0)"}"# } ?? ""
            let text = #"{"id": "TEST-1", "severity": [\#(severity)]\#(specific)}"#
            let json = try JSONParser().parse(Array(text.utf8))
            var warnings: [String] = []
            let parsed = try OSVRecord(json: json, origin: "test.json", warnings: &warnings)
            return (parsed, warnings)
        }
        let v3 = #"{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}"#
        let v4 = #"{"type": "CVSS_V4", "score": "CVSS:4.0/AV:L/AC:L/AT:P/PR:L/UI:P/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N"}"#
        let badV4 = #"{"type": "CVSS_V4", "score": "CVSS:4.0/AV:N/AC:L"}"#

        var (rated, warnings) = try record(v3 + ", " + v4)
        #expect(rated.severity.source == "CVSS_V4" && rated.severity.score == 5.4 && rated.severity.rating == .medium)
        #expect(rated.severity.vector?.hasPrefix("CVSS:4.0/") == true && warnings.isEmpty)

        (rated, warnings) = try record(badV4 + ", " + v3)
        #expect(rated.severity.source == "CVSS_V3" && rated.severity.score == 9.8)
        #expect(warnings.count == 1 && warnings[0].contains("CVSS_V4") && warnings[0].contains("base metric AT"))

        (rated, warnings) = try record(badV4, label: "HIGH")
        #expect(rated.severity.source == "database_specific" && rated.severity.rating == .high)
        #expect(rated.severity.score == nil && warnings.count == 1)

        let noImpact = "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:N/VI:N/VA:N/SC:N/SI:N/SA:N"
        (rated, _) = try record(#"{"type": "CVSS_V4", "score": "\#(noImpact)"}"#)
        #expect(rated.severity.source == "CVSS_V4" && rated.severity.score == 0 && rated.severity.rating == .none)
    }
}
