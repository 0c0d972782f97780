// DeploymentsCommand: `mlsec deployments list|reset`, the recorded served versions of the gateway's models.

import ArgumentParser
import Foundation
import MLSecAccess
import MLSecCore
import MLSecGateway
import MLSecStores

struct DeploymentsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "deployments",
        abstract: "Show or forget the model versions deployed with PUT /admin/models/NAME (kept across reloads and restarts).",
        discussion: """
            A deploy records the version it put in service where the gateway keeps its state (gateway.db in the \
            state directory, or PostgreSQL for replicas). Start, SIGHUP and (every second) the running gateways \
            serve it instead of the configured version, until the configuration names another version. A recorded \
            version that cannot be loaded stops the start (and the reload) instead of serving another version: \
            restore its files, change the model's version in the configuration, or forget the deploy here \
            (running gateways then serve the configured version within about a second).

            Examples:
              mlsec deployments list --config /etc/mlsec/gateway.json
              mlsec deployments reset --config /etc/mlsec/gateway.json digits
            """,
        subcommands: [List.self, Reset.self])

    struct StateOption: ParsableArguments {
        @Option(name: .customLong("state-dir"), help: "The gateway's state directory (its SQLite database).")
        var stateDir: String?
        @Option(help: "The gateway's configuration: the records are read where it keeps them (its state directory or PostgreSQL).")
        var config: String?

        func validate() throws {
            guard (stateDir == nil) != (config == nil) else { throw ValidationError("give exactly one of --state-dir DIR and --config FILE") }
        }

        /// The store, and the configured models when a configuration was given.
        func open() async throws -> (any ServedVersionStore, [ModelSource]?) {
            guard let config else {
                return (try await StateStores.servedVersions(stateDirectory: stateDir ?? "", database: nil), nil)
            }
            let configuration = try GatewayConfiguration(path: config)
            let database = configuration.databaseURL.map { DatabaseSettings(url: $0, passwordFile: configuration.databasePasswordFile) }
            return (try await StateStores.servedVersions(stateDirectory: configuration.stateDirectory, database: database), configuration.models)
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "list",
            abstract: "Print the recorded deploys as JSON (with --config: the version each model serves and why).",
            discussion: """
                Examples:
                  mlsec deployments list --config /etc/mlsec/gateway.json
                  mlsec deployments list --state-dir /var/lib/mlsec
                """)
        @OptionGroup var state: StateOption

        func run() async throws {
            let (store, sources) = try await state.open()
            let records = try await store.load()
            var entries: [JSONValue] = records.values.sorted { $0.model < $1.model }.map { record in
                var members: [(String, JSONValue)] = [
                    ("model", .string(record.model)), ("version", .string(record.version)),
                    ("configured_version", .string(record.configuredVersion)), ("deployed_by", .string(record.deployedBy)),
                    ("deployed_at", .string(RFC3339.format(record.deployedAt, fractional: true))), ("digest", .string(record.digest)),
                ]
                if let choice = sources.flatMap({ ServedVersions.choose($0, records: records).first { $0.name == record.model } }) {
                    members.append(("applies", .bool(choice.deploy != nil)))
                    members.append(("serves", .string(choice.summary)))
                }
                return .object(members)
            }
            if let sources {
                for choice in ServedVersions.choose(sources, records: records) where records[choice.name] == nil {
                    entries.append(.object([("model", .string(choice.name)), ("serves", .string(choice.summary))]))
                }
            }
            printJSON(.object([("deployments", .array(entries))]))
        }
    }

    struct Reset: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "reset",
            abstract: "Forget a model's recorded deploy: the configured version is served again (at the next start, SIGHUP or refresh).",
            discussion: """
                Examples:
                  mlsec deployments reset --config /etc/mlsec/gateway.json digits
                  mlsec deployments reset --state-dir /var/lib/mlsec digits
                """)
        @OptionGroup var state: StateOption
        @Argument(help: "The model's name.") var model: String

        func run() async throws {
            let (store, _) = try await state.open()
            guard try await store.forget(model: model) else {
                throw MLSecError.usage("no deploy of \(model.prefix(100)) is recorded; `mlsec deployments list` shows the recorded ones")
            }
            printJSON(.object([("model", .string(model)), ("reset", .bool(true))]))
        }
    }
}
