// AuditDepsCommand: `mlsec audit-deps` (being written).

import ArgumentParser
import MLSecCore

struct AuditDepsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit-deps",
        abstract: "(being written)",
        discussion: """
            Example:
              mlsec audit-deps --help
            """)

    func run() async throws {
        throw MLSecError.usage("mlsec audit-deps is not available in this build")
    }
}
