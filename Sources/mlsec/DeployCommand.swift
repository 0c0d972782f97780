// DeployCommand: `mlsec deploy` (being written).

import ArgumentParser
import MLSecCore

struct DeployCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "deploy",
        abstract: "(being written)",
        discussion: """
            Example:
              mlsec deploy --help
            """)

    func run() async throws {
        throw MLSecError.usage("mlsec deploy is not available in this build")
    }
}
