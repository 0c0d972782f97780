// RegistryCommand: `mlsec registry` (being written).

import ArgumentParser
import MLSecCore

struct RegistryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "registry",
        abstract: "(being written)",
        discussion: """
            Example:
              mlsec registry --help
            """)

    func run() async throws {
        throw MLSecError.usage("mlsec registry is not available in this build")
    }
}
