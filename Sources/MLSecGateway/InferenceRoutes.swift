// InferenceRoutes: the KServe V2 REST endpoints: health, server and model metadata, readiness, inference.

import Crypto
import Foundation
import Hummingbird
import MLSecAccess
import MLSecAudit
import MLSecCore
import HTTPTypes
import Logging
import MLSecEngine
import MLSecReceipts
import MLSecRobustness
import NIOPosix

/// What a model's detector said about one request.
struct DetectorVerdict: Sendable {
    var count: Int
    var batch: Int
    var maxScore: Double
    var threshold: Double

    init(detector: FeatureSqueezingDetector, model: Model, rows: [Float], batch: Int) throws {
        let result = try detector.check(model, rows: rows, count: batch)
        count = result.flagged.filter { $0 }.count
        self.batch = batch
        maxScore = result.scores.max() ?? 0
        threshold = detector.threshold
    }

    var summary: String { "flagged \(count) of \(batch) rows (highest score \(maxScore), threshold \(threshold))" }
}

struct InferenceRoutes {
    let services: GatewayServices
    static let headerLength = HTTPField.Name("Inference-Header-Content-Length")!
    static let receipt = HTTPField.Name("MLSec-Receipt")!
    static let detectorFlagged = HTTPField.Name("MLSec-Detector-Flagged")!

    func register(on router: Router<GatewayContext>) {
        router.get("/v2/health/live") { _, _ in GatewayResponse.json(.object([("live", .bool(true))])) }
        router.get("/v2/health/ready") { _, _ in GatewayResponse.json(.object([("ready", .bool(true))])) }
        router.get("/v2") { _, context in
            _ = try principal(context)
            return GatewayResponse.json(.object([
                ("name", .string("mlsec")), ("version", .string("0.1.0")),
                ("extensions", .array([.string("binary_tensor_data")])),
            ]))
        }
        router.get("/v2/models/:model") { request, context in try await metadata(request, context, version: nil) }
        router.get("/v2/models/:model/versions/:version") { request, context in
            try await metadata(request, context, version: context.parameters.get("version"))
        }
        router.get("/v2/models/:model/ready") { request, context in try await ready(request, context, version: nil) }
        router.get("/v2/models/:model/versions/:version/ready") { request, context in
            try await ready(request, context, version: context.parameters.get("version"))
        }
        router.post("/v2/models/:model/infer") { request, context in try await infer(request, context, version: nil) }
        router.post("/v2/models/:model/versions/:version/infer") { request, context in
            try await infer(request, context, version: context.parameters.get("version"))
        }
    }

    /// Bodies this large are parsed, and their inference run, on NIO's blocking thread pool.
    static let heavyBodyBytes = 64 << 10

    /// CPU-heavy work runs on NIO's blocking pool, so the cooperative threads that answer health checks and small
    /// requests are never all busy parsing or inferring large bodies; small work stays where it is (no hop).
    static func compute<T: Sendable, E: Error>(_ heavy: Bool, _ work: @escaping @Sendable () throws(E) -> T) async throws -> T {
        guard heavy else { return try work() }
        return try await NIOThreadPool.singleton.runIfActive { try work() }
    }

    func principal(_ context: GatewayContext) throws -> Principal {
        guard let principal = context.principal else { throw GatewayError.unauthenticated }
        return principal
    }

    func deny(_ error: GatewayError, _ principal: Principal, _ action: String, _ resource: String, _ context: GatewayContext,
              model: LoadedModel? = nil) async -> GatewayError {
        await services.audit.refusal(error, AuditEvent(
            actor: principal.id, action: action, resource: resource, decision: error.status.code >= 500 ? .error : .deny,
            reason: error.auditReason, requestID: context.requestID, modelDigest: model?.digest))
    }

    /// The model, if it exists and the caller may see it; otherwise the same 404 either way.
    func model(_ context: GatewayContext, version: String?, permission: Permission, action: String) async throws -> (Principal, LoadedModel) {
        let principal = try principal(context)
        let name = context.parameters.get("model") ?? ""
        let resource = "models/\(name.prefix(100))"
        guard principal.canSee(model: name), let model = services.models[name], version == nil || version == model.version else {
            throw await deny(.notFound("model \(name.prefix(100))"), principal, action, resource, context)
        }
        guard principal.may(permission) else {
            throw await deny(.forbidden("role \(principal.role.name) lacks \(permission.rawValue)"), principal, action, resource, context)
        }
        return (principal, model)
    }

    func metadata(_ request: Request, _ context: GatewayContext, version: String?) async throws -> Response {
        let (_, model) = try await model(context, version: version, permission: .readMetadata, action: "read_metadata")
        return GatewayResponse.json(model.metadata)
    }

    func ready(_ request: Request, _ context: GatewayContext, version: String?) async throws -> Response {
        let (_, model) = try await model(context, version: version, permission: .readMetadata, action: "read_metadata")
        return GatewayResponse.json(.object([("name", .string(model.name)), ("ready", .bool(true))]))
    }

    func infer(_ request: Request, _ context: GatewayContext, version: String?) async throws -> Response {
        // One unit of the caller's rate limits before anything else: every authenticated attempt is paid for,
        // whatever is wrong with it. The model's shared limits are charged only for a model the caller may see
        // (a caller must not spend other tenants' limits by naming their models).
        let caller = try principal(context)
        let name = context.parameters.get("model") ?? ""
        let visible = caller.canSee(model: name) && services.models[name] != nil
        let modelLimit = visible ? services.models.source(named: name)?.rateLimit : nil
        let prepaid: HTTPFields
        do {
            prepaid = try await services.admission.precharge(caller, model: name, modelLimit: modelLimit, modelScoped: visible)
        } catch {
            throw await deny(error, caller, "infer", "models/\(name.prefix(100))", context)
        }
        let (principal, model) = try await model(context, version: version, permission: .infer, action: "infer")
        let resource = "models/\(model.name)/versions/\(model.version)"
        if let type = request.headers[.contentType]?.lowercased(),
            !(type.hasPrefix("application/json") || type.hasPrefix("application/octet-stream")) {
            throw await deny(GatewayError(.unsupportedMediaType, "content type must be application/json or application/octet-stream"),
                             principal, "infer", resource, context, model: model)
        }
        // The body is read (and size-checked) before any slot is taken, so a slow sender holds no slot.
        var request = request
        let buffer: ByteBuffer
        do {
            buffer = try await request.collectBody(upTo: services.options.maxBodyBytes)
        } catch {
            throw await deny(GatewayError(.contentTooLarge, "the request body is over \(services.options.maxBodyBytes) bytes"),
                             principal, "infer", resource, context, model: model)
        }
        // Then availability: the key's concurrency, then a gateway slot (or 503).
        let ticket: AdmissionTicket
        do {
            ticket = try await services.admission.enter(principal)
        } catch {
            throw await deny(error, principal, "infer", resource, context, model: model)
        }
        defer { services.admission.leave(ticket) }
        let body = Array(buffer.readableBytesView)
        var headerLength: Int?
        if let text = request.headers[Self.headerLength] {
            guard let n = Int(text) else {
                throw await deny(.badRequest("Inference-Header-Content-Length is not a number"), principal, "infer", resource, context, model: model)
            }
            headerLength = n
        }
        let parsed: InferenceRequest
        let heavy = body.count >= Self.heavyBodyBytes
        do {
            let maxBatch = services.options.maxBatch
            parsed = try await Self.compute(heavy) { [headerLength] () throws(GatewayError) in
                try InferenceCodec.parse(body, headerLength: headerLength, model: model, maxBatch: maxBatch)
            }
        } catch {
            let refusal = error as? GatewayError ?? GatewayError(.serviceUnavailable, "the server is shutting down; retry later")
            throw await deny(refusal, principal, "infer", resource, context, model: model)
        }
        let rateHeaders: HTTPFields
        do {
            rateHeaders = try await services.admission.charge(
                principal, model: model.name, modelLimit: modelLimit, batch: parsed.batch, elements: parsed.values.count, prepaid: prepaid)
        } catch {
            throw await deny(error, principal, "infer", resource, context, model: model)
        }
        guard !services.admission.expired(ticket) else {
            throw await deny(GatewayError(.serviceUnavailable, "the request passed its deadline; retry later", headers: [.retryAfter: "1"],
                                          auditReason: "deadline passed before inference"), principal, "infer", resource, context, model: model)
        }
        let ood = try await monitorBeforeInference(principal, model, parsed, resource: resource, context: context)
        var output: [Float]
        var flagged: DetectorVerdict?
        do {
            if let pool = model.upstream, let upstreamModel = model.upstreamModel {
                let answer = try await pool.post(path: "/v2/models/\(upstreamModel)/infer",
                                                 body: InferenceCodec.upstreamRequest(parsed.values, batch: parsed.batch, model: model))
                output = try InferenceCodec.upstreamOutput(answer.body, batch: parsed.batch, model: model)
            } else if let engine = model.engine {
                let detector = model.detector
                (output, flagged) = try await Self.compute(heavy) {
                    let output = try engine.forward(try engine.inputTensor(rows: parsed.values, count: parsed.batch)).data
                    return (output, try detector.map { try DetectorVerdict(detector: $0, model: engine, rows: parsed.values, batch: parsed.batch) })
                }
            } else {
                throw GatewayError(.internalServerError, "the model has no backend", auditReason: "model without engine or upstream")
            }
            try InferenceCodec.validateOutput(output, batch: parsed.batch, model: model)
        } catch {
            // Never a silently wrong answer: a 500, an audit entry, a critical log line and an alert counter.
            let failure = error as? GatewayError
                ?? GatewayError(.internalServerError, "inference failed", auditReason: "inference failed: \(readable(error))")
            // Unavailable upstreams (503) are an availability event counted as rejections, not a wrong answer.
            if failure.status != .serviceUnavailable {
                let kind = failure.auditReason.hasPrefix("output validation") ? "output_validation"
                    : failure.status == .badGateway ? "upstream_failed" : "inference_failed"
                services.metrics.alert(kind: kind, model: model.name)
                context.logger.critical("ALERT model answer withheld", metadata: [
                    "model": "\(model.name)", "version": "\(model.version)", "reason": "\(failure.auditReason.prefix(200))",
                    "request_id": "\(context.requestID)",
                ])
            }
            throw await deny(failure, principal, "infer", resource, context, model: model)
        }
        if let flagged, flagged.count > 0 {
            services.metrics.detectorFlagged(model: model.name, action: model.detectorPolicy?.action.rawValue ?? "flag", rows: flagged.count)
            if model.detectorPolicy?.action == .refuse {
                throw await deny(GatewayError(.unprocessableContent, "the input was flagged by the model's adversarial-input detector",
                                              auditReason: "detector: \(flagged.summary)"), principal, "infer", resource, context, model: model)
            }
        }
        await monitorAfterInference(principal, model, parsed, output: output, context: context)
        limitOutput(&output, principal, model, batch: parsed.batch)
        let (responseBody, responseHeaderLength) = InferenceCodec.encode(output, batch: parsed.batch, request: parsed, model: model)
        let receipt = try services.signers.receipts.issue(model: model.name, version: model.version, digest: model.digest,
                                                          request: body, response: responseBody)
        let encoded = receipt.encoded
        try await services.audit.record(AuditEvent(
            actor: principal.id, action: "infer", resource: resource, decision: .allow,
            reason: "batch \(parsed.batch)" + (flagged.map { $0.count > 0 ? "; detector: \($0.summary)" : "" } ?? "")
                + (ood.map { $0.flagged > 0 ? "; monitor: \($0.summary)" : "" } ?? ""),
            requestID: context.requestID, requestDigest: receipt.fields["request_sha256"].map { "sha256:" + $0 },
            modelDigest: model.digest, receiptDigest: "sha256:" + Hex.encode(SHA256.hash(data: Array(encoded.utf8)))))
        services.metrics.inference(model: model.name, batch: parsed.batch)
        var headers = rateHeaders
        headers[Self.receipt] = encoded
        if let flagged { headers[Self.detectorFlagged] = String(flagged.count) }
        if let ood { headers[Self.oodFlagged] = String(ood.flagged) }
        if let responseHeaderLength {
            headers[Self.headerLength] = String(responseHeaderLength)
            return GatewayResponse.bytes(responseBody, contentType: "application/octet-stream", headers: headers)
        }
        return GatewayResponse.bytes(responseBody, contentType: "application/json", headers: headers)
    }
}
