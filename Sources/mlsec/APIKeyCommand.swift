// APIKeyCommand: `mlsec apikey create|list|revoke`, the gateway's API keys managed offline (bootstrap).

import ArgumentParser
import Foundation
import MLSecCore
import MLSecAccess
import MLSecGateway
import MLSecStores

struct APIKeyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "apikey",
        abstract: "Manage the gateway's API keys directly in its store (e.g. the first admin key).",
        discussion: """
            Examples:
              mlsec apikey create --state-dir /var/lib/mlsec --name ops --role admin --models '*'
              mlsec apikey create --config gateway.json --name ops --role admin --models '*'   # where it keeps keys (PostgreSQL too)
              mlsec apikey list --state-dir /var/lib/mlsec
              mlsec apikey revoke --state-dir /var/lib/mlsec 3f9a0c1d2e4b
            Running gateways see keys created or revoked here within about a second.
            """,
        subcommands: [Create.self, List.self, Revoke.self])

    struct StateOption: ParsableArguments {
        @Option(name: .customLong("state-dir"), help: "The gateway's state directory (its SQLite key database).")
        var stateDir: String?
        @Option(help: "The gateway's configuration: keys go where it keeps them (its state directory or PostgreSQL).")
        var config: String?

        func validate() throws {
            guard (stateDir == nil) != (config == nil) else { throw ValidationError("give exactly one of --state-dir DIR and --config FILE") }
        }

        /// The key store, and the roles a key may have there.
        func open() async throws -> (APIKeyStore, Set<String>) {
            if let config {
                let configuration = try GatewayConfiguration(path: config)
                let database = configuration.databaseURL.map { DatabaseSettings(url: $0, passwordFile: configuration.databasePasswordFile) }
                let store = try await StateStores.keyStore(stateDirectory: configuration.stateDirectory, database: database)
                return (store, Set(configuration.roles.keys))
            }
            return (try await StateStores.keyStore(stateDirectory: stateDir ?? "", database: nil), Set(Role.builtIn.keys))
        }
    }

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a key; prints it once.")
        @OptionGroup var state: StateOption
        @Option(help: "A name for the key's holder.") var name: String
        @Option(help: "admin, publisher, inference, auditor or a custom role.") var role: String
        @Option(parsing: .upToNextOption, help: "Model name patterns the key may use (required; * matches any run of characters).") var models: [String] = []
        @Option(name: .customLong("requests-per-second"), help: "Rate limit.") var requestsPerSecond: Double?
        @Option(help: "Rate limit burst.") var burst: Int?
        @Option(name: .customLong("daily-requests"), help: "Quota: inference requests per UTC day.") var dailyRequests: Int?
        @Option(name: .customLong("daily-elements"), help: "Quota: input elements per UTC day.") var dailyElements: Int?
        @Option(name: .customLong("monthly-requests"), help: "Quota: inference requests per calendar month (UTC).") var monthlyRequests: Int?
        @Option(name: .customLong("monthly-elements"), help: "Quota: input elements per calendar month (UTC).") var monthlyElements: Int?
        @Option(name: .customLong("max-concurrent"), help: "Inference requests this key may have in flight.") var maxConcurrent: Int?

        func run() async throws {
            if let rps = requestsPerSecond, !(0.001...1_000_000).contains(rps) {
                throw MLSecError.usage("--requests-per-second must be 0.001...1000000")
            }
            if let burst, !(1...1_000_000).contains(burst) { throw MLSecError.usage("--burst must be 1...1000000") }
            let (store, roles) = try await state.open()
            guard roles.contains(role) else {
                throw MLSecError.usage("--role must be one of \(roles.sorted().joined(separator: ", "))\(state.config == nil ? " (custom roles need --config)" : "")")
            }
            let limit = requestsPerSecond.map { RateLimit(requestsPerSecond: $0, burst: burst ?? max(1, Int($0))) }
            for (flag, value) in [("--daily-requests", dailyRequests), ("--daily-elements", dailyElements),
                                  ("--monthly-requests", monthlyRequests), ("--monthly-elements", monthlyElements)] {
                if let value, !(1...1_000_000_000_000_000).contains(value) { throw MLSecError.usage("\(flag) must be 1...10^15") }
            }
            if let maxConcurrent, !(1...100_000).contains(maxConcurrent) { throw MLSecError.usage("--max-concurrent must be 1...100000") }
            let quota = QuotaLimits(dailyRequests: dailyRequests, dailyElements: dailyElements, monthlyRequests: monthlyRequests,
                                    monthlyElements: monthlyElements)
            let (record, key) = try await store.create(
                name: name, role: role, models: models, rateLimit: limit, quota: quota.isEmpty ? nil : quota, maxConcurrent: maxConcurrent)
            printJSON(.object([("id", .string(record.id)), ("key", .string(key))]))
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List keys (no secrets).")
        @OptionGroup var state: StateOption
        func run() async throws {
            printJSON(.object([("keys", .array(try await state.open().0.list().map(\.json)))]))
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke a key.")
        @OptionGroup var state: StateOption
        @Argument(help: "The key id.") var id: String
        func run() async throws {
            guard let record = try await state.open().0.revoke(id: id) else { throw MLSecError.usage("no key \(id)") }
            printJSON(.object([("revoked", record.json)]))
        }
    }
}
