// InferenceAdmission: every availability control an inference passes, in order, with its 429 or 503.

import Foundation
import HTTPTypes
import MLSecAccess
import MLSecCore

/// The availability limits from the configuration (`limits`), with strict defaults.
public struct AvailabilityLimits: Sendable, Equatable {
    /// What one inference costs in the GCRA limits: 1 per request, its batch size, or its input elements.
    public enum Cost: String, Sendable, CaseIterable { case request, batch, elements }

    public var cost = Cost.batch
    /// A GCRA limit for every (key, model) pair, besides the key's own and the model's.
    public var perKeyModel: RateLimit?
    /// Requests one key may have in flight (inference).
    public var maxConcurrentPerKey = 16
    /// Inferences running at once, gateway-wide.
    public var maxInFlight = 64
    /// Inferences waiting for a slot; beyond this the gateway sheds with 503.
    public var maxQueued = 256
    /// How long an inference may wait for a slot.
    public var queueTimeout = Duration.milliseconds(1000)
    /// The deadline of an inference from the moment it is admitted to the moment the model runs.
    public var requestTimeout = Duration.seconds(30)

    public init() {}
}

/// A request's place in the gateway: released exactly once when the request ends.
public struct AdmissionTicket: Sendable {
    let key: String
    let admitted: ContinuousClock.Instant
}

/// Concurrency per key → gateway-wide slots (bounded queue, deadline) → after parsing, GCRA per key, per model
/// and per key+model with the request's cost → calendar quotas. Every refusal is a `GatewayError`: 429 with
/// `Retry-After` and the IETF `RateLimit`/`RateLimit-Policy` fields for limits and quotas, 503 with
/// `Retry-After` for shedding.
public final class InferenceAdmission: Sendable {
    public let limiter: any RateLimitBackend
    public let quotas: QuotaTracker
    public let concurrency = ConcurrencyLimiter()
    public let shedder: LoadShedder
    public let limits: AvailabilityLimits

    public init(limits: AvailabilityLimits, limiter: any RateLimitBackend, quotas: QuotaTracker) {
        self.limits = limits
        self.limiter = limiter
        self.quotas = quotas
        self.shedder = LoadShedder(maxInFlight: limits.maxInFlight, maxQueued: limits.maxQueued)
    }

    static let policyField = HTTPField.Name("RateLimit-Policy")!
    static let stateField = HTTPField.Name("RateLimit")!

    /// Before the body is read: the key's concurrency, then a gateway slot.
    public func enter(_ principal: Principal) async throws(GatewayError) -> AdmissionTicket {
        let limit = principal.maxConcurrent ?? limits.maxConcurrentPerKey
        guard concurrency.acquire(key: principal.id, limit: limit) else {
            var headers: HTTPFields = [.retryAfter: "1"]
            headers[Self.policyField] = "\"concurrency\";q=\(limit)"
            throw GatewayError(.tooManyRequests, "too many concurrent requests for this key (\(limit)); retry later",
                               headers: headers, auditReason: "concurrency limit \(limit)")
        }
        do {
            try await shedder.acquire(deadline: limits.queueTimeout)
        } catch {
            concurrency.release(key: principal.id)
            let reason = (error as? LoadShedder.Shed) == .deadline ? "queue deadline" : "queue full"
            throw GatewayError(.serviceUnavailable, "the gateway is overloaded; retry later", headers: [.retryAfter: "1"],
                               auditReason: "load shed: \(reason)")
        }
        return AdmissionTicket(key: principal.id, admitted: .now)
    }

    /// When the request ends, whatever happened.
    public func leave(_ ticket: AdmissionTicket) {
        shedder.release()
        concurrency.release(key: ticket.key)
    }

    /// Whether the ticket's deadline passed (checked before the model runs).
    public func expired(_ ticket: AdmissionTicket) -> Bool { ContinuousClock.now - ticket.admitted > limits.requestTimeout }

    /// Before the body is read or parsed: one unit of every GCRA limit, so that a key's limit bounds all the work
    /// its requests can cause, malformed or not. Returns the rate-limit fields for the response.
    /// - Parameter modelScoped: whether the caller may use `model` (then the model's and the key+model limits are
    ///   charged too; otherwise only the caller's own).
    public func precharge(_ principal: Principal, model: String, modelLimit: RateLimit?, modelScoped: Bool = true)
        async throws(GatewayError) -> HTTPFields {
        try await gcra(principal, model: model, modelLimit: modelScoped ? modelLimit : nil, cost: Self.prepaidUnits,
                       fullCost: Self.prepaidUnits, perKeyModel: modelScoped)
    }

    /// What ``precharge(_:model:modelLimit:)`` takes.
    static let prepaidUnits: Double = 1

    /// After parsing, when the cost is known: the rest of the request's cost (beyond the prepaid unit) on every
    /// GCRA limit, then the quotas. Returns the rate-limit fields for the response (`prepaid`: those of the
    /// precharge, used when nothing more is charged).
    public func charge(_ principal: Principal, model: String, modelLimit: RateLimit?, batch: Int, elements: Int,
                       prepaid: HTTPFields) async throws(GatewayError) -> HTTPFields {
        let cost: Double = switch limits.cost {
        case .request: 1
        case .batch: Double(batch)
        case .elements: Double(elements)
        }
        var headers = prepaid
        if cost > Self.prepaidUnits {
            headers = try await gcra(principal, model: model, modelLimit: modelLimit, cost: cost - Self.prepaidUnits, fullCost: cost)
        }
        try await admitQuota(principal, elements: elements, headers: &headers)
        return headers
    }

    /// Charges `cost` units on every GCRA limit of the request, all or nothing (`fullCost`: the request's whole
    /// cost, for the message when it alone is over a burst).
    private func gcra(_ principal: Principal, model: String, modelLimit: RateLimit?, cost: Double, fullCost: Double,
                      perKeyModel: Bool = true) async throws(GatewayError) -> HTTPFields {
        var items: [(name: String, item: RateLimiter.Item)] = []
        if let limit = principal.rateLimit { items.append(("per-key", .init(key: principal.id, limit: limit, cost: cost))) }
        if let limit = modelLimit { items.append(("per-model", .init(key: "m\u{1}" + model, limit: limit, cost: cost, shared: true))) }
        if perKeyModel, let limit = limits.perKeyModel {
            items.append(("per-key-model", .init(key: "km\u{1}" + principal.id + "\u{1}" + model, limit: limit, cost: cost)))
        }
        var headers: HTTPFields = [:]
        if !items.isEmpty {
            let decisions: [RateLimiter.Decision]
            do {
                decisions = try await limiter.decide(items.map(\.item))
            } catch {
                // Fail closed: without the shared state no limit can be enforced, so nothing is admitted.
                throw GatewayError(.serviceUnavailable, "rate-limit state is unavailable; retry later", headers: [.retryAfter: "1"],
                                   auditReason: "rate-limit backend: \(readable(error, limit: 160))")
            }
            headers[Self.policyField] = items.map { name, item in
                "\"\(name)\";q=\(item.limit.burst);w=\(max(1, RateLimitMiddleware.seconds(Double(item.limit.burst) / item.limit.requestsPerSecond)))"
            }.joined(separator: ", ")
            if let refused = decisions.indices.first(where: { !decisions[$0].allowed }) {
                let decision = decisions[refused]
                headers[Self.stateField] = "\"\(items[refused].name)\";r=0;t=\(RateLimitMiddleware.seconds(decision.resetSeconds))"
                headers[.retryAfter] = String(max(1, RateLimitMiddleware.seconds(decision.retryAfter)))
                let costNote = fullCost > Double(items[refused].item.limit.burst) ? " (this request costs \(Int(fullCost)), more than the burst)" : ""
                throw GatewayError(.tooManyRequests, "rate limit exceeded (\(items[refused].name))\(costNote); retry later",
                                   headers: headers, auditReason: "rate limited \(items[refused].name) cost \(Int(fullCost))")
            }
            if let tightest = decisions.indices.min(by: { decisions[$0].remaining < decisions[$1].remaining }) {
                headers[Self.stateField] =
                    "\"\(items[tightest].name)\";r=\(decisions[tightest].remaining);t=\(RateLimitMiddleware.seconds(decisions[tightest].resetSeconds))"
            }
        }
        return headers
    }

    private func admitQuota(_ principal: Principal, elements: Int, headers: inout HTTPFields) async throws(GatewayError) {
        if let quota = principal.quota {
            do {
                try await quotas.admit(key: principal.id, limits: quota, elements: elements)
            } catch let unavailable as QuotaTracker.Unavailable {
                throw GatewayError(.serviceUnavailable, "quota state is unavailable; retry later", headers: [.retryAfter: "1"],
                                   auditReason: "quota store: \(unavailable.detail)")
            } catch let error as QuotaTracker.Exhausted {
                headers[Self.policyField] = "\"\(error.policy)\";q=\(error.quota);w=\(error.windowSeconds)"
                headers[Self.stateField] = "\"\(error.policy)\";r=0;t=\(error.retryAfter)"
                headers[.retryAfter] = String(error.retryAfter)
                throw GatewayError(.tooManyRequests, "quota exhausted (\(error.policy), \(error.quota)); it resets in \(error.retryAfter) s",
                                   headers: headers, auditReason: "quota \(error.policy) \(error.quota)")
            } catch {
                throw GatewayError(.serviceUnavailable, "quota state is unavailable; retry later", headers: [.retryAfter: "1"],
                                   auditReason: "quota: \(readable(error, limit: 160))")
            }
        }
    }
}
