// AdminRoutes: key management and audit-log access (admin API), each behind its permission.

import Foundation
import Hummingbird
import MLSecAccess
import MLSecAudit
import MLSecCore
import MLSecDeploy
import HTTPTypes
import Logging

struct AdminRoutes {
    let services: GatewayServices
    let inference: InferenceRoutes

    func register(on router: Router<GatewayContext>) {
        router.post("/admin/keys") { request, context in try await createKey(request, context) }
        router.get("/admin/keys") { _, context in
            let principal = try await authorize(context, .manageKeys, action: "list_keys")
            try await services.audit.record(AuditEvent(actor: principal.id, action: "list_keys", resource: "admin/keys",
                                                       decision: .allow, requestID: context.requestID))
            // Only the keys this caller could have created itself (its role's powers, its models).
            let visible = services.keys.list().filter { principal.mayManage($0, roles: services.roles) }
            return GatewayResponse.json(.object([("keys", .array(visible.map(\.json)))]))
        }
        router.delete("/admin/keys/:id") { _, context in
            let principal = try await authorize(context, .manageKeys, action: "revoke_key")
            let id = context.parameters.get("id") ?? ""
            // A key outside the caller's powers is answered like a missing one.
            guard let target = services.keys.record(id: id), principal.mayManage(target, roles: services.roles) else {
                throw await inference.deny(.notFound("key \(id.prefix(40))"), principal, "revoke_key", "admin/keys/\(id.prefix(40))", context)
            }
            guard try await stored("the key store", context, { try await services.keys.revoke(id: id) }) != nil else {
                throw GatewayError.notFound("key \(id.prefix(40))")
            }
            try await services.audit.record(AuditEvent(actor: principal.id, action: "revoke_key", resource: "admin/keys/\(id)",
                                                       decision: .allow, requestID: context.requestID))
            return Response(status: .noContent)
        }
        router.put("/admin/models/:model") { request, context in try await deploy(request, context) }
        router.get("/admin/upstreams") { _, context in
            _ = try await authorize(context, .readAudit, action: "read_upstreams")
            return GatewayResponse.json(.object([("models", .array(services.models.all.compactMap { model -> JSONValue? in
                guard let pool = model.upstream else { return nil }
                return .object([
                    ("model", .string(model.name)),
                    ("upstreams", .array(pool.status.map { member in
                        .object([
                            ("url", .string(member.endpoint.url)), ("healthy", .bool(member.healthy)),
                            ("outstanding", .int(member.outstanding)), ("breaker", .string(member.breaker.state.rawValue)),
                        ])
                    })),
                ])
            }))]))
        }
        router.get("/admin/audit/checkpoint") { _, context in
            let principal = try await authorize(context, .readAudit, action: "read_audit")
            try await services.audit.record(AuditEvent(actor: principal.id, action: "read_audit", resource: "admin/audit/checkpoint",
                                                       decision: .allow, requestID: context.requestID))
            let note = try await stored("the audit log", context) {
                try await services.audit.store.checkpoint(origin: services.signers.checkpointOrigin, signer: services.signers.checkpoint)
            }
            let checkpoint = try Checkpoint.open(note, verifiers: [services.signers.checkpoint.verifier])
            return GatewayResponse.json(.object([
                ("size", .int(Int(checkpoint.size))), ("root", .string(Hex.encode(checkpoint.root))), ("note", .string(note)),
            ]))
        }
        router.get("/admin/audit/proof") { request, context in
            let principal = try await authorize(context, .readAudit, action: "read_audit")
            guard let index = request.uri.queryParameters.get("index").flatMap({ UInt64($0) }) else {
                throw GatewayError.badRequest("query parameter index (an integer) is required")
            }
            let size = request.uri.queryParameters.get("size").flatMap { UInt64($0) }
            let log = services.audit.store
            let current = try await stored("the audit log", context) { try await log.currentSize() }
            guard index < (size ?? current), (size ?? 0) <= current else {
                throw GatewayError.badRequest("need index < size <= \(current)")
            }
            let treeSize = size ?? current
            let (proof, root, entry) = try await stored("the audit log", context) {
                (try await log.inclusionProof(index: index, size: treeSize).proof, try await log.root(size: treeSize).root,
                 try await log.entry(at: index))
            }
            try await services.audit.record(AuditEvent(actor: principal.id, action: "read_audit", resource: "admin/audit/proof",
                                                       decision: .allow, requestID: context.requestID))
            return GatewayResponse.json(.object([
                ("index", .int(Int(index))), ("size", .int(Int(treeSize))), ("root", .string(Hex.encode(root))),
                ("leaf_hash", .string(Hex.encode(MerkleHash.leaf(entry)))),
                ("proof", .array(proof.map { .string(Hex.encode($0)) })),
            ]))
        }
    }

    /// Runs a call to a store: a failure of the store itself (a database that cannot be reached) is a 503 the
    /// client may retry, logged with its cause; the gateway's own errors pass through.
    func stored<T>(_ what: String, _ context: GatewayContext, _ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as GatewayError {
            throw error
        } catch let error as MLSecError where error.code == .usage {
            throw GatewayError.badRequest(error.message)
        } catch {
            context.logger.error("store call failed", metadata: ["store": "\(what)", "error": "\(readable(error))"])
            throw GatewayError.unavailable("\(what) is unavailable; retry later")
        }
    }

    func authorize(_ context: GatewayContext, _ permission: Permission, action: String) async throws -> Principal {
        let principal = try inference.principal(context)
        guard principal.may(permission) else {
            throw await inference.deny(.forbidden("role \(principal.role.name) lacks \(permission.rawValue)"), principal, action,
                                       "admin", context)
        }
        return principal
    }

    /// `PUT /admin/models/{model}` with `{"version": "2"}`: loads that version from the configured store (path
    /// and signature from the configuration, with `{version}` filled in; never a path from the request), with
    /// every check (trusted signature, decryption in memory, scan), then serves it in place of the current one.
    /// Rolling back is deploying the previous version.
    func deploy(_ request: Request, _ context: GatewayContext) async throws -> Response {
        let principal = try inference.principal(context)
        let name = context.parameters.get("model") ?? ""
        let resource = "models/\(name.prefix(100))"
        guard principal.canSee(model: name), let source = services.models.source(named: name) else {
            throw await inference.deny(.notFound("model \(name.prefix(100))"), principal, "deploy_model", resource, context)
        }
        guard principal.may(.deployModel) else {
            throw await inference.deny(.forbidden("role \(principal.role.name) lacks deploy_model"), principal, "deploy_model", resource, context)
        }
        var request = request
        let body = try await request.collectBody(upTo: 4096)
        let version: String
        let rollback: Bool
        do {
            let document = try JSONParser(limits: .init(maxDepth: 2, maxStringBytes: 256, maxContainerCount: 8))
                .parse(Array(body.readableBytesView), context: "request")
            guard let members = document.objectValue, let text = document["version"]?.stringValue,
                members.allSatisfy({ ["version", "rollback"].contains($0.0) }),
                document["rollback"] == nil || document["rollback"]?.boolValue != nil
            else {
                throw MLSecError.malformed("the body must be {\"version\": \"...\"} (with \"rollback\": true to install an older version)")
            }
            version = text
            rollback = document["rollback"]?.boolValue ?? false
        } catch {
            throw await inference.deny(.badRequest((error as? MLSecError)?.message ?? "the body must be {\"version\": \"...\"}"),
                                       principal, "deploy_model", resource, context)
        }
        let versioned: ModelSource
        do {
            versioned = try source.resolved(version: version)
        } catch {
            throw await inference.deny(.badRequest((error as? MLSecError)?.message ?? "invalid version"), principal, "deploy_model",
                                       resource, context)
        }
        // Rolling back (an older version than the one served) must be asked for: a copied old version cannot
        // replace a newer one silently.
        if let served = services.models[name], ModelLocation.compareVersions(version, served.version) < 0, !rollback {
            throw await inference.deny(
                GatewayError(.conflict, "version \(version) of \(name) is older than the served version \(served.version); "
                    + "send \"rollback\": true to roll back", auditReason: "refused rollback from \(served.version) to \(version) without rollback: true"),
                principal, "deploy_model", "\(resource)/versions/\(version.prefix(64))", context)
        }
        let model: LoadedModel
        do {
            model = try await LoadedModel.load(versioned, loader: services.loader)
        } catch {
            let detail = readable(error)
            let refused = (error as? MLSecError)?.code == .verificationFailed
            // The caller learns the category; paths and details stay in the audit log.
            let message = refused && detail.contains("refused by the deploy gate")
                ? "version \(version) of \(name) was refused by the deploy gate (registry or deploy policy); the audit log names every failed rule"
                : refused
                ? "version \(version) of \(name) was refused: its signature does not verify with a trusted key or the scanner flagged it"
                : "version \(version) of \(name) could not be loaded: its files are missing or malformed"
            throw await inference.deny(GatewayError(.unprocessableContent, message, auditReason: detail), principal, "deploy_model",
                                       "\(resource)/versions/\(version)", context)
        }
        let previous = services.models[name]
        // Audited before it is served: when the log cannot take the entry, nothing changes (503).
        let change = rollback && previous.map { ModelLocation.compareVersions(model.version, $0.version) < 0 } == true
            ? "rolled back from version" : "replaced version"
        try await services.audit.record(AuditEvent(
            actor: principal.id, action: "deploy_model", resource: "\(resource)/versions/\(model.version)", decision: .allow,
            reason: "signature verified, scan clean; \(change) \(previous?.version ?? "none")", requestID: context.requestID,
            modelDigest: model.digest))
        // Recorded before it is served, so that a SIGHUP reload, a restart and the other replicas serve it too;
        // when the record cannot be written, nothing changes (503).
        let record = ServedVersion(model: name, version: model.version, configuredVersion: source.version, deployedBy: principal.id,
                                   deployedAt: Date(), digest: model.digest)
        do {
            try await services.servedVersions.record(record)
        } catch {
            context.logger.error("cannot record the served version; the deploy is not applied", metadata: [
                "model": "\(name)", "version": "\(model.version)", "error": "\(readable(error))",
            ])
            throw await services.audit.refusal(
                .unavailable("the served version of \(name) could not be recorded, so version \(model.version) was not deployed; retry later"),
                AuditEvent(actor: principal.id, action: "deploy_model", resource: "\(resource)/versions/\(model.version)", decision: .error,
                           reason: "the served version could not be recorded; nothing changed", requestID: context.requestID,
                           modelDigest: model.digest))
        }
        services.models.install(model)
        context.logger.notice("model deployed", metadata: [
            "model": "\(model.name)", "version": "\(model.version)", "digest": "\(model.digest)", "actor": "\(principal.id)",
        ])
        return GatewayResponse.json(.object([
            ("name", .string(model.name)), ("version", .string(model.version)), ("digest", .string(model.digest)),
            ("previous_version", previous.map { .string($0.version) } ?? .null),
        ]))
    }

    func createKey(_ request: Request, _ context: GatewayContext) async throws -> Response {
        let principal = try await authorize(context, .manageKeys, action: "create_key")
        var request = request
        let body = try await request.collectBody(upTo: 64 * 1024)
        let document: JSONValue
        do {
            document = try JSONParser(limits: .init(maxDepth: 4, maxStringBytes: 1024, maxContainerCount: 256))
                .parse(Array(body.readableBytesView), context: "request")
        } catch {
            throw GatewayError.badRequest("the request is not valid JSON: \((error as? MLSecError)?.message ?? "parse error")")
        }
        guard let members = document.objectValue else { throw GatewayError.badRequest("the request must be a JSON object") }
        for (key, _) in members where !["name", "role", "models", "expires_at", "rate_limit", "quota", "max_concurrent"].contains(key) {
            throw GatewayError.badRequest("unknown field \"\(key.prefix(40))\"")
        }
        guard let name = document["name"]?.stringValue, !name.isEmpty, name.utf8.count <= 128 else {
            throw GatewayError.badRequest("name (1-128 characters) is required")
        }
        guard let role = document["role"]?.stringValue, services.roles[role] != nil else {
            throw GatewayError.badRequest("role must be one of \(services.roles.all.keys.sorted().joined(separator: ", "))")
        }
        guard let list = document["models"]?.arrayValue else {
            throw GatewayError.badRequest("models is required: the model name patterns the key may use, e.g. [\"digits\"] or [\"*\"]")
        }
        let models = list.compactMap(\.stringValue)
        guard models.count == list.count, (1...64).contains(models.count), models.allSatisfy({ !$0.isEmpty && $0.utf8.count <= 128 })
        else { throw GatewayError.badRequest("models must be a list of 1 to 64 model name patterns") }
        // A caller may only create keys within its own powers: a role granting nothing its role lacks, and
        // model patterns within its own scope.
        if let granted = services.roles[role]?.permissions, !granted.isSubset(of: principal.role.permissions) {
            throw await inference.deny(
                .forbidden("role \(principal.role.name) cannot create a \(role) key: it grants \(granted.subtracting(principal.role.permissions).map(\.rawValue).sorted().joined(separator: ", "))"),
                principal, "create_key", "admin/keys", context)
        }
        if let outside = models.first(where: { !principal.covers(pattern: $0) }) {
            throw await inference.deny(.forbidden("model pattern \(outside.prefix(128)) is outside the caller's scope"),
                                       principal, "create_key", "admin/keys", context)
        }
        var expires: Date?
        if let text = document["expires_at"]?.stringValue {
            guard let date = RFC3339.parse(text), date > Date() else {
                throw GatewayError.badRequest("expires_at must be a future RFC 3339 time")
            }
            expires = date
        }
        var limit: RateLimit?
        if let r = document["rate_limit"] {
            guard let rps = r["requests_per_second"].flatMap({ v -> Double? in if case .number(let t) = v { Double(t) } else { nil } }),
                rps >= 0.001, rps <= 1_000_000, let burst = r["burst"]?.integerValue, burst >= 1, burst <= 1_000_000
            else { throw GatewayError.badRequest("rate_limit needs requests_per_second in 0.001...1000000 and burst in 1...1000000") }
            limit = RateLimit(requestsPerSecond: rps, burst: burst)
        }
        let quota: QuotaLimits?
        do {
            quota = try document["quota"].map { value throws(MLSecError) in try QuotaLimits(json: value) }
        } catch {
            throw GatewayError.badRequest(error.message)
        }
        var maxConcurrent: Int?
        if let value = document["max_concurrent"] {
            guard let n = value.integerValue, n >= 1, n <= 100_000 else { throw GatewayError.badRequest("max_concurrent must be an integer in 1...100000") }
            maxConcurrent = n
        }
        let (record, key) = try await stored("the key store", context) {
            try await services.keys.create(name: name, role: role, models: models, expiresAt: expires, rateLimit: limit,
                                           quota: quota, maxConcurrent: maxConcurrent)
        }
        try await services.audit.record(AuditEvent(actor: principal.id, action: "create_key", resource: "admin/keys/\(record.id)",
                                                   decision: .allow, reason: "role \(role)", requestID: context.requestID))
        return GatewayResponse.json(.object([("id", .string(record.id)), ("key", .string(key))]), status: .created)
    }
}
