// PostgresDatabase: the gateway's connection to PostgreSQL (postgres-nio), for state shared by replicas.

import Foundation
import Logging
import MLSecCore
import NIOSSL
import PostgresNIO

/// A PostgreSQL connection pool from a `postgres://user[:password]@host[:port]/database[?sslmode=...]` URL.
/// TLS with the server's name verified is the default (`sslmode=verify-full`, roots from the system or
/// `sslrootcert=FILE`); `sslmode=require` (no name check) must be asked for and logs a warning; `sslmode=disable`
/// is accepted only for a loopback host. Every query runs under a deadline so that an unreachable server is an error within
/// `timeout`, never a hang: callers fail closed.
public final class PostgresDatabase: Sendable {
    public let client: PostgresClient
    public let timeout: Duration
    /// The server and database, without user or password, for messages.
    public let location: String
    /// The TLS mode in force: `verify-full` (the default: the certificate must chain to a trusted root and
    /// name the host), `require` (encrypted, name not checked: a warning is logged) or `disable` (loopback only).
    public let sslMode: String
    let logger: Logger
    private let runner: Task<Void, Never>

    /// - Parameters:
    ///   - url: the server; the password may come from `passwordFile` instead of the URL.
    ///   - timeout: the deadline of each query.
    public init(url: String, passwordFile: String? = nil, timeout: Duration = .milliseconds(1500), logger: Logger) throws {
        guard let parts = URLComponents(string: url), ["postgres", "postgresql"].contains(parts.scheme ?? ""),
            let host = parts.host, !host.isEmpty, let user = parts.user, !user.isEmpty
        else { throw MLSecError.malformed("database must be postgres://user@host[:port]/database") }
        var password = parts.password
        if let passwordFile {
            password = String(decoding: try ReadOnlyFile.readAll(passwordFile, maxBytes: 4096, what: "database password"), as: UTF8.self)
                .trimmingCharacters(in: .whitespacesAndNewlines)
        }
        let database = parts.path.hasPrefix("/") ? String(parts.path.dropFirst()) : parts.path
        let databaseName = database.isEmpty ? user : database
        let query = parts.queryItems ?? []
        for item in query where !["sslmode", "sslrootcert"].contains(item.name) {
            throw MLSecError.malformed("database URL parameter \(item.name.prefix(40)) is not supported (sslmode, sslrootcert)")
        }
        let mode = query.first { $0.name == "sslmode" }?.value ?? "verify-full"
        let loopback = ["127.0.0.1", "::1", "localhost"].contains(host)
        let tls: PostgresClient.Configuration.TLS
        switch mode {
        case "disable":
            guard loopback else {
                throw MLSecError.usage("sslmode=disable is refused for \(host): database traffic off this machine must use TLS")
            }
            tls = .disable
        case "require", "verify-full":
            var configuration = TLSConfiguration.makeClientConfiguration()
            if let rootFile = query.first(where: { $0.name == "sslrootcert" })?.value {
                configuration.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(rootFile))
            }
            if mode == "require" {
                // Encrypted, but a server with any trusted certificate is accepted under any name.
                configuration.certificateVerification = .noHostnameVerification
                logger.warning("sslmode=require does not check that the database server's certificate names \(host); use verify-full (the default)")
            }
            tls = .require(configuration)
        default:
            throw MLSecError.malformed("sslmode must be verify-full (the default), require, or disable (loopback only)")
        }
        sslMode = mode
        var configuration = PostgresClient.Configuration(
            host: host, port: parts.port ?? 5432, username: user, password: password,
            database: databaseName, tls: tls)
        configuration.options.connectTimeout = .seconds(2)
        configuration.options.maximumConnections = 16
        let client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        self.client = client
        self.timeout = timeout
        location = "postgres://\(host):\(parts.port ?? 5432)/\(databaseName)"
        self.logger = logger
        runner = Task { await client.run() }
    }

    deinit { runner.cancel() }

    /// Runs schema statements (each idempotent) in one transaction under an advisory lock, so that replicas
    /// starting together do not race on `CREATE ... IF NOT EXISTS`.
    public func migrate(_ statements: [PostgresQuery]) async throws {
        let logger = self.logger
        try await withDeadline {
            try await self.client.withTransaction(logger: logger) { connection in
                try await connection.query("SELECT pg_advisory_xact_lock(\(Self.schemaLock))", logger: logger)
                for statement in statements { try await connection.query(statement, logger: logger) }
            }
        }
    }

    /// The advisory lock that serializes schema changes (an arbitrary constant, "mlsec-sch").
    static let schemaLock: Int64 = 0x6d6c_7365_632d_7363

    /// Runs `body` with the deadline; a server that does not answer in time is an error (`MLSecError.io`).
    @discardableResult
    public func withDeadline<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) async throws -> T {
        let timeout = self.timeout
        return try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask { try await body() }
            group.addTask {
                try await Task.sleep(for: timeout)
                return nil
            }
            defer { group.cancelAll() }
            guard let first = try await group.next(), let value = first else {
                throw MLSecError.io("PostgreSQL did not answer within \(timeout)")
            }
            return value
        }
    }
}
