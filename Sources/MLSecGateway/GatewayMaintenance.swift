// GatewayMaintenance: the gateway's background service: quota saving, key and role refresh, reload on SIGHUP, a clean stop.

import Foundation
import Logging
import MLSecAudit
import MLSecCore
import ServiceLifecycle
import Synchronization
import UnixSignals
import MLSecAccess

/// Runs beside the HTTP server in one ServiceGroup (listed before it, so it stops after it): every second it
/// saves quota usage, reads the API keys changed elsewhere (another replica, `mlsec apikey`) and, with
/// PostgreSQL, the published roles; on SIGHUP it reloads models, roles and JWKS keys (certificates reload at
/// the next handshake); on shutdown it saves quotas and drains the audit queue.
public struct GatewayMaintenance: Service {
    let services: GatewayServices
    /// The configuration file to read again on SIGHUP (nil: nothing to reload, as in the demo).
    let configurationPath: String?
    /// The configuration in force (models and roles change with each reload; the other sections cannot).
    private let running: RunningConfiguration
    let logger: Logger

    public init(services: GatewayServices, configuration: GatewayConfiguration, configurationPath: String?, logger: Logger) {
        self.services = services
        self.configurationPath = configurationPath
        running = RunningConfiguration(configuration)
        self.logger = logger
    }

    public func run() async throws {
        await withDiscardingTaskGroup { group in
            group.addTask {
                await cancelWhenGracefulShutdown {
                    var ticks = 0
                    var refreshFailing = false
                    while !Task.isCancelled {
                        try? await Task.sleep(for: .seconds(1))
                        if Task.isCancelled { break }
                        await saveQuotas()
                        await recordFailureCounts()
                        await refreshSharedState(failing: &refreshFailing)
                        ticks += 1
                        if ticks % 60 == 0 { try? await services.rateLimits.maintain() }
                    }
                }
            }
            if configurationPath != nil {
                group.addTask {
                    await cancelWhenGracefulShutdown {
                        for await _ in await UnixSignalsSequence(trapping: .sighup) {
                            await reload()
                        }
                    }
                }
            }
        }
        await saveQuotas()
        await recordFailureCounts(all: true)
        do {
            try await services.audit.drain()
        } catch {
            logger.critical("the audit queue could not be written at shutdown", metadata: ["error": "\(error)"])
        }
    }

    /// The counted entries of repeated authentication failures whose window has ended (all of them at shutdown).
    private func recordFailureCounts(all: Bool = false) async {
        for event in services.failedAuthentications.due(all: all) {
            do {
                try await services.audit.record(event)
            } catch {
                logger.error("cannot record a counted authentication-failure entry", metadata: ["error": "\(error)"])
            }
        }
    }

    /// Keys changed by others, and with PostgreSQL the roles every replica enforces. A failure is logged once
    /// per outage; the key cache then fails closed after its staleness limit (``APIKeyStore/maxStaleness``).
    private func refreshSharedState(failing: inout Bool) async {
        do {
            for record in try await services.keys.refresh() {
                logger.error("an API key record cannot be read; the key is refused until it is fixed or revoked",
                             metadata: ["key": "\(record.id)", "problem": "\(record.defect ?? "")"])
            }
            if let shared = services.sharedRoles { services.roles.replaceCustom(try await shared.load()) }
            if failing { logger.notice("the key and role stores are reachable again") }
            failing = false
        } catch {
            if Task.isCancelled { return }  // shutting down: the query was cut short, not failed
            defer { failing = true }
            if !failing {
                logger.error("cannot refresh API keys and roles; keys are refused once the cache is too old",
                             metadata: ["error": "\(String(describing: error).prefix(300))"])
            }
        }
    }

    private func saveQuotas() async {
        do {
            try await services.admission.quotas.save()
        } catch {
            logger.error("cannot save quota usage; will retry", metadata: ["error": "\(error)"])
        }
    }

    /// Reads the configuration again and swaps in its models (each loaded with every check; if any fails,
    /// nothing changes), its roles (published to PostgreSQL for every replica when it holds them) and the JWKS
    /// keys. Settings that need a new listener or state (listen, tls, state_dir, limits, cors) are reported as
    /// needing a restart.
    public func reload() async {
        guard let configurationPath else { return }
        do {
            let configuration = try GatewayConfiguration(path: configurationPath)
            // Everything the file changes is applied, or nothing: sections that need a restart refuse the reload.
            let restartOnly = running.current.restartOnlyChanges(to: configuration)
            guard restartOnly.isEmpty else {
                throw MLSecError.usage("the configuration changes \(restartOnly.joined(separator: ", ")), which take a restart; "
                    + "nothing was reloaded (restart the gateway, or undo those changes and send SIGHUP again)")
            }
            let models = try await GatewayStartup.loadModels(configuration.models, loader: services.loader)
            if let shared = services.sharedRoles { try await shared.publish(configuration.roles) }
            try await services.jwt?.reload()
            try await services.audit.record(AuditEvent(
                actor: "gateway", action: "config.reload", resource: configurationPath, decision: .allow,
                reason: "models: " + models.values.map { "\($0.name) \($0.version)" }.sorted().joined(separator: ", ")))
            services.models.replaceAll(models: models, sources: configuration.models)
            services.roles.replaceCustom(configuration.roles)
            running.current = configuration
            logger.notice("configuration reloaded: models, roles and JWKS keys", metadata: ["models": "\(models.count)"])
        } catch {
            let message = (error as? MLSecError)?.message ?? "\(error)"
            logger.error("configuration reload failed; still serving the previous models", metadata: ["error": "\(message)"])
            try? await services.audit.record(AuditEvent(
                actor: "gateway", action: "config.reload", resource: configurationPath, decision: .error,
                reason: String(message.prefix(300))))
        }
    }
}

/// The configuration in force, replaced by each successful reload.
private final class RunningConfiguration: Sendable {
    private let value: Mutex<GatewayConfiguration>
    init(_ configuration: GatewayConfiguration) { value = Mutex(configuration) }
    var current: GatewayConfiguration {
        get { value.withLock { $0 } }
        set { value.withLock { $0 = newValue } }
    }
}
