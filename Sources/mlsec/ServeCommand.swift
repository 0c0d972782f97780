// ServeCommand: `mlsec serve`, the secured KServe V2 inference gateway (demo or configured).

import ArgumentParser
import Foundation
import Hummingbird
import Logging
import ServiceLifecycle
import UnixSignals
import MLSecCore
import MLSecDeploy
import MLSecEngine
import MLSecGateway
import MLSecStores

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve models over the KServe V2 protocol with authentication, RBAC, rate limits, receipts and audit.",
        discussion: """
            --demo binds 127.0.0.1, creates the state directory (SQLite key database, audit log, receipt and \
            checkpoint keys, the bundled digits model trained, signed and scanned), an admin and an inference API \
            key (50 requests/s, burst 100), writes DIR/demo-credentials.json and prints a curl example.
            Logs are JSON lines on standard error (request id, route template, status, duration); \
            MLSEC_LOG_LEVEL=notice keeps only refusals and errors.
            --config FILE serves a production configuration (TLS 1.3 by default; plain HTTP only on loopback or \
            with allow_plaintext: true).
            SIGHUP reloads models, roles and JWKS keys (the demo reloads its generated configuration); a model deployed \
            with PUT /admin/models/NAME keeps its version across reloads and restarts (see `mlsec deployments`). \
            SIGTERM or SIGINT drains in-flight requests (--shutdown-grace), then saves quotas and the audit queue.

            Examples:
              mlsec serve --demo
              mlsec serve --demo --state-dir ./demo --port 8000
              mlsec serve --config /etc/mlsec/gateway.json
            """)

    @Flag(help: "Serve the bundled digits model on 127.0.0.1 with generated keys.")
    var demo = false

    @Option(name: .customLong("state-dir"), help: "Demo state directory.")
    var stateDir = "mlsec-demo"

    @Option(help: "Demo port (0 picks a free one).")
    var port = 8000

    @Option(help: "Gateway configuration file (JSON).")
    var config: String?

    @Option(name: .customLong("shutdown-grace"),
            help: "Seconds in-flight requests get to finish after SIGTERM before they are cancelled.")
    var shutdownGrace: Int = 25

    @Option(name: .customLong("audit-durability"),
            help: "request: each answer waits until its audit entry is on disk (default); batch: entries are committed in batches a few ms later (overrides the config).")
    var auditDurability: String?

    func validate() throws {
        if let auditDurability, AuditDurability(rawValue: auditDurability) == nil {
            throw ValidationError("--audit-durability must be request or batch")
        }
        guard demo != (config != nil) else { throw ValidationError("give either --demo or --config FILE") }
        guard (0...65535).contains(port) else { throw ValidationError("--port must be 0...65535") }
    }

    func run() async throws {
        let level = ProcessInfo.processInfo.environment["MLSEC_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .info
        LoggingSystem.bootstrap { label in JSONLogHandler(label: label, level: level) }
        let logger = Logger(label: "mlsec.gateway")
        // One gateway per SQLite state directory (the demo writes there while it prepares).
        if demo { try StateDirectoryLock.acquire(stateDir) }
        let configuration = try await configurationSource(log: { Terminal.note($0) }).load()
        if configuration.databaseURL == nil { try StateDirectoryLock.acquire(configuration.stateDirectory) }
        if configuration.auditDurability == .batch {
            logger.warning("audit durability is batch: answers do not wait for their audit entries; a crash can lose the last few milliseconds of entries")
        }
        for model in configuration.models {
            if let warning = model.location.trustWarning { logger.warning("model \(model.name): \(warning)") }
        }
        let opened = try await StateStores.open(
            stateDirectory: configuration.stateDirectory,
            database: configuration.databaseURL.map { DatabaseSettings(url: $0, passwordFile: configuration.databasePasswordFile) },
            roles: configuration.roles)
        let registry = try await StateStores.registry(
            stateDirectory: configuration.stateDirectory,
            database: configuration.databaseURL.map { DatabaseSettings(url: $0, passwordFile: configuration.databasePasswordFile) })
        let stores = GatewayStores(keys: opened.keys, audit: opened.audit, rateLimits: opened.rateLimits, roles: opened.roles,
                                   servedVersions: opened.servedVersions, registry: registry)
        let services = try await GatewayStartup.services(configuration, stores: stores, logger: logger)
        let isDemo = demo
        let dir = configuration.stateDirectory
        let host = configuration.listen.host
        let scheme = configuration.listen.certificate == nil ? "http" : "https"
        let app = try Gateway.application(services: services, listen: configuration.listen, logger: logger) { port in
            let url = "\(scheme)://\(host):\(port)"
            if isDemo {
                do {
                    _ = try await DemoSetup.writeCredentials(stateDirectory: dir, url: url, keys: services.keys)
                    FileHandle.standardOutput.write(Data((Self.demoBanner(url: url, dir: dir) + "\n").utf8))
                } catch {
                    Terminal.error("cannot write the demo credentials: \(error)")
                }
            }
            FileHandle.standardOutput.write(Data("mlsec gateway listening on \(url)\n".utf8))
        }
        // One service group: the maintenance service (quota saving, SIGHUP reload, final audit drain) and the
        // server. SIGTERM/SIGINT stop accepting, let in-flight requests finish within the grace period, then
        // the maintenance service saves and drains (services stop in reverse order). Every mode reloads on
        // SIGHUP: the configuration file, or the demo's generated configuration.
        let maintenance = GatewayMaintenance(services: services, configuration: configuration,
                                             source: configurationSource(log: { _ in }), logger: logger)
        let server = DrainingServer(
            app, host: host, port: configuration.listen.port,
            portHint: demo ? "choose another with --port" : "choose another listen.port in \(config ?? "the configuration")",
            grace: .seconds(shutdownGrace), logger: logger)
        var group = ServiceGroupConfiguration(
            services: [.init(service: maintenance), .init(service: server)], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        group.maximumGracefulShutdownDuration = .seconds(shutdownGrace)
        group.maximumCancellationDuration = .seconds(5)
        try await ServiceGroup(configuration: group).run()
    }

    /// The configuration as this command line produces it, at start and again on each SIGHUP: the demo's
    /// (generated in the state directory) or the file's, with --audit-durability applied over it.
    func configurationSource(log: @escaping @Sendable (String) -> Void) -> ConfigurationSource {
        let durability = auditDurability.flatMap(AuditDurability.init(rawValue:))
        let adjust: @Sendable (inout GatewayConfiguration) -> Void = { configuration in
            if let durability { configuration.auditDurability = durability }
        }
        guard demo else { return .file(config ?? "", adjust: adjust) }
        let (dir, port) = (stateDir, port)
        return ConfigurationSource(name: "demo:\(dir)") {
            var configuration = try await DemoSetup.prepare(stateDirectory: dir, port: port, log: log)
            adjust(&configuration)
            return configuration
        }
    }

    /// The demo's banner. It never prints a key (standard output ends up in logs): it says where the
    /// credentials file is and how to read the key from it.
    static func demoBanner(url: String, dir: String) -> String {
        let digits = Digits.dataset(.test)
        let example = digits.features[0..<64].map { String(format: "%g", $0) }.joined(separator: ",")
        let label = digits.labels?.first.map(String.init) ?? "?"
        let credentials = FilePath.absolute("\(dir)/demo-credentials.json")
        return """
            MLSec demo gateway: model "digits" (FP32 input "input" [-1, 64] in [0, 1], output [-1, 10]).
            Credentials (admin and inference API keys, receipt public key), mode 0600: \(credentials)
            The inference key is limited to 50 requests/s (burst 100); every answer carries a signed MLSec-Receipt.

            Try it (this image is a \(label)):
              KEY=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["api_keys"]["inference"])' \(credentials))
              curl -s \(url)/v2/models/digits/infer \\
                -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' \\
                -d '{"inputs":[{"name":"input","shape":[1,64],"datatype":"FP32","data":[\(example)]}]}'

            """
    }
}
