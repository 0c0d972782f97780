import MLSecCore
import MLSecSupplyChain
import Testing

@Suite struct PEP440VersionTests {
    @Test func normalizesTheSpellingsPEP440Allows() throws {
        let cases: [(String, String)] = [
            ("1.0", "1.0"), ("v1.0", "1.0"), ("  1.0\n", "1.0"), ("1!2.0", "1!2.0"), ("0!1.0", "1.0"),
            ("1.0a", "1.0a0"), ("1.0alpha1", "1.0a1"), ("1.0-beta.2", "1.0b2"), ("1.0c1", "1.0rc1"),
            ("1.0pre1", "1.0rc1"), ("1.0preview_3", "1.0rc3"), ("1.0RC1", "1.0rc1"), ("1.0-1", "1.0.post1"),
            ("1.0.post", "1.0.post0"), ("1.0-r4", "1.0.post4"), ("1.0rev2", "1.0.post2"), ("1.0.dev", "1.0.dev0"),
            ("1.0-dev_7", "1.0.dev7"), ("1.0+ubuntu-1_2", "1.0+ubuntu.1.2"), ("01.002", "1.2"),
            ("1.0a.post1", "1.0a0.post1"), ("1.0a1.post2.dev3+Local.7", "1.0a1.post2.dev3+local.7"),
        ]
        for (input, normalized) in cases {
            #expect(try PEP440Version(input).description == normalized, "\(input)")
        }
    }

    @Test func refusesLegacyAndMalformedVersions() {
        for bad in ["", "1.0.", "1..0", "1.0-", "a1", "1.0+", "1.0+a..b", "1.0 2", "1.0-SNAPSHOT", "2.0.0-final",
                    "1.0.post1.post2", "1!", "!1", "1.0dev1a1", String(repeating: "1.", count: 700) + "1"] {
            #expect(throws: MLSecError.self, "\(bad)") { try PEP440Version(bad) }
        }
    }

    @Test func ordersAsPackagingDoes() throws {
        // Increasing order, from packaging's own test suite shapes.
        let ordered = [
            "1.0.dev456", "1.0a1", "1.0a2.dev456", "1.0a12.dev456", "1.0a12", "1.0b1.dev456", "1.0b2",
            "1.0b2.post345.dev456", "1.0b2.post345", "1.0rc1.dev456", "1.0rc1", "1.0", "1.0+abc.5", "1.0+abc.7",
            "1.0+5", "1.0.post456.dev34", "1.0.post456", "1.0.15", "1.1.dev1", "1!0.1",
        ]
        let versions = try ordered.map(PEP440Version.init)
        for (a, b) in zip(versions, versions.dropFirst()) {
            #expect(a < b, "\(a) < \(b)")
        }
        #expect(try PEP440Version("1.0") == PEP440Version("1.0.0.0"))
        #expect(try PEP440Version("1.0+a") < PEP440Version("1.0+a.0"))
        #expect(try PEP440Version("1.0+a") < PEP440Version("1.0+1"))
        #expect(try PEP440Version("99999999999999999999999") > PEP440Version("9999999999999999999999"))
    }
}

@Suite struct SemanticVersionTests {
    @Test func ordersBySemVerPrecedence() throws {
        let ordered = ["1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2",
                       "1.0.0-beta.11", "1.0.0-rc.1", "1.0.0", "1.0.1", "1.10.0", "2.0.0"]
        let versions = try ordered.map(SemanticVersion.init)
        for (a, b) in zip(versions, versions.dropFirst()) { #expect(a < b, "\(a) < \(b)") }
        #expect(try SemanticVersion("v1.2") == SemanticVersion("1.2.0"))
        #expect(try SemanticVersion("1.0.0+build.5") == SemanticVersion("1.0.0"))
    }

    @Test func refusesWhatIsNotAVersion() {
        for bad in ["", "1.2.3.4", "1.x", "1.0.0-", "1.0.0-a..b", "1.0.0+", "main", "1.0.0-é"] {
            #expect(throws: MLSecError.self, "\(bad)") { try SemanticVersion(bad) }
        }
    }

    @Test func normalizesSwiftURLNames() {
        let e = Ecosystem.swiftURL
        let want = "github.com/apple/swift-nio-http2"
        for name in ["https://github.com/apple/swift-nio-http2.git", "github.com/Apple/swift-nio-http2/",
                     "git@github.com:apple/swift-nio-http2.git", "ssh://git@github.com/apple/swift-nio-http2"] {
            #expect(e.normalizedName(name) == want, "\(name)")
        }
        #expect(Ecosystem.pypi.normalizedName("Jinja2") == "jinja2")
        #expect(Ecosystem.pypi.normalizedName("zope.Interface__x") == "zope-interface-x")
    }
}

@Suite struct CVSSTests {
    @Test func v3BaseScoresMatchTheSpecificationCalculator() throws {
        let cases: [(String, Double)] = [
            ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8),
            ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H", 10.0),
            ("CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:U/C:L/I:L/A:N", 5.4),
            ("CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:N/A:N", 8.6),
            ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:L", 5.3),
            ("CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H", 7.8),
            ("CVSS:3.1/AV:P/AC:H/PR:H/UI:R/S:U/C:N/I:N/A:N", 0.0),
            ("CVSS:3.1/AV:N/AC:H/PR:L/UI:R/S:C/C:L/I:L/A:L/E:P/RL:O", 5.5),
        ]
        for (vector, score) in cases { #expect(try CVSS.v3BaseScore(vector) == score, "\(vector)") }
        #expect(CVSS.roundUp(4.000000000000001) == 4.0)
        #expect(CVSS.roundUp(4.02) == 4.1)
        #expect(try CVSS.v2BaseScore("AV:N/AC:L/Au:N/C:C/I:C/A:C") == 10.0)
        #expect(try CVSS.v2BaseScore("AV:N/AC:L/Au:N/C:P/I:P/A:P") == 7.5)
    }

    @Test func refusesBrokenVectors() {
        for bad in ["CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H", "CVSS:3.1/AV:N/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
                    "CVSS:3.1/AV:X/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", "CVSS:2.9/AV:N", "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/ZZ:1"] {
            #expect(throws: MLSecError.self, "\(bad)") { try CVSS.v3BaseScore(bad) }
        }
    }
}
