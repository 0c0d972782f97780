// AuditDepsTools: `mlsec audit-deps sort-versions` and `mlsec audit-deps score`, the audit's version
// ordering and CVSS scoring on their own (for checking them against other tools).

import ArgumentParser
import Foundation
import MLSecCore
import MLSecSupplyChain

extension AuditDepsCommand {
    struct SortVersions: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "sort-versions",
            abstract: "Print versions (one per line in FILE) in an ecosystem's order.",
            discussion: """
                PyPI sorts by PEP 440 (as packaging.version.Version does); SwiftURL (or semver) \
                by SemVer 2.0 precedence. Equal versions keep their input order. A version that \
                does not parse stops the command (exit 2) naming its line.
                Examples:
                  mlsec audit-deps sort-versions --ecosystem PyPI versions.txt
                  mlsec audit-deps sort-versions --ecosystem SwiftURL tags.txt --normalized
                """)

        @Option(help: "PyPI, SwiftURL or semver.") var ecosystem: String
        @Argument(help: "File of versions, one per line.") var file: String
        @Flag(help: "Print each version's normalized form instead of the text as given.") var normalized = false

        func run() async throws {
            guard let eco = Ecosystem(argument: ecosystem) else {
                throw MLSecError.usage("--ecosystem takes PyPI, SwiftURL or semver, not \(ecosystem)")
            }
            let bytes = try ReadOnlyFile.readAll(file, maxBytes: 64 << 20, what: "version list")
            guard let text = String(validating: bytes, as: UTF8.self) else {
                throw MLSecError.malformed("version list \(file) is not UTF-8 text")
            }
            var versions: [(text: String, version: EcosystemVersion)] = []
            for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                let item = line.trimmingCharacters(in: .whitespacesAndNewlines)
                if item.isEmpty { continue }
                do {
                    versions.append((item, try eco.version(item)))
                } catch let error as MLSecError {
                    throw MLSecError.malformed("\(file):\(index + 1): \(error.message)")
                }
            }
            let sorted = versions.enumerated().sorted {
                let c = $0.element.version.compare($1.element.version)
                return c != 0 ? c < 0 : $0.offset < $1.offset
            }
            var out = ""
            for entry in sorted {
                out += (normalized ? entry.element.version.description : entry.element.text) + "\n"
            }
            FileHandle.standardOutput.write(Data(out.utf8))
        }
    }

    struct Score: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "score",
            abstract: "Print the score and rating of CVSS v4.0, v3.x or v2 vectors.",
            discussion: """
                One line per vector: the score, the rating, the vector. v3.x and v2 vectors get their \
                base score; a v4.0 vector gets the score of the vector as written (CVSS-B with base \
                metrics only; threat and environmental metrics, where given, enter it as FIRST's \
                calculator does). A vector that does not parse stops the command (exit 2).
                Examples:
                  mlsec audit-deps score 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H'
                  mlsec audit-deps score \\
                    'CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N'
                """)

        @Argument(help: "CVSS vectors.") var vectors: [String]

        func run() async throws {
            for vector in vectors {
                if vector.hasPrefix("CVSS:3.") {
                    let score = try CVSS.v3BaseScore(vector)
                    print(String(format: "%.1f", score), SeverityRating(cvssScore: score).rawValue, vector)
                } else if vector.hasPrefix("CVSS:4") {
                    let score = try CVSS4(vector).score
                    print(String(format: "%.1f", score), SeverityRating(cvssScore: score).rawValue, vector)
                } else {
                    let score = try CVSS.v2BaseScore(vector)
                    print(String(format: "%.1f", score), SeverityRating(cvssV2Score: score).rawValue, vector)
                }
            }
        }
    }
}
