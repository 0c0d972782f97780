// The whole middleware chain in process: requests go through the real router (no socket), one control at a time.

import Foundation
import GRDB
import HTTPTypes
import Hummingbird
import Logging
import MLSecAudit
import MLSecCore
import MLSecGateway
import MLSecIntegrity
import NIOCore
import NIOEmbedded
import Testing
import MLSecDeploy
import MLSecReceipts
import MLSecStores
import MLSecAccess

/// A router over fresh services: a test model, an in-memory key database, a temporary audit log.
private struct Harness {
    let services: GatewayServices
    let responder: any HTTPResponder<GatewayContext>
    let admin: String
    let inference: String
    let limited: String
    let otherTeam: String
    let receiptKey: ModelSigningKey
    let directory: String

    /// `model` defaults to a real softmax model; pass a broken one to exercise output validation.
    init(model: LoadedModel? = nil, corsOrigins: Set<String> = [], availability: AvailabilityLimits = AvailabilityLimits(),
         modelLimit: RateLimit? = nil, auditStore: (any AuditStore)? = nil) async throws {
        directory = NSTemporaryDirectory() + "mlsec-router-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let keys = try await APIKeyStore(backend: try SQLiteKeyBackend(database: try DatabaseQueue()))
        receiptKey = ModelSigningKey.generate(.ed25519)
        let model = try model ?? ValidationTests.softmaxModel()
        var source = ModelSource(name: "digits", version: "1", path: "/nonexistent", signature: "/nonexistent", publicKeys: [])
        source.rateLimit = modelLimit
        var options = GatewayOptions()
        options.maxBodyBytes = 64 * 1024
        options.maxBatch = 8
        options.availability = availability
        options.corsOrigins = corsOrigins
        services = GatewayServices(
            models: ModelCatalog(models: ["digits": model], sources: [source]),
            stores: GatewayStores(keys: keys, audit: try auditStore ?? SQLiteAuditStore(path: "\(directory)/audit.db")),
            roles: Role.builtIn.merging(["keymaster": Role(name: "keymaster", permissions: [.manageKeys, .readMetadata])]) { $1 },
            signers: GatewaySigners(receipts: ReceiptSigner(key: receiptKey), checkpoint: try NoteSigner.generate(name: "test/audit"),
                                    checkpointOrigin: "test/audit"),
            options: options)
        admin = try await keys.create(name: "admin", role: "admin", models: ["*"]).1
        inference = try await keys.create(name: "inference", role: "inference", models: ["digits"]).1
        limited = try await keys.create(name: "limited", role: "inference", models: ["digits"],
                                  rateLimit: RateLimit(requestsPerSecond: 0.01, burst: 2)).1
        otherTeam = try await keys.create(name: "other", role: "inference", models: ["other-*"]).1
        responder = Gateway.router(services: services).buildResponder()
    }

    func request(_ method: HTTPRequest.Method, _ path: String, key: String? = nil, body: [UInt8]? = nil,
                 headers: HTTPFields = [:]) async throws -> (HTTPResponse.Status, HTTPFields, [UInt8]) {
        try await RouterClient.send(responder, method, path, key: key, body: body, headers: headers)
    }

    static func inferBody(_ value: Float = 0.5, batch: Int = 1) -> [UInt8] {
        let data = Array(repeating: String(value), count: 64 * batch).joined(separator: ",")
        return Array(#"{"inputs":[{"name":"input","shape":[\#(batch),64],"datatype":"FP32","data":[\#(data)]}]}"#.utf8)
    }
}

/// An audit store whose database is gone.
private struct FailingAuditStore: AuditStore {
    var location: String { "nowhere" }
    func append(_ entries: [[UInt8]]) async throws -> Range<UInt64> { throw MLSecError.io("the database is down") }
    func currentSize() async throws -> UInt64 { throw MLSecError.io("the database is down") }
    func root(size: UInt64?) async throws -> (size: UInt64, root: [UInt8]) { throw MLSecError.io("the database is down") }
    func inclusionProof(index: UInt64, size: UInt64?) async throws -> (size: UInt64, proof: [[UInt8]]) { throw MLSecError.io("down") }
    func consistencyProof(from: UInt64, to: UInt64) async throws -> [[UInt8]] { throw MLSecError.io("the database is down") }
    func entry(at index: UInt64) async throws -> [UInt8] { throw MLSecError.io("the database is down") }
    func verify(progress: (@Sendable (UInt64) -> Void)?) async throws -> AuditVerificationReport { throw MLSecError.io("down") }
}

@Suite("gateway router, in process")
struct GatewayRouterTests {
    @Test("health is public and every response carries the security headers and a request id")
    func health() async throws {
        let h = try await Harness()
        let (status, headers, body) = try await h.request(.get, "/v2/health/live")
        #expect(status == .ok && String(decoding: body, as: UTF8.self) == #"{"live":true}"#)
        #expect(headers[HTTPField.Name("X-Content-Type-Options")!] == "nosniff")
        #expect(headers[HTTPField.Name("X-Request-Id")!] != nil)
    }

    @Test("authentication: missing, malformed and unknown keys are 401; a valid key passes")
    func authentication() async throws {
        let h = try await Harness()
        #expect(try await h.request(.get, "/v2/models/digits").0 == .unauthorized)
        #expect(try await h.request(.get, "/v2/models/digits", key: "nonsense").0 == .unauthorized)
        #expect(try await h.request(.get, "/v2/models/digits", key: "mlsec_000000000000_" + String(repeating: "A", count: 43)).0 == .unauthorized)
        #expect(try await h.request(.get, "/v2/models/digits", key: h.inference).0 == .ok)
    }

    @Test("authorization: out-of-scope models are 404 like missing ones; missing permissions are 403")
    func authorization() async throws {
        let h = try await Harness()
        let (s1, _, b1) = try await h.request(.post, "/v2/models/digits/infer", key: h.otherTeam, body: Harness.inferBody())
        let (s2, _, b2) = try await h.request(.post, "/v2/models/missing/infer", key: h.inference, body: Harness.inferBody())
        #expect(s1 == .notFound && s2 == .notFound && String(decoding: b1, as: UTF8.self).contains("not found"))
        #expect(!b2.isEmpty)
        #expect(try await h.request(.get, "/admin/keys", key: h.inference).0 == .forbidden)
        #expect(try await h.request(.get, "/admin/keys", key: h.admin).0 == .ok)
        #expect(try await h.request(.get, "/metrics", key: h.inference).0 == .forbidden)
    }

    @Test("rate limit: the burst passes, then 429 with Retry-After and RateLimit headers")
    func rateLimit() async throws {
        let h = try await Harness()
        #expect(try await h.request(.get, "/v2/models/digits", key: h.limited).0 == .ok)
        #expect(try await h.request(.get, "/v2/models/digits", key: h.limited).0 == .ok)
        let (status, headers, _) = try await h.request(.get, "/v2/models/digits", key: h.limited)
        #expect(status == .tooManyRequests && headers[.retryAfter] != nil)
        #expect(headers[HTTPField.Name("RateLimit-Policy")!]?.contains("q=2") == true)
    }

    @Test("invalid inference requests are charged too: malformed bodies, wrong content types and bad shapes spend the key's limit")
    func invalidRequestsAreCharged() async throws {
        let h = try await Harness()
        var statuses: [HTTPResponse.Status] = []
        // The limited key: burst 2, refilling once in 100 s.
        statuses.append(try await h.request(.post, "/v2/models/digits/infer", key: h.limited, body: Array("{".utf8)).0)
        statuses.append(try await h.request(.post, "/v2/models/secret/infer", key: h.limited, body: Harness.inferBody()).0)
        statuses.append(try await h.request(.post, "/v2/models/digits/infer", key: h.limited, body: Harness.inferBody()).0)
        #expect(statuses == [.badRequest, .notFound, .tooManyRequests], "\(statuses)")
        // Wrong content types are charged as well (on a fresh key: burst 2).
        let other = try await h.services.keys.create(name: "l2", role: "inference", models: ["digits"],
                                                     rateLimit: RateLimit(requestsPerSecond: 0.01, burst: 2)).1
        var plain: [HTTPResponse.Status] = []
        for _ in 0..<3 {
            plain.append(try await h.request(.post, "/v2/models/digits/infer", key: other, body: Harness.inferBody(),
                                             headers: [.contentType: "text/plain"]).0)
        }
        #expect(plain == [.unsupportedMediaType, .unsupportedMediaType, .tooManyRequests], "\(plain)")
    }

    @Test("inference limits: a batch costs its size against the model's limit, quotas refuse with their reset time")
    func inferenceLimits() async throws {
        let h = try await Harness(modelLimit: RateLimit(requestsPerSecond: 0.01, burst: 10))
        let policy = HTTPField.Name("RateLimit-Policy")!
        let (first, headers, _) = try await h.request(.post, "/v2/models/digits/infer", key: h.inference, body: Harness.inferBody(batch: 8))
        #expect(first == .ok && headers[policy]?.contains(#""per-model";q=10"#) == true, "\(headers)")
        #expect(headers[HTTPField.Name("RateLimit")!]?.contains("r=2") == true)
        let (refused, refusedHeaders, body) = try await h.request(.post, "/v2/models/digits/infer", key: h.inference,
                                                                  body: Harness.inferBody(batch: 4))
        #expect(refused == .tooManyRequests && refusedHeaders[.retryAfter] != nil)
        #expect(String(decoding: body, as: UTF8.self).contains("per-model"))
        // The refused batch cost its prepaid unit only (every attempt costs one unit): one of the two left remains.
        #expect(try await h.request(.post, "/v2/models/digits/infer", key: h.inference, body: Harness.inferBody(batch: 1)).0 == .ok,
                "the refused batch charged more than its prepaid unit")
        #expect(try await h.request(.post, "/v2/models/digits/infer", key: h.inference, body: Harness.inferBody(batch: 1)).0 == .tooManyRequests)
        // Quotas: a key with one request a day (on a gateway without the model limit).
        let h2 = try await Harness()
        let key2 = try await h2.services.keys.create(name: "q", role: "inference", models: ["digits"], quota: QuotaLimits(dailyRequests: 1)).1
        #expect(try await h2.request(.post, "/v2/models/digits/infer", key: key2, body: Harness.inferBody()).0 == .ok)
        let (exhausted, quotaHeaders, quotaBody) = try await h2.request(.post, "/v2/models/digits/infer", key: key2, body: Harness.inferBody())
        #expect(exhausted == .tooManyRequests && String(decoding: quotaBody, as: UTF8.self).contains("daily-requests"))
        let retry = Int(quotaHeaders[.retryAfter] ?? "") ?? 0
        #expect(retry >= 1 && retry <= 86_400)
        #expect(quotaHeaders[policy] == #""daily-requests";q=1;w=86400"#)
    }

    @Test("validation: bad input 400, large body 413, wrong content type 415; a good one 200 with a valid receipt")
    func validationAndReceipts() async throws {
        let h = try await Harness()
        #expect(try await h.request(.post, "/v2/models/digits/infer", key: h.inference, body: Harness.inferBody(2)).0 == .badRequest)
        #expect(try await h.request(.post, "/v2/models/digits/infer", key: h.inference, body: Harness.inferBody(batch: 9)).0 == .badRequest)
        #expect(try await h.request(.post, "/v2/models/digits/infer", key: h.inference, body: [UInt8](repeating: 32, count: 70_000)).0 == .contentTooLarge)
        #expect(try await h.request(.post, "/v2/models/digits/infer", key: h.inference, body: Harness.inferBody(),
                                    headers: [.contentType: "text/plain"]).0 == .unsupportedMediaType)
        let body = Harness.inferBody()
        let (status, headers, response) = try await h.request(.post, "/v2/models/digits/infer", key: h.inference, body: body)
        #expect(status == .ok)
        let receipt = try Receipt(encoded: try #require(headers[HTTPField.Name("MLSec-Receipt")!]))
        try receipt.verify(with: h.receiptKey.publicKey, request: body, response: response)
    }

    @Test("output validation: a model whose probabilities do not sum to one is a 500, never a wrong answer")
    func outputValidation() async throws {
        // Logits declared as softmax output: the validator must catch it.
        let h = try await Harness(model: try ValidationTests.model())
        let (status, headers, body) = try await h.request(.post, "/v2/models/digits/infer", key: h.inference, body: Harness.inferBody())
        #expect(status == .internalServerError && headers[HTTPField.Name("MLSec-Receipt")!] == nil)
        #expect(String(decoding: body, as: UTF8.self) == #"{"error":"the model produced an invalid output"}"#)
        let metrics = String(decoding: h.services.metrics.exposition(), as: UTF8.self)
        #expect(metrics.contains(#"mlsec_alerts_total{kind="output_validation",model="digits"} 1"#), "the alert counter moved")
    }

    @Test("CORS is off by default; configured origins get preflights and headers, others nothing")
    func cors() async throws {
        let origin = HTTPField.Name("Origin")!
        let allow = HTTPField.Name("Access-Control-Allow-Origin")!
        let off = try await Harness()
        #expect(try await off.request(.get, "/v2/health/live", headers: [origin: "https://app.example"]).1[allow] == nil)
        let on = try await Harness(corsOrigins: ["https://app.example"])
        let preflight = try await on.request(.options, "/v2/models/digits/infer",
                                             headers: [origin: "https://app.example", HTTPField.Name("Access-Control-Request-Method")!: "POST"])
        #expect(preflight.0 == .noContent && preflight.1[allow] == "https://app.example")
        #expect(try await on.request(.get, "/v2/models/digits", key: on.inference, headers: [origin: "https://app.example"]).1[allow] == "https://app.example")
        #expect(try await on.request(.get, "/v2/health/live", headers: [origin: "https://evil.example"]).1[allow] == nil)
    }

    @Test("an audit log that cannot be written refuses the answer with 503 and Retry-After (never an unrecorded answer)")
    func auditUnavailable() async throws {
        let h = try await Harness(auditStore: FailingAuditStore())
        let (status, headers, body) = try await h.request(.post, "/v2/models/digits/infer", key: h.inference, body: Harness.inferBody())
        #expect(status == .serviceUnavailable && headers[.retryAfter] == "1", "\(String(decoding: body, as: UTF8.self))")
        #expect(headers[HTTPField.Name("MLSec-Receipt")!] == nil)
    }

    @Test("every denial is audited fail-closed: when its entry cannot be written the answer is 503, whatever the decision")
    func deniedWithoutAuditLog() async throws {
        let h = try await Harness(auditStore: FailingAuditStore())
        let denials: [(HTTPRequest.Method, String, String?, [UInt8]?, String)] = [
            (.get, "/v2/models/digits", nil, nil, "no key (401)"),
            (.get, "/v2/models/digits", "mlsec_000000000000_" + String(repeating: "A", count: 43), nil, "unknown key (401)"),
            (.get, "/v2/models/secret", h.inference, nil, "out of scope (404)"),
            (.get, "/admin/keys", h.inference, nil, "missing permission (403)"),
            (.post, "/admin/keys", h.admin, Array("{".utf8), "bad request (400)"),
            (.get, "/no/such/route", h.inference, nil, "unknown route (404)"),
            (.post, "/v2/models/digits/infer", h.inference, Array("[]".utf8), "invalid tensor (400)"),
        ]
        for (method, path, key, body, what) in denials {
            let (status, headers, _) = try await h.request(method, path, key: key, body: body)
            #expect(status == .serviceUnavailable && headers[.retryAfter] == "1", "\(what): \(status)")
        }
        // Rate limited (429) on a metadata route, whose allowed reads are not audited.
        var statuses: [HTTPResponse.Status] = []
        for _ in 0..<3 { statuses.append(try await h.request(.get, "/v2/models/digits", key: h.limited).0) }
        #expect(statuses == [.ok, .ok, .serviceUnavailable])
    }

    @Test("manage_keys is bounded by the caller's own powers: role, model scope, listing and revoking (BFLA)")
    func keyManagementWithinOwnPowers() async throws {
        let h = try await Harness()
        func id(_ key: String) -> String { String(key.split(separator: "_")[1]) }
        let teamAdmin = try await h.services.keys.create(name: "team", role: "admin", models: ["digits"]).1
        func create(_ key: String, role: String, models: [String]) async throws -> HTTPResponse.Status {
            let body = JSONWriter.bytes(.object([("name", .string("n")), ("role", .string(role)), ("models", .array(models.map { .string($0) }))]))
            return try await h.request(.post, "/admin/keys", key: key, body: body).0
        }
        // An admin scoped to one model cannot mint keys for other models, or for every model.
        #expect(try await create(teamAdmin, role: "admin", models: ["*"]) == .forbidden)
        #expect(try await create(teamAdmin, role: "inference", models: ["other-x"]) == .forbidden)
        #expect(try await create(teamAdmin, role: "inference", models: ["digits*"]) == .forbidden)
        #expect(try await create(teamAdmin, role: "inference", models: ["digits"]) == .created)
        // It sees and revokes only keys within its scope; others are answered as missing.
        let (_, _, listing) = try await h.request(.get, "/admin/keys", key: teamAdmin)
        let ids = Set((try JSONParser().parse(listing)["keys"]?.arrayValue ?? []).compactMap { $0["id"]?.stringValue })
        #expect(ids.contains(id(h.inference)) && ids.contains(id(teamAdmin)))
        #expect(!ids.contains(id(h.admin)) && !ids.contains(id(h.otherTeam)))
        #expect(try await h.request(.delete, "/admin/keys/\(id(h.otherTeam))", key: teamAdmin).0 == .notFound)
        #expect(try await h.request(.delete, "/admin/keys/\(id(h.admin))", key: teamAdmin).0 == .notFound)
        #expect(try await h.request(.get, "/v2/models/digits", key: h.admin).0 == .ok, "the admin key still works")
        #expect(try await h.request(.delete, "/admin/keys/\(id(h.inference))", key: teamAdmin).0 == .noContent)
        // A custom role that manages keys cannot grant what it does not hold (infer), only its own powers.
        let keymaster = try await h.services.keys.create(name: "km", role: "keymaster", models: ["digits"]).1
        #expect(try await create(keymaster, role: "inference", models: ["digits"]) == .forbidden)
        #expect(try await create(keymaster, role: "admin", models: ["digits"]) == .forbidden)
        #expect(try await create(keymaster, role: "keymaster", models: ["digits"]) == .created)
        // The full admin keeps its powers.
        #expect(try await create(h.admin, role: "admin", models: ["*"]) == .created)
    }

    @Test("audit: decisions are in the log, without the keys")
    func audit() async throws {
        let h = try await Harness()
        _ = try await h.request(.get, "/v2/models/digits")
        _ = try await h.request(.post, "/v2/models/digits/infer", key: h.inference, body: Harness.inferBody())
        let log = h.services.audit.store
        let size = try await log.currentSize()
        #expect(size >= 2)
        var text = ""
        for i in 0..<size { text += String(decoding: try await log.entry(at: i), as: UTF8.self) }
        #expect(text.contains(#""action":"authenticate""#) && text.contains(#""action":"infer""#))
        #expect(!text.contains(h.inference) && !text.contains(h.admin))
        _ = try await log.verify(progress: nil)
    }
}
