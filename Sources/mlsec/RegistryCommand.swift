// RegistryCommand: `mlsec registry add|list|show|promote|revoke|archive|diff`, the model registry.

import ArgumentParser
import Foundation
import MLSecAudit
import MLSecCore
import MLSecDeploy
import MLSecGateway
import MLSecIntegrity
import MLSecStores

struct RegistryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "registry",
        abstract: "Register model versions and move them through staging, production, archived and revoked.",
        discussion: """
            A version enters through the model-loading pipeline (signature verified, files hashed, weights \
            scanned, model built) and records what was found: manifest digest, signer, scan verdict, file \
            digests, evaluation results and an ML-BOM. Every change is an audit-log entry. Running gateways \
            take a revoked version out of service within about a second.

            Examples:
              mlsec registry add digits 2 --model models/digits/2 \\
                --signature models/digits-2.sig --public-key signing.pub \\
                --eval accuracy=0.97 --state-dir state
              mlsec registry promote digits 2 --state-dir state
              mlsec registry list --state-dir state
              mlsec registry revoke digits 2 --reason "leaked key" --state-dir state
            """,
        subcommands: [Add.self, List.self, Show.self, Promote.self, Revoke.self, Archive.self, RegistryDiffCommand.self])

    /// Where the registry lives: a state directory's `registry.db`, or the gateway configuration's place.
    struct Place: ParsableArguments {
        @Option(name: .customLong("state-dir"), help: "A state directory: the registry is its registry.db (a gateway's state_dir).")
        var stateDir: String?
        @Option(help: "A gateway configuration: the registry is where it keeps its state (its state directory or PostgreSQL).")
        var config: String?
        @Option(help: "Who makes the change, for the audit log (default: cli:$USER).")
        var actor: String?

        func validate() throws {
            guard (stateDir == nil) != (config == nil) else { throw ValidationError("give exactly one of --state-dir DIR and --config FILE") }
        }

        var who: String { actor ?? "cli:" + (ProcessInfo.processInfo.environment["USER"] ?? "unknown") }

        func settings() throws -> (String, DatabaseSettings?) {
            guard let config else { return (stateDir ?? "", nil) }
            let configuration = try GatewayConfiguration(path: config)
            return (configuration.stateDirectory,
                    configuration.databaseURL.map { DatabaseSettings(url: $0, passwordFile: configuration.databasePasswordFile) })
        }

        func store() async throws -> any ModelRegistryStore {
            let (dir, database) = try settings()
            return try await StateStores.registry(stateDirectory: dir, database: database)
        }

        func registry(loader: ModelLoader = ModelLoader()) async throws -> ModelRegistry {
            let (dir, database) = try settings()
            return ModelRegistry(store: try await StateStores.registry(stateDirectory: dir, database: database),
                                 audit: try await StateStores.registryAudit(stateDirectory: dir, database: database), loader: loader)
        }
    }

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "add",
            abstract: "Register a signed model version (in staging) after verifying and scanning it.",
            discussion: """
                Evaluation results come from --eval METRIC=VALUE (repeatable), --evaluation FILE (a JSON \
                object; its numeric top-level members, e.g. the output of mlsec evaluate --format json or \
                mlsec privacy epsilon), --robustness-report FILE (clean_accuracy, robust_accuracy.ATTACK at \
                each attack's largest budget, robust_accuracy the smallest) and --watermark-report FILE \
                (mlsec watermark verify output: status verified or absent, and its rate). \
                --dataset NAME=MANIFEST records a dataset by the SHA-256 of its mlsec data sign manifest.

                Example:
                  mlsec registry add digits 2 --model models/digits/2 \\
                    --signature models/digits-2.sig --public-key signing.pub \\
                    --eval accuracy=0.97 --dataset train=train.manifest.json \\
                    --state-dir state
                """)
        @Argument(help: "Model name.") var name: String
        @Argument(help: "Version (letters, digits, '.', '_', '-').") var version: String
        @Option(help: "The model directory.") var model: String
        @Option(help: "Its signature bundle.") var signature: String
        @Option(name: .customLong("public-key"), help: "A trusted public key (PEM); repeatable.") var publicKeys: [String] = []
        @Option(name: .customLong("certificate-chain"), help: "Certificate mode: PEM CA certificates; repeatable.")
        var certificateChain: [String] = []
        @Option(name: .customLong("certificate-identity"), help: "Certificate mode: the expected signer (repeatable: any).")
        var certificateIdentity: [String] = []
        @Option(help: "An age identity file for encrypted model files; repeatable.") var identity: [String] = []
        @Option(name: .customLong("eval"), help: "An evaluation result METRIC=VALUE (accuracy=0.97, epsilon=3); repeatable.")
        var evaluations: [String] = []
        @Option(help: "A JSON file of evaluation results (numeric top-level members).") var evaluation: String?
        @Option(help: "A robustness report (JSON) whose clean and per-attack accuracies are recorded.")
        var robustnessReport: String?
        @Option(help: "Watermark status to record (e.g. verified).") var watermark: String?
        @Option(help: "A watermark verdict (mlsec watermark verify output): its status and rate are recorded.")
        var watermarkReport: String?
        @Option(help: "A dataset NAME=MANIFEST (an mlsec data sign manifest); repeatable.") var dataset: [String] = []
        @Option(help: "Output: text or json.") var format: OutputFormat = .text
        @OptionGroup var place: Place

        func validate() throws {
            guard ModelLocation.isValidVersion(version) else { throw ValidationError("a version is 1-64 letters, digits, '.', '_' or '-'") }
            guard !name.isEmpty, name.utf8.count <= 100, !name.contains("/") else { throw ValidationError("a model name is 1-100 characters, no '/'") }
            guard publicKeys.isEmpty != certificateChain.isEmpty else {
                throw ValidationError("give at least one --public-key, or a --certificate-chain (not both)")
            }
        }

        func run() async throws {
            var facts = ModelRegistry.Facts(watermark: watermark)
            if let robustnessReport { facts.evaluations.merge(try RegistryFacts.robustness(robustnessReport)) { $1 } }
            if let watermarkReport {
                let (status, results) = try RegistryFacts.watermark(watermarkReport)
                if let watermark, watermark != status {
                    throw MLSecError.usage("--watermark \(watermark) contradicts \(watermarkReport), which says \(status)")
                }
                facts.watermark = status
                facts.evaluations.merge(results) { $1 }
            }
            facts.evaluations.merge(try RegistryFacts.evaluations(evaluations, file: evaluation)) { $1 }
            facts.datasets = try RegistryFacts.datasets(dataset)
            let location = ModelLocation(name: name, version: version, path: model, signature: signature, publicKeys: publicKeys,
                                         identities: identity, certificateChain: certificateChain,
                                         certificateIdentities: try certificateIdentity.map(CertificateIdentity.init(parsing:)))
            let registry = try await place.registry()
            let record = try await registry.register(location, facts: facts, by: place.who, bom: RegistryFacts.bom)
            switch format {
            case .json: printJSON(record.json(includingBOM: false))
            case .text:
                print("registered \(record.name) \(record.version) in staging: \(record.manifestDigest), signed by \(record.signer), "
                    + "scan \(record.scanVerdict)")
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "list",
            abstract: "List registered versions (of one model, or all).",
            discussion: """
                Example:
                  mlsec registry list digits --state-dir state --format json
                """)
        @Argument(help: "Model name (default: every model).") var name: String?
        @Option(help: "Output: text or json.") var format: OutputFormat = .text
        @OptionGroup var place: Place

        func run() async throws {
            let records = try await place.store().versions(name: name)
            switch format {
            case .json:
                printJSON(.object([("versions", .array(records.map { record in
                    .object([("name", .string(record.name)), ("version", .string(record.version)), ("stage", .string(record.stage.rawValue)),
                             ("manifest_digest", .string(record.manifestDigest)), ("signer", .string(record.signer)),
                             ("created_at", .string(RFC3339.format(record.createdAt)))])
                }))]))
            case .text:
                if records.isEmpty { Terminal.note("no registered versions") }
                for record in records {
                    print("\(record.name)\t\(record.version)\t\(record.stage.rawValue)\t\(record.manifestDigest)\t\(record.signer)")
                }
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "show",
            abstract: "Print one version's record as JSON (--bom: its ML-BOM instead).",
            discussion: """
                Example:
                  mlsec registry show digits 2 --state-dir state
                """)
        @Argument(help: "Model name.") var name: String
        @Argument(help: "Version.") var version: String
        @Flag(help: "Print the version's ML-BOM (CycloneDX JSON).") var bom = false
        @OptionGroup var place: Place

        func run() async throws {
            guard let record = try await place.store().version(name: name, version: version) else {
                throw MLSecError.usage("model \(name) version \(version) is not registered (mlsec registry list \(name))")
            }
            if bom {
                guard !record.mlbom.isEmpty else { throw MLSecError.usage("model \(name) version \(version) has no ML-BOM recorded") }
                FileHandle.standardOutput.write(Data(record.mlbom + [0x0a]))
                return
            }
            printJSON(record.json(includingBOM: false))
        }
    }

    struct StageChange: ParsableArguments {
        @Argument(help: "Model name.") var name: String
        @Argument(help: "Version.") var version: String
        @Option(help: "Why (recorded in the registry and the audit log).") var reason: String?
        @OptionGroup var place: Place

        func run(to stage: ModelStage) async throws {
            let record = try await place.registry().changeStage(name: name, version: version, to: stage, by: place.who,
                                                                 reason: reason ?? "moved to \(stage.rawValue)")
            print("\(record.name) \(record.version): \(stage.rawValue)")
        }
    }

    struct Promote: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "promote",
            abstract: "Move a version to production (from staging), or to another stage with --to.",
            discussion: """
                Examples:
                  mlsec registry promote digits 2 --state-dir state
                  mlsec registry promote digits 1 --to staging --state-dir state
                """)
        @OptionGroup var change: StageChange
        @Option(help: "Target stage: production (default), staging or archived.") var to = "production"

        func run() async throws {
            let stage = try ModelStage(parsing: to)
            guard stage != .revoked else { throw MLSecError.usage("use mlsec registry revoke to revoke a version") }
            try await change.run(to: stage)
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "revoke",
            abstract: "Revoke a version: final; running gateways stop serving it within about a second.",
            discussion: """
                Example:
                  mlsec registry revoke digits 2 --reason "signing key leaked" \\
                    --state-dir state
                """)
        @OptionGroup var change: StageChange

        func run() async throws { try await change.run(to: .revoked) }
    }

    struct Archive: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "archive",
            abstract: "Archive a version (out of production, kept on record).",
            discussion: """
                Example:
                  mlsec registry archive digits 1 --state-dir state
                """)
        @OptionGroup var change: StageChange

        func run() async throws { try await change.run(to: .archived) }
    }
}
