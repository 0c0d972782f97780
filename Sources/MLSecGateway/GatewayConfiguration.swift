// GatewayConfiguration: the `mlsec serve --config FILE` document (JSON), checked strictly, safe defaults.

import Foundation
import MLSecAccess
import MLSecCore
import MLSecDeploy

/// The production configuration. Unknown keys are errors; paths are relative to the file's directory.
///
/// ```json
/// {
///   "listen": {"host": "0.0.0.0", "port": 8443},
///   "tls": {"certificate": "tls/cert.pem", "private_key": "tls/key.pem", "minimum_version": "1.3"},
///   "allow_plaintext": false,
///   "state_dir": "state",
///   "limits": {"max_body_bytes": 8388608, "max_batch": 64},
///   "audit": {"origin": "mlsec.example/audit", "durability": "request"},
///   "roles": {"reader": ["read_metadata"]},
///   "models": [{"name": "digits", "version": "1", "path": "models/digits/1", "signature": "models/digits-1.sig",
///               "public_keys": ["publisher.pub"], "identities": [], "input_range": [0, 1]}]
/// }
/// ```
public struct GatewayConfiguration: Sendable {
    public var listen: ListenConfiguration
    public var stateDirectory: String
    public var maxBodyBytes = 8 << 20
    public var maxBatch = 64
    public var auditOrigin = "mlsec/audit"
    public var auditDurability = AuditDurability.request
    public var availability = AvailabilityLimits()
    /// PostgreSQL for state shared by replicas (today: the rate-limit state): `postgres://user@host:port/db`.
    public var databaseURL: String?
    public var databasePasswordFile: String?
    public var roles: [String: Role] = Role.builtIn
    public var models: [ModelSource] = []
    /// The deploy policy file (`deploy_policy`): every model load passes the deploy gate with it.
    public var deployPolicy: String?
    public var jwt: JWTConfiguration?
    public var clientCertificates: [String: ClientCertificateMapping] = [:]
    /// Rate limits, quotas and concurrency for JWT and client-certificate principals, by role.
    public var principalLimits: [String: PrincipalLimits] = [:]
    public var corsOrigins: Set<String> = []
    /// Unauthenticated attempts (failed or missing credentials) allowed per client address.
    public var anonymousLimit = RateLimit(requestsPerSecond: 2, burst: 20)
    /// Identical authentication failures from one address within this window are one counted audit entry.
    public var failureWindow: Duration = .seconds(60)
    /// Per role: answers cut to top-k labels or rounded, and budgets of distinct inputs (model extraction).
    public var extractionDefense: [String: ExtractionPolicy] = [:]

    /// The sections of `other` that differ from this configuration and can only change with a restart (the
    /// listener, TLS and mTLS mappings, state, database, limits, CORS, audit settings, JWT settings): a reload
    /// that would change one of them is refused, naming them, rather than half applied. Models and custom roles
    /// reload live.
    public func restartOnlyChanges(to other: GatewayConfiguration) -> [String] {
        var changed: [String] = []
        if listen.host != other.listen.host || listen.port != other.listen.port { changed.append("listen") }
        if listen.certificate != other.listen.certificate || listen.privateKey != other.listen.privateKey
            || listen.minimumTLSVersion != other.listen.minimumTLSVersion || listen.clientCA != other.listen.clientCA {
            changed.append("tls")
        }
        if listen.allowPlaintext != other.listen.allowPlaintext { changed.append("allow_plaintext") }
        if stateDirectory != other.stateDirectory { changed.append("state_dir") }
        if databaseURL != other.databaseURL || databasePasswordFile != other.databasePasswordFile { changed.append("database") }
        if maxBodyBytes != other.maxBodyBytes || maxBatch != other.maxBatch || availability != other.availability
            || listen.connections != other.listen.connections || anonymousLimit != other.anonymousLimit {
            changed.append("limits")
        }
        if auditOrigin != other.auditOrigin || auditDurability != other.auditDurability || failureWindow != other.failureWindow { changed.append("audit") }
        if jwt != other.jwt { changed.append("jwt") }
        if clientCertificates != other.clientCertificates { changed.append("client_certificates") }
        if principalLimits != other.principalLimits { changed.append("principal_limits") }
        if corsOrigins != other.corsOrigins { changed.append("cors") }
        if extractionDefense != other.extractionDefense { changed.append("extraction_defense") }
        if deployPolicy != other.deployPolicy { changed.append("deploy_policy") }
        return changed
    }

    /// The per-request settings.
    public var options: GatewayOptions {
        var options = GatewayOptions()
        options.maxBodyBytes = maxBodyBytes
        options.maxBatch = maxBatch
        options.availability = availability
        options.corsOrigins = corsOrigins
        options.clientCertificates = clientCertificates
        options.principalLimits = principalLimits
        options.auditDurability = auditDurability
        options.anonymousLimit = anonymousLimit
        options.failureWindow = failureWindow
        options.extractionDefense = extractionDefense
        return options
    }

    public init(listen: ListenConfiguration, stateDirectory: String) {
        self.listen = listen
        self.stateDirectory = stateDirectory
    }

    /// `{"requests_per_second": R, "burst": B}` with R in 0.001...10^6 and B in 1...10^6.
    static func rateLimit(_ value: JSONValue, _ what: String) throws -> RateLimit {
        try check(value, allowed: ["requests_per_second", "burst"], what)
        guard case .number(let text)? = value["requests_per_second"], let rps = Double(text), rps >= 0.001, rps <= 1_000_000,
            let burst = value["burst"]?.integerValue, burst >= 1, burst <= 1_000_000
        else { throw MLSecError.malformed("\(what) needs requests_per_second in 0.001...1000000 and burst in 1...1000000") }
        return RateLimit(requestsPerSecond: rps, burst: burst)
    }

    static func check(_ value: JSONValue, allowed: Set<String>, _ context: String) throws {
        guard let members = value.objectValue else { throw MLSecError.malformed("\(context) must be an object") }
        for (key, _) in members where !allowed.contains(key) {
            throw MLSecError.malformed("\(context): unknown key \"\(key.prefix(40))\"")
        }
    }

    public init(path: String) throws {
        let base = FilePath.directory(of: FilePath.absolute(path))
        func resolve(_ p: String) -> String { p.hasPrefix("/") ? p : "\(base)/\(p)" }
        let doc = try JSONParser(limits: .init(maxDepth: 8, maxStringBytes: 4096, maxContainerCount: 4096))
            .parse(try ReadOnlyFile.readAll(path, maxBytes: 1 << 20, what: "configuration"), context: path)
        try Self.check(doc, allowed: ["listen", "tls", "allow_plaintext", "state_dir", "limits", "audit", "roles", "models", "jwt", "client_certificates", "principal_limits", "cors",
                                      "database", "extraction_defense", "deploy_policy"], path)
        var listen = ListenConfiguration(host: "127.0.0.1", port: 8443)
        if let l = doc["listen"] {
            try Self.check(l, allowed: ["host", "port"], "listen")
            listen.host = l["host"]?.stringValue ?? listen.host
            if let port = l["port"]?.integerValue {
                guard (0...65535).contains(port) else { throw MLSecError.malformed("listen.port must be 0...65535") }
                listen.port = port
            }
        }
        if let t = doc["tls"] {
            try Self.check(t, allowed: ["certificate", "private_key", "minimum_version", "client_ca"], "tls")
            listen.clientCA = t["client_ca"]?.stringValue.map(resolve)
            listen.certificate = t["certificate"]?.stringValue.map(resolve)
            listen.privateKey = t["private_key"]?.stringValue.map(resolve)
            let version = t["minimum_version"]?.stringValue ?? "1.3"
            guard version == "1.3" || version == "1.2" else { throw MLSecError.malformed("tls.minimum_version must be 1.2 or 1.3") }
            listen.minimumTLSVersion = version
        }
        listen.allowPlaintext = doc["allow_plaintext"]?.boolValue ?? false
        guard let state = doc["state_dir"]?.stringValue else { throw MLSecError.malformed("\(path): state_dir is required") }
        self.init(listen: listen, stateDirectory: resolve(state))
        if let limits = doc["limits"] {
            try Self.check(limits, allowed: ["max_body_bytes", "max_batch", "idle_timeout_ms", "header_timeout_ms",
                                             "body_timeout_ms", "min_body_bytes_per_second", "max_connections_per_address",
                                             "anonymous_per_address", "cost", "per_key_model", "max_concurrent_per_key",
                                             "max_in_flight", "max_queued", "queue_timeout_ms", "request_timeout_ms"], "limits")
            maxBodyBytes = limits["max_body_bytes"]?.integerValue ?? maxBodyBytes
            maxBatch = limits["max_batch"]?.integerValue ?? maxBatch
            guard (1...(1 << 30)).contains(maxBodyBytes), (1...65536).contains(maxBatch) else {
                throw MLSecError.malformed("limits are out of range")
            }
            func integer(_ name: String, _ range: ClosedRange<Int>) throws -> Int? {
                guard let value = limits[name] else { return nil }
                guard let n = value.integerValue, range.contains(n) else {
                    throw MLSecError.malformed("limits.\(name) must be an integer in \(range.lowerBound)...\(range.upperBound)")
                }
                return n
            }
            if let cost = limits["cost"] {
                guard let value = cost.stringValue.flatMap(AvailabilityLimits.Cost.init(rawValue:)) else {
                    throw MLSecError.malformed("limits.cost must be request, batch or elements")
                }
                availability.cost = value
            }
            if let limit = limits["per_key_model"] { availability.perKeyModel = try Self.rateLimit(limit, "limits.per_key_model") }
            availability.maxConcurrentPerKey = try integer("max_concurrent_per_key", 1...100_000) ?? availability.maxConcurrentPerKey
            availability.maxInFlight = try integer("max_in_flight", 1...100_000) ?? availability.maxInFlight
            availability.maxQueued = try integer("max_queued", 0...1_000_000) ?? availability.maxQueued
            if let ms = try integer("queue_timeout_ms", 1...600_000) { availability.queueTimeout = .milliseconds(ms) }
            if let ms = try integer("request_timeout_ms", 1...3_600_000) { availability.requestTimeout = .milliseconds(ms) }
            if let ms = try integer("idle_timeout_ms", 100...600_000) { self.listen.connections.idleTimeout = .milliseconds(ms) }
            if let ms = try integer("header_timeout_ms", 100...600_000) { self.listen.connections.headerTimeout = .milliseconds(ms) }
            if let ms = try integer("body_timeout_ms", 100...600_000) { self.listen.connections.bodyTimeout = .milliseconds(ms) }
            self.listen.connections.minBodyBytesPerSecond = try integer("min_body_bytes_per_second", 1...(1 << 30))
                ?? self.listen.connections.minBodyBytesPerSecond
            self.listen.connections.maxPerAddress = try integer("max_connections_per_address", 1...1_000_000) ?? self.listen.connections.maxPerAddress
            if let limit = limits["anonymous_per_address"] { anonymousLimit = try Self.rateLimit(limit, "limits.anonymous_per_address") }
        }
        if let policy = doc["deploy_policy"] {
            guard let file = policy.stringValue, !file.isEmpty else { throw MLSecError.malformed("deploy_policy must be the policy file's path") }
            deployPolicy = resolve(file)
            _ = try DeployPolicy(path: resolve(file))  // a policy that does not parse stops the start, naming the problem
        }
        if let database = doc["database"] {
            try Self.check(database, allowed: ["url", "password_file"], "database")
            guard let url = database["url"]?.stringValue, url.hasPrefix("postgres://") || url.hasPrefix("postgresql://") else {
                throw MLSecError.malformed("database.url must be postgres://user@host[:port]/database")
            }
            databaseURL = url
            databasePasswordFile = database["password_file"]?.stringValue.map(resolve)
        }
        if let cors = doc["cors"] {
            try Self.check(cors, allowed: ["allowed_origins"], "cors")
            let origins = cors["allowed_origins"]?.arrayValue?.compactMap(\.stringValue) ?? []
            guard origins.allSatisfy({ $0.hasPrefix("https://") || $0.hasPrefix("http://") }), !origins.contains("*") else {
                throw MLSecError.malformed("cors.allowed_origins lists exact origins such as https://app.example (no wildcard)")
            }
            corsOrigins = Set(origins)
        }
        if let mappings = doc["client_certificates"]?.objectValue {
            for (name, m) in mappings {
                try Self.check(m, allowed: ["role", "models"], "client_certificates.\(name)")
                guard let role = m["role"]?.stringValue else { throw MLSecError.malformed("client_certificates.\(name) needs a role") }
                clientCertificates[name] = ClientCertificateMapping(role: role, models: m["models"]?.arrayValue?.compactMap(\.stringValue) ?? [])
            }
        }
        if let j = doc["jwt"] {
            try Self.check(j, allowed: ["jwks", "issuer", "audience"], "jwt")
            guard let jwks = j["jwks"]?.stringValue, let issuer = j["issuer"]?.stringValue, let audience = j["audience"]?.stringValue else {
                throw MLSecError.malformed("jwt needs jwks, issuer and audience")
            }
            jwt = JWTConfiguration(jwksPath: resolve(jwks), issuer: issuer, audience: audience)
        }
        if let audit = doc["audit"] {
            try Self.check(audit, allowed: ["origin", "durability", "failure_window_ms"], "audit")
            if let value = audit["failure_window_ms"] {
                guard let ms = value.integerValue, (1...3_600_000).contains(ms) else {
                    throw MLSecError.malformed("audit.failure_window_ms must be an integer in 1...3600000")
                }
                failureWindow = .milliseconds(ms)
            }
            auditOrigin = audit["origin"]?.stringValue ?? auditOrigin
            if let value = audit["durability"] {
                guard let durability = value.stringValue.flatMap(AuditDurability.init(rawValue:)) else {
                    throw MLSecError.malformed("audit.durability must be \"request\" or \"batch\"")
                }
                auditDurability = durability
            }
        }
        if let limits = doc["principal_limits"] {
            guard let members = limits.objectValue else { throw MLSecError.malformed("principal_limits must be an object of roles") }
            for (role, value) in members {
                try Self.check(value, allowed: ["rate_limit", "quota", "max_concurrent"], "principal_limits.\(role)")
                var entry = PrincipalLimits()
                if let limit = value["rate_limit"] { entry.rateLimit = try Self.rateLimit(limit, "principal_limits.\(role).rate_limit") }
                if let quota = value["quota"] {
                    do {
                        entry.quota = try QuotaLimits(json: quota)
                    } catch {
                        throw MLSecError.malformed("principal_limits.\(role).quota: \(error.message)")
                    }
                }
                if let n = value["max_concurrent"] {
                    guard let count = n.integerValue, (1...100_000).contains(count) else {
                        throw MLSecError.malformed("principal_limits.\(role).max_concurrent must be an integer in 1...100000")
                    }
                    entry.maxConcurrent = count
                }
                principalLimits[role] = entry
            }
        }
        if let roles = doc["roles"]?.objectValue {
            for (name, permissions) in roles {
                guard Role.builtIn[name] == nil else { throw MLSecError.malformed("roles: \(name) is a built-in role") }
                let list = try (permissions.arrayValue ?? []).map { value -> Permission in
                    guard let p = value.stringValue.flatMap(Permission.init(rawValue:)) else {
                        throw MLSecError.malformed("roles.\(name): permissions are \(Permission.allCases.map(\.rawValue).joined(separator: ", "))")
                    }
                    return p
                }
                self.roles[name] = Role(name: name, permissions: Set(list))
            }
        }
        if let defense = doc["extraction_defense"] {
            guard let members = defense.objectValue else { throw MLSecError.malformed("extraction_defense must be an object of roles") }
            for (role, value) in members {
                guard self.roles[role] != nil else {
                    throw MLSecError.malformed("extraction_defense: \"\(role.prefix(40))\" is not a role (built-in or under roles)")
                }
                extractionDefense[role] = try ExtractionPolicy(json: value, context: "extraction_defense.\(role)")
            }
        }
        for (i, m) in (doc["models"]?.arrayValue ?? []).enumerated() {
            try Self.check(m, allowed: ["name", "version", "path", "signature", "public_keys", "certificate_chain", "certificate_identity",
                                        "identities", "input_range", "rate_limit", "upstreams", "upstream_model", "upstream_policy", "digest", "softmax_output",
                                        "detector", "monitor"],
                           "models[\(i)]")
            guard let name = m["name"]?.stringValue, !name.isEmpty, name.utf8.count <= 100 else {
                throw MLSecError.malformed("models[\(i)] needs a name (1-100 characters)")
            }
            var range: ClosedRange<Float>?
            if let r = m["input_range"]?.arrayValue {
                guard r.count == 2, case .number(let lo) = r[0], case .number(let hi) = r[1], let a = Float(lo), let b = Float(hi), a <= b else {
                    throw MLSecError.malformed("models[\(i)].input_range must be [low, high]")
                }
                range = a...b
            }
            var source: ModelSource
            if let list = m["upstreams"]?.arrayValue {
                source = ModelSource(name: name, version: m["version"]?.stringValue ?? "1", path: "", signature: "", publicKeys: [],
                                     inputRange: range)
                source.upstreams = try list.enumerated().map { j, u in
                    try Self.check(u, allowed: ["url", "ca", "client_certificate", "client_key", "bearer_token_file"], "models[\(i)].upstreams[\(j)]")
                    guard let url = u["url"]?.stringValue else { throw MLSecError.malformed("models[\(i)].upstreams[\(j)] needs a url") }
                    try UpstreamEndpoint.validate(url)
                    if u["bearer_token_file"] != nil, !UpstreamEndpoint.isTLSOrLoopback(url) {
                        throw MLSecError.usage(
                            "models[\(i)].upstreams[\(j)]: a bearer token is sent only over TLS (https://) or to a loopback address, not to \(url.prefix(100))")
                    }
                    return UpstreamEndpoint(url: url, caFile: u["ca"]?.stringValue.map(resolve),
                                            clientCertificate: u["client_certificate"]?.stringValue.map(resolve),
                                            clientKey: u["client_key"]?.stringValue.map(resolve),
                                            bearerTokenFile: u["bearer_token_file"]?.stringValue.map(resolve))
                }
                guard !source.upstreams.isEmpty, source.upstreams.count <= 64 else {
                    throw MLSecError.malformed("models[\(i)].upstreams must list 1-64 servers")
                }
                source.upstreamModel = m["upstream_model"]?.stringValue
                if let digest = m["digest"]?.stringValue {
                    guard digest.hasPrefix("sha256:"), digest.utf8.count == 71, Hex.decode(String(digest.dropFirst(7))) != nil else {
                        throw MLSecError.malformed("models[\(i)].digest must be sha256:<64 hex digits>")
                    }
                    source.digest = digest.lowercased()
                }
                source.softmaxOutput = m["softmax_output"]?.boolValue ?? false
                if let p = m["upstream_policy"] {
                    try Self.check(p, allowed: ["timeout_ms", "max_attempts", "health_interval_ms", "failure_threshold", "open_ms"],
                                   "models[\(i)].upstream_policy")
                    func int(_ key: String, _ r: ClosedRange<Int>) throws -> Int? {
                        guard let v = p[key] else { return nil }
                        guard let n = v.integerValue, r.contains(n) else {
                            throw MLSecError.malformed("models[\(i)].upstream_policy.\(key) must be in \(r.lowerBound)...\(r.upperBound)")
                        }
                        return n
                    }
                    if let ms = try int("timeout_ms", 1...600_000) { source.upstreamPolicy.timeout = .milliseconds(ms) }
                    if let n = try int("max_attempts", 1...10) { source.upstreamPolicy.maxAttempts = n }
                    if let ms = try int("health_interval_ms", 100...600_000) { source.upstreamPolicy.healthInterval = .milliseconds(ms) }
                    if let n = try int("failure_threshold", 1...1000) { source.upstreamPolicy.failureThreshold = n }
                    if let ms = try int("open_ms", 1...3_600_000) { source.upstreamPolicy.openSeconds = Double(ms) / 1000 }
                }
            } else {
                let keys = m["public_keys"]?.arrayValue?.compactMap(\.stringValue) ?? []
                let chain = m["certificate_chain"]?.arrayValue?.compactMap(\.stringValue) ?? []
                guard let modelPath = m["path"]?.stringValue, let signature = m["signature"]?.stringValue, keys.isEmpty != chain.isEmpty
                else {
                    throw MLSecError.malformed(
                        "models[\(i)] needs path, signature and either public_keys or certificate_chain (or upstreams)")
                }
                source = ModelSource(
                    name: name, version: m["version"]?.stringValue ?? "1", path: resolve(modelPath), signature: resolve(signature),
                    publicKeys: keys.map(resolve), identities: (m["identities"]?.arrayValue?.compactMap(\.stringValue) ?? []).map(resolve),
                    inputRange: range)
                try source.setCertificateTrust(chain: chain.map(resolve), identity: m["certificate_identity"], "models[\(i)]")
            }
            if let limit = m["rate_limit"] { source.rateLimit = try Self.rateLimit(limit, "models[\(i)].rate_limit") }
            if let detector = m["detector"] {
                guard source.upstreams.isEmpty else {
                    throw MLSecError.malformed("models[\(i)].detector needs the local engine: upstream models cannot run it")
                }
                source.detector = try DetectorPolicy(json: detector, context: "models[\(i)].detector")
            }
            if let monitor = m["monitor"] {
                guard source.upstreams.isEmpty else {
                    throw MLSecError.malformed("models[\(i)].monitor needs the local engine: its reference is bound to the weights it serves")
                }
                source.monitor = try MonitorPolicy(json: monitor, context: "models[\(i)].monitor", resolve: resolve)
            }
            models.append(source)
        }
    }
}
