// Gateway: builds the Hummingbird application: middleware in order, routes, TLS or loopback-only plaintext.

import Foundation
import Hummingbird
import HummingbirdTLS
import Logging
import MLSecCore
import NIOSSL
import HummingbirdCore
import MLSecAccess

/// How the gateway listens.
public struct ListenConfiguration: Sendable, Equatable {
    public var host: String
    public var port: Int
    /// PEM certificate chain and private key; TLS is on when both are set.
    public var certificate: String?
    public var privateKey: String?
    /// "1.3" (default) or "1.2".
    public var minimumTLSVersion: String
    /// PEM CA certificates for mutual TLS: when set, every client must present a certificate they issued.
    public var clientCA: String?
    /// Serve plain HTTP on a non-loopback address (refused unless set; a warning is printed).
    public var allowPlaintext: Bool
    /// Timeouts, minimum body rate and the per-address connection cap (the configuration's `limits`).
    public var connections = ConnectionLimits()

    public init(host: String = "127.0.0.1", port: Int = 8000, certificate: String? = nil, privateKey: String? = nil,
                minimumTLSVersion: String = "1.3", allowPlaintext: Bool = false) {
        self.host = host
        self.port = port
        self.certificate = certificate
        self.privateKey = privateKey
        self.minimumTLSVersion = minimumTLSVersion
        self.allowPlaintext = allowPlaintext
        self.clientCA = nil
    }

    var isLoopback: Bool { host == "127.0.0.1" || host == "::1" || host == "localhost" }
    var usesTLS: Bool { certificate != nil && privateKey != nil }
}

public enum Gateway {
    /// The router with every control in order: security headers and errors, authentication, rate limit, then
    /// the handlers (authorization, validation, inference, output validation, receipt, audit).
    public static func router(services: GatewayServices, connections: ConnectionTable? = nil) -> Router<GatewayContext> {
        let router = Router(context: GatewayContext.self)
        router.add(middleware: MetricsMiddleware(metrics: services.metrics))
        router.add(middleware: SecurityHeadersMiddleware(audit: services.audit))
        if !services.options.corsOrigins.isEmpty {
            router.add(middleware: GatewayCORSMiddleware(allowedOrigins: services.options.corsOrigins))
        }
        router.add(middleware: AuthenticationMiddleware(keys: services.keys, jwt: services.jwt, roles: services.roles, audit: services.audit,
                                                      metrics: services.metrics, clientCertificates: services.options.clientCertificates,
                                                      principalLimits: services.options.principalLimits,
                                                      failures: services.failedAuthentications))
        router.add(middleware: RateLimitMiddleware(limiter: services.rateLimits, audit: services.audit))
        let inference = InferenceRoutes(services: services)
        inference.register(on: router)
        AdminRoutes(services: services, inference: inference).register(on: router)
        router.get("/metrics") { _, context in
            guard let principal = context.principal, principal.may(.readAudit) else { throw GatewayError.forbidden("metrics need read_audit") }
            let (commits, entries, seconds) = services.audit.commitStatistics
            services.metrics.audit(commits: commits, entries: entries, seconds: seconds)
            if let (refused, timedOut) = connections?.statistics { services.metrics.connections(refused: refused, timedOut: timedOut) }
            return GatewayResponse.bytes(services.metrics.exposition(), contentType: "text/plain; version=0.0.4")
        }
        router.get("/openapi.json") { _, _ in
            GatewayResponse.bytes(OpenAPIDocument.bytes, contentType: "application/json")
        }
        return router
    }

    /// Builds the application. Refuses plain HTTP on a non-loopback address unless allowed.
    public static func application(
        services: GatewayServices, listen: ListenConfiguration, logger: Logger,
        onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) throws -> some ApplicationProtocol {
        let http1 = HTTP1Channel.Configuration(additionalChannelHandlers: [RequestTiming()],
                                               idleTimeout: .nanoseconds(listen.connections.idleTimeout.nanoseconds))
        let table = ConnectionTable(limits: listen.connections)
        var tls: TLSConfiguration?
        if listen.usesTLS, let certificate = listen.certificate, let key = listen.privateKey {
            let chain = try NIOSSLCertificate.fromPEMFile(certificate).map { NIOSSLCertificateSource.certificate($0) }
            var configuration = TLSConfiguration.makeServerConfiguration(
                certificateChain: chain, privateKey: .privateKey(try NIOSSLPrivateKey(file: key, format: .pem)))
            configuration.minimumTLSVersion = listen.minimumTLSVersion == "1.2" ? .tlsv12 : .tlsv13
            if let clientCA = listen.clientCA {
                configuration.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(clientCA))
                configuration.certificateVerification = .noHostnameVerification
            }
            // Renewed certificates are picked up at the next handshake, without a restart.
            configuration.sslContextCallback = try CertificateReloader(certificate: certificate, privateKey: key).callback
            tls = configuration
        } else {
            guard listen.isLoopback || listen.allowPlaintext else {
                throw MLSecError.usage(
                    "refusing plain HTTP on \(listen.host): configure tls (certificate and private_key) or set allow_plaintext: true")
            }
            if !listen.isLoopback { logger.warning("serving PLAIN HTTP on \(listen.host): credentials and data travel unencrypted") }
        }
        let tlsConfiguration = tls
        // The connection guard comes first (before TLS), so a refused connection costs no handshake.
        let server = HTTPServerBuilder { responder in
            let http = HTTP1Channel(responder: responder, configuration: http1)
            if let tlsConfiguration { return GuardedChannel(base: try TLSChannel(http, tlsConfiguration: tlsConfiguration), table: table) }
            return GuardedChannel(base: http, table: table)
        }
        return Application(
            router: router(services: services, connections: table), server: server,
            configuration: .init(address: .hostname(listen.host, port: listen.port), serverName: "mlsec"),
            onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? listen.port) },
            logger: logger)
    }
}
