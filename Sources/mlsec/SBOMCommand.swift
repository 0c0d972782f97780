// SBOMCommand: `mlsec sbom` (being written).

import ArgumentParser
import MLSecCore

struct SBOMCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sbom",
        abstract: "(being written)",
        discussion: """
            Example:
              mlsec sbom --help
            """)

    func run() async throws {
        throw MLSecError.usage("mlsec sbom is not available in this build")
    }
}
