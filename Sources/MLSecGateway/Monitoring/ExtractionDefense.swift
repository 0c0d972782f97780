// ExtractionDefense: model confidentiality through the API, per role: answers cut to the top-k classes (or
// their labels only) and rounded, and a budget of distinct inputs per key, model and window, charged on the
// availability limiter's GCRA state.

import Foundation
import HTTPTypes
import MLSecAccess
import MLSecCore
import Synchronization

/// `extraction_defense.<role>` in the configuration.
///
/// ```json
/// "extraction_defense": {"partner": {"top_k": 3, "decimals": 2,
///                                    "budget": {"distinct_inputs": 1000, "window_seconds": 3600}}}
/// ```
public struct ExtractionPolicy: Sendable, Equatable {
    /// Keep only the k highest values of each output row; the others become 0.
    public var topK: Int?
    /// Round the kept values to this many decimals.
    public var decimals: Int?
    /// The kept classes are answered as 1 (labels without scores; top_k defaults to 1).
    public var labelsOnly = false
    /// Distinct inputs (by a keyed hash of their values) a key may send one model per window.
    public var budget: ExtractionBudget?

    public init() {}

    public init(json: JSONValue, context: String) throws {
        try GatewayConfiguration.check(json, allowed: ["top_k", "decimals", "labels_only", "budget"], context)
        if let value = json["top_k"] {
            guard let k = value.integerValue, (1...100_000).contains(k) else { throw MLSecError.malformed("\(context).top_k must be an integer in 1...100000") }
            topK = k
        }
        if let value = json["decimals"] {
            guard let n = value.integerValue, (0...7).contains(n) else { throw MLSecError.malformed("\(context).decimals must be an integer in 0...7") }
            decimals = n
        }
        if let value = json["labels_only"] {
            guard let flag = value.boolValue else { throw MLSecError.malformed("\(context).labels_only must be true or false") }
            labelsOnly = flag
        }
        if let value = json["budget"] {
            try GatewayConfiguration.check(value, allowed: ["distinct_inputs", "window_seconds"], "\(context).budget")
            guard let n = value["distinct_inputs"]?.integerValue, (1...10_000_000).contains(n),
                  let w = value["window_seconds"]?.integerValue, (1...31_536_000).contains(w)
            else {
                throw MLSecError.malformed("\(context).budget needs distinct_inputs in 1...10000000 and window_seconds in 1...31536000")
            }
            budget = ExtractionBudget(distinctInputs: n, windowSeconds: w)
        }
    }

    /// Whether answers are changed at all.
    var limitsOutput: Bool { topK != nil || decimals != nil || labelsOnly }

    /// Cuts each of `batch` rows of `width` values to the policy.
    public func limit(_ values: inout [Float], batch: Int, width: Int) {
        guard limitsOutput, width > 0, values.count == batch * width else { return }
        let k = min(topK ?? (labelsOnly ? 1 : width), width)
        let scale = decimals.map { pow(10, Float($0)) }
        var order = [Int](repeating: 0, count: width)
        for r in 0..<batch {
            let base = r * width
            if k < width {
                for j in 0..<width { order[j] = j }
                // Highest first; ties by index, so the answer does not depend on the sort's stability.
                order.sort { values[base + $0] != values[base + $1] ? values[base + $0] > values[base + $1] : $0 < $1 }
                for j in order[k...] { values[base + j] = 0 }
                if labelsOnly { for j in order[..<k] { values[base + j] = 1 } }
            } else if labelsOnly {
                for j in 0..<width { values[base + j] = 1 }
            }
            if let scale, !labelsOnly {
                for j in 0..<width { values[base + j] = (values[base + j] * scale).rounded() / scale }
            }
        }
    }
}

/// A budget of distinct inputs: a GCRA limit of `distinctInputs` at once, refilling over `windowSeconds`.
public struct ExtractionBudget: Sendable, Equatable {
    public var distinctInputs: Int
    public var windowSeconds: Int

    var rateLimit: RateLimit { RateLimit(requestsPerSecond: Double(distinctInputs) / Double(windowSeconds), burst: distinctInputs) }
}

/// Which inputs each (key, model) sent recently, so that only new ones are charged. Memory is bounded: the
/// last ``remembered`` distinct inputs per pair, ``maxPairs`` pairs (the least recently used forgotten first).
public final class ExtractionBudgets: Sendable {
    public static let remembered = 1024
    public static let maxPairs = 8192
    private struct Seen {
        var ring: [UInt64] = []
        var set: Set<UInt64> = []
        var next = 0
        var lastUsed: UInt64 = 0
    }
    private struct State {
        var pairs: [String: Seen] = [:]
        var tick: UInt64 = 0
    }
    private let state = Mutex(State())

    public init() {}

    /// A keyed hash of each row's values (Swift's per-process random SipHash key: collisions cannot be chosen).
    public static func hashes(_ rows: [Float], count: Int) -> [UInt64] {
        guard count > 0 else { return [] }
        let width = rows.count / count
        return rows.withUnsafeBytes { raw in
            (0..<count).map { r in
                var hasher = Hasher()
                hasher.combine(bytes: UnsafeRawBufferPointer(rebasing: raw[(r * width * 4)..<((r + 1) * width * 4)]))
                return UInt64(bitPattern: Int64(hasher.finalize()))
            }
        }
    }

    /// The distinct hashes among `hashes` that the pair has not sent recently.
    func unseen(_ pair: String, _ hashes: [UInt64]) -> [UInt64] {
        let known = state.withLock { $0.pairs[pair]?.set ?? [] }
        var fresh: [UInt64] = []
        var inRequest = Set<UInt64>()
        for h in hashes where !known.contains(h) && inRequest.insert(h).inserted { fresh.append(h) }
        return fresh
    }

    /// Remembers hashes the pair was charged for.
    func remember(_ pair: String, _ hashes: [UInt64]) {
        state.withLock { state in
            state.tick += 1
            if state.pairs[pair] == nil, state.pairs.count >= Self.maxPairs {
                let kept = state.pairs.sorted { $0.value.lastUsed > $1.value.lastUsed }.prefix(Self.maxPairs * 3 / 4)
                state.pairs = Dictionary(uniqueKeysWithValues: kept.map { ($0.key, $0.value) })
            }
            var seen = state.pairs[pair] ?? Seen()
            seen.lastUsed = state.tick
            for h in hashes where !seen.set.contains(h) {
                if seen.ring.count < Self.remembered {
                    seen.ring.append(h)
                } else {
                    seen.set.remove(seen.ring[seen.next])
                    seen.ring[seen.next] = h
                    seen.next = (seen.next + 1) % Self.remembered
                }
                seen.set.insert(h)
            }
            state.pairs[pair] = seen
        }
    }

    /// Charges the request's new distinct inputs (each costing 1/`factor`) to the key's budget for `model`
    /// on `limiter`, all or nothing.
    /// - Throws: 429 with `Retry-After` when the budget is spent; 503 when the limiter's state is unreachable.
    public func charge(_ principal: Principal, model: String, rows: [Float], count: Int, budget: ExtractionBudget, factor: Double?,
                       limiter: any RateLimitBackend) async throws(GatewayError) {
        try await charge(principal, model: model, hashes: Self.hashes(rows, count: count), budget: budget, factor: factor, limiter: limiter)
    }

    /// The same, for rows already hashed by ``hashes(_:count:)``.
    public func charge(_ principal: Principal, model: String, hashes: [UInt64], budget: ExtractionBudget, factor: Double?,
                       limiter: any RateLimitBackend) async throws(GatewayError) {
        let pair = principal.id + "\u{1}" + model
        let fresh = unseen(pair, hashes)
        guard !fresh.isEmpty else { return }
        let cost = Double(fresh.count) / (factor ?? 1)
        let decisions: [RateLimiter.Decision]
        do {
            decisions = try await limiter.decide([RateLimiter.Item(key: "xb\u{1}" + pair, limit: budget.rateLimit, cost: cost)])
        } catch {
            throw GatewayError(.serviceUnavailable, "rate-limit state is unavailable; retry later", headers: [.retryAfter: "1"],
                               auditReason: "extraction budget backend: \(readable(error, limit: 160))")
        }
        guard let decision = decisions.first, !decision.allowed else {
            remember(pair, fresh)
            return
        }
        let retry = max(1, Int(decision.retryAfter.rounded(.up)))
        let cut = factor.map { " (cut to \(($0 * 1000).rounded() / 1000) of it after a query-pattern alert)" } ?? ""
        let alone = cost > Double(budget.distinctInputs) ? "; this request alone has more new inputs than the budget" : ""
        var headers: HTTPFields = [.retryAfter: String(retry)]
        headers[InferenceAdmission.policyField] = "\"extraction\";q=\(budget.distinctInputs);w=\(budget.windowSeconds)"
        throw GatewayError(
            .tooManyRequests,
            "extraction budget exhausted: this key may send \(budget.distinctInputs) distinct inputs per \(budget.windowSeconds) s to model "
                + "\(model)\(cut)\(alone); retry in \(retry) s",
            headers: headers, auditReason: "extraction budget: \(fresh.count) new distinct inputs over \(budget.distinctInputs) per "
                + "\(budget.windowSeconds) s\(cut)")
    }
}
