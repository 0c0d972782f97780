// GatewayMaintenance: the gateway's background service: quota saving, reload on SIGHUP, a clean stop.

import Foundation
import Logging
import MLSecAudit
import MLSecCore
import ServiceLifecycle
import UnixSignals

/// Runs beside the HTTP server in one ServiceGroup (listed before it, so it stops after it): saves quota
/// usage every second, reloads models and JWKS keys on SIGHUP (API keys live in the database and need no
/// reload; certificates reload at the next handshake), and on shutdown saves quotas and drains the audit queue.
public struct GatewayMaintenance: Service {
    let services: GatewayServices
    /// The configuration file to read again on SIGHUP (nil: nothing to reload, as in the demo).
    let configurationPath: String?
    let logger: Logger

    public init(services: GatewayServices, configurationPath: String?, logger: Logger) {
        self.services = services
        self.configurationPath = configurationPath
        self.logger = logger
    }

    public func run() async throws {
        await withDiscardingTaskGroup { group in
            group.addTask {
                await cancelWhenGracefulShutdown {
                    var ticks = 0
                    while !Task.isCancelled {
                        try? await Task.sleep(for: .seconds(1))
                        await saveQuotas()
                        ticks += 1
                        if ticks % 60 == 0, let shared = (services.rateLimits as? LeasedRateLimiter)?.shared as? PostgresRateLimiter {
                            try? await shared.sweep()
                        }
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
        do {
            try await services.audit.drain()
        } catch {
            logger.critical("the audit queue could not be written at shutdown", metadata: ["error": "\(error)"])
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
    /// nothing changes) and the JWKS keys. Settings that need a new listener or state (listen, tls, state_dir,
    /// roles, limits, cors) are reported as needing a restart.
    public func reload() async {
        guard let configurationPath else { return }
        do {
            let configuration = try GatewayConfiguration(path: configurationPath)
            let models = try await GatewayState.loadModels(configuration.models)
            services.models.replaceAll(models: models, sources: configuration.models)
            try await services.jwt?.reload()
            try await services.audit.record(AuditEvent(
                actor: "gateway", action: "config.reload", resource: configurationPath, decision: .allow,
                reason: "models: " + models.values.map { "\($0.name) \($0.version)" }.sorted().joined(separator: ", ")))
            logger.notice("configuration reloaded", metadata: ["models": "\(models.count)"])
            if configuration.roles != services.roles || configuration.availability != services.admission.limits
                || configuration.corsOrigins != services.corsOrigins || configuration.maxBodyBytes != services.maxBodyBytes
                || configuration.maxBatch != services.maxBatch {
                logger.warning("roles, limits and cors changed in the file take effect at the next restart")
            }
        } catch {
            let message = (error as? MLSecError)?.message ?? "\(error)"
            logger.error("configuration reload failed; still serving the previous models", metadata: ["error": "\(message)"])
            try? await services.audit.record(AuditEvent(
                actor: "gateway", action: "config.reload", resource: configurationPath, decision: .error,
                reason: String(message.prefix(300))))
        }
    }
}
