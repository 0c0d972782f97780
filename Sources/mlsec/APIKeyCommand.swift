// APIKeyCommand: `mlsec apikey create|list|revoke`, the gateway's API keys managed offline (bootstrap).

import ArgumentParser
import Foundation
import MLSecCore
import MLSecGateway

struct APIKeyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "apikey",
        abstract: "Manage the gateway's API keys directly in its state directory (e.g. the first admin key).",
        discussion: """
            Examples:
              mlsec apikey create --state-dir /var/lib/mlsec --name ops --role admin --models '*'
              mlsec apikey list --state-dir /var/lib/mlsec
              mlsec apikey revoke --state-dir /var/lib/mlsec 3f9a0c1d2e4b
            A running gateway sees keys created here after a restart; use the admin API while it runs.
            """,
        subcommands: [Create.self, List.self, Revoke.self])

    struct StateOption: ParsableArguments {
        @Option(name: .customLong("state-dir"), help: "The gateway's state directory.")
        var stateDir: String
    }

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a key; prints it once.")
        @OptionGroup var state: StateOption
        @Option(help: "A name for the key's holder.") var name: String
        @Option(help: "admin, publisher, inference, auditor or a custom role.") var role: String
        @Option(parsing: .upToNextOption, help: "Model name patterns the key may use.") var models: [String] = []
        @Option(name: .customLong("requests-per-second"), help: "Rate limit.") var requestsPerSecond: Double?
        @Option(help: "Rate limit burst.") var burst: Int?

        func run() async throws {
            guard Role.builtIn[role] != nil else { throw MLSecError.usage("--role must be admin, publisher, inference or auditor here") }
            if let rps = requestsPerSecond, !(0.001...1_000_000).contains(rps) {
                throw MLSecError.usage("--requests-per-second must be 0.001...1000000")
            }
            if let burst, !(1...1_000_000).contains(burst) { throw MLSecError.usage("--burst must be 1...1000000") }
            try GatewayState.ensureDirectory(state.stateDir)
            let limit = requestsPerSecond.map { RateLimit(requestsPerSecond: $0, burst: burst ?? max(1, Int($0))) }
            let (record, key) = try GatewayState.keyStore(state.stateDir).create(name: name, role: role, models: models, rateLimit: limit)
            printJSON(.object([("id", .string(record.id)), ("key", .string(key))]))
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List keys (no secrets).")
        @OptionGroup var state: StateOption
        func run() async throws {
            printJSON(.object([("keys", .array(try GatewayState.keyStore(state.stateDir).list().map(\.json)))]))
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke a key.")
        @OptionGroup var state: StateOption
        @Argument(help: "The key id.") var id: String
        func run() async throws {
            guard try GatewayState.keyStore(state.stateDir).revoke(id: id) else { throw MLSecError.usage("no key \(id)") }
        }
    }
}
