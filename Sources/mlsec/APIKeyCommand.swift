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
            Keys go where the gateway keeps them: give its configuration (--config, PostgreSQL too) or its state \
            directory (--state-dir, which must already hold the gateway's key database; --init creates one for \
            a gateway not started yet). Running gateways see keys created or revoked here within about a second.

            Examples:
              mlsec apikey create --config gw.json --name ops --role admin --models '*'
              mlsec apikey create --state-dir /var/lib/mlsec --name ci --role inference \\
                  --models digits --expires-at 2027-01-01T00:00:00Z
              mlsec apikey list --state-dir /var/lib/mlsec
              mlsec apikey revoke --state-dir /var/lib/mlsec 3f9a0c1d2e4b
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

        /// The key store, and the roles a key may have there. A `--state-dir` must hold the gateway's key
        /// database unless `create` is set: a mistyped folder must not receive a key no gateway will see.
        func open(create: Bool = false) async throws -> (APIKeyStore, Set<String>) {
            if let config {
                let configuration = try GatewayConfiguration(path: config)
                let database = configuration.databaseURL.map { DatabaseSettings(url: $0, passwordFile: configuration.databasePasswordFile) }
                let store = try await StateStores.keyStore(stateDirectory: configuration.stateDirectory, database: database)
                return (store, Set(configuration.roles.keys))
            }
            let directory = stateDir ?? ""
            guard create || FileStatus.exists("\(directory)/gateway.db") else {
                throw MLSecError.usage(
                    "\(directory) holds no gateway state (no gateway.db): check the path, give the gateway's --config FILE, "
                        + "or pass --init to create the key database for a gateway that has not started yet")
            }
            return (try await StateStores.keyStore(stateDirectory: directory, database: nil), Set(Role.builtIn.keys))
        }
    }

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "create",
            abstract: "Create a key; prints it once.",
            discussion: """
                Prints {"id": ..., "key": ...}; the key is shown only this once (only its hash is stored).

                Examples:
                  mlsec apikey create --config gw.json --name ops --role admin --models '*'
                  mlsec apikey create --state-dir st --init --name ops --role admin \\
                      --models '*'
                  mlsec apikey create --config gw.json --name ci --role inference \\
                      --models digits --expires-at 2027-01-01T00:00:00Z
                """)
        @OptionGroup var state: StateOption
        @Option(help: "A name for the key's holder.") var name: String
        @Option(help: "admin, publisher, inference, auditor or a custom role.") var role: String
        @Option(parsing: .upToNextOption, help: "Model name patterns the key may use (required; * matches any run of characters).") var models: [String] = []
        @Flag(help: "With --state-dir: create the key database when the folder holds none (a gateway not started yet).")
        var `init` = false
        @Option(name: .customLong("expires-at"), help: "When the key stops working: an RFC 3339 time, e.g. 2027-01-01T00:00:00Z.")
        var expiresAt: String?
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
            var expiry: Date?
            if let expiresAt {
                guard let date = RFC3339.parse(expiresAt) else {
                    throw MLSecError.usage("--expires-at \(expiresAt.prefix(40)) is not an RFC 3339 time such as 2027-01-01T00:00:00Z")
                }
                guard date > Date() else { throw MLSecError.usage("--expires-at \(expiresAt.prefix(40)) is in the past; give a future time") }
                expiry = date
            }
            if `init`, state.config != nil { throw MLSecError.usage("--init is for --state-dir; with --config the key database is created as needed") }
            let (store, roles) = try await state.open(create: `init`)
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
                name: name, role: role, models: models, expiresAt: expiry, rateLimit: limit, quota: quota.isEmpty ? nil : quota, maxConcurrent: maxConcurrent)
            printJSON(.object([("id", .string(record.id)), ("key", .string(key))]
                + (record.expiresAt.map { [("expires_at", .string(RFC3339.format($0)))] } ?? [])))
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "list",
            abstract: "List keys (no secrets).",
            discussion: """
                Examples:
                  mlsec apikey list --state-dir /var/lib/mlsec
                  mlsec apikey list --config gw.json
                """)
        @OptionGroup var state: StateOption
        func run() async throws {
            printJSON(.object([("keys", .array(try await state.open().0.list().map(\.json)))]))
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "revoke",
            abstract: "Revoke a key: running gateways refuse it within about a second.",
            discussion: """
                Prints the revoked key's record and says on standard error which key it was.

                Examples:
                  mlsec apikey revoke --state-dir /var/lib/mlsec 3f9a0c1d2e4b
                  mlsec apikey revoke --config gw.json 3f9a0c1d2e4b
                """)
        @OptionGroup var state: StateOption
        @Argument(help: "The key id (from `mlsec apikey list`).") var id: String
        func run() async throws {
            let store = try await state.open().0
            let before = store.record(id: id)
            guard let record = try await store.revoke(id: id) else {
                throw MLSecError.usage("no key with id \(id.prefix(64)); `mlsec apikey list` shows the ids")
            }
            let what = "key \(record.id) (name \"\(record.name)\", role \(record.role), models \(record.models.joined(separator: " ")))"
            Terminal.note(before?.revoked == true ? "\(what) was already revoked" : "revoked \(what)")
            printJSON(.object([("revoked", record.json)]))
        }
    }
}
