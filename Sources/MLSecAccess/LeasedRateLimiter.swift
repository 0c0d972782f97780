// LeasedRateLimiter: the shared limiter with local allowances, so busy keys do not pay a round trip each.

import Foundation
import MLSecCore
import Synchronization

/// Wraps the shared (PostgreSQL) limiter with a local-allowance scheme: when a key's limit is high (at least
/// 100 requests per second), a replica reserves a small chunk of extra units in the same round trip as a
/// decision (at most 1/8 of the burst, 10 ms of the rate, 256 units) and admits from it locally for up to
/// `lease`. Units are reserved in the database before they are used, so replicas together never admit more
/// than the limit; the error is only on the safe side: each replica may hold up to four chunks per key unused
/// until its lease ends (under-admission of at most replicas x 4 chunks per lease). Keys below 100/s are decided
/// in the database on every request, exactly. A caller's own key refused by the database stays refused locally
/// until its retry time (as Envoy's over-limit cache), so a client hammering a spent limit costs no round trips;
/// refusals of shared keys (a model's limit) are never cached, and a request costing more than a burst is
/// refused alone, so one caller cannot lock the others out.
/// One refill per set of keys is in flight at a time: requests that find the allowance spent while a refill
/// is under way wait for it and take their units from what it reserved (after a few such waits, a request
/// makes an exact round trip of its own), instead of each queueing a round trip on the same rows: a convoy
/// that grows with the concurrency and strands reserved units.
public final class LeasedRateLimiter: RateLimitBackend {
    public let shared: any RateLimitBackend
    let lease: Double
    private let clock: @Sendable () -> Double
    private struct Allowance {
        var units: Double
        var expires: Double
    }
    private let allowances = Mutex<[String: Allowance]>([:])
    /// Keys refused by the shared state, until when (their retry time).
    /// Keys the shared state refused: until when, for requests costing at least how much (a smaller request may
    /// be admitted sooner, so it still asks).
    private let blocked = Mutex<[String: (until: Double, cost: Double)]>([:])
    /// Refills under way, by their items' keys, with the requests waiting for each.
    private let refills = Mutex<[String: [CheckedContinuation<Bool, Never>]]>([:])

    public init(shared: any RateLimitBackend, lease: Duration = .milliseconds(250),
                clock: @escaping @Sendable () -> Double = { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }) {
        self.shared = shared
        self.lease = Double(lease.components.seconds) + Double(lease.components.attoseconds) / 1e18
        self.clock = clock
    }

    public func maintain() async throws { try await shared.maintain() }

    /// Extra units reserved per round trip for `limit` (0: exact, every request goes to the database).
    static func chunk(_ limit: RateLimit) -> Double {
        (min(256, Double(limit.burst) / 8, limit.requestsPerSecond * 0.01)).rounded(.down)
    }

    public func decide(_ items: [RateLimiter.Item]) async throws -> [RateLimiter.Decision] {
        // A request that costs more than a burst can never be admitted: it is refused on its own, without a
        // round trip and without a refusal that others would inherit.
        if items.contains(where: { $0.cost > Double(max($0.limit.burst, 1)) }) {
            return items.map { item in
                item.cost > Double(max(item.limit.burst, 1))
                    ? RateLimiter.Decision(allowed: false, remaining: 0, resetSeconds: 0, retryAfter: 0)
                    : RateLimiter.Decision(allowed: true, remaining: 0, resetSeconds: 0, retryAfter: 0)
            }
        }
        let extras = items.map { Self.chunk($0.limit) }
        let flight = items.map(\.key).joined(separator: "\u{0}")
        // A request waits for at most a few refills led by others before it makes a round trip of its own.
        for _ in 0..<4 {
            let now = clock()
            // 0. A key refused moments ago is refused again without a round trip.
            if let refused = refusedLocally(items, now: now) { return refused }
            // 1. Every item covered by a live local allowance: admit locally.
            if let local = takeLocally(items, now: now) { return local }
            // Exact keys (no allowance): every decision in the database.
            guard extras.contains(where: { $0 > 0 }) else { return try await refill(items, extras: extras, now: now) }
            // 2. Join the refill of these keys that is under way (then look again), or lead one.
            let joined = await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
                let joined = refills.withLock { refills -> Bool in
                    guard refills[flight] != nil else {
                        refills[flight] = []
                        return false
                    }
                    refills[flight, default: []].append(continuation)
                    return true
                }
                if !joined { continuation.resume(returning: false) }
            }
            if joined { continue }
            defer { finishRefill(flight) }
            return try await refill(items, extras: extras, now: now)
        }
        // Still short after waiting: an exact decision of its own (reserving nothing more, so that many such
        // requests at once do not strand units in allowances over the cap).
        return try await refill(items, extras: extras.map { _ in 0 }, now: clock())
    }

    /// Refusals for keys the shared state refused until a time still ahead, or nil when none is blocked.
    private func refusedLocally(_ items: [RateLimiter.Item], now: Double) -> [RateLimiter.Decision]? {
        let refusals = blocked.withLock { blocked in
            items.map { item in blocked[item.key].flatMap { $0.until > now && item.cost >= $0.cost ? $0.until - now : nil } }
        }
        guard refusals.contains(where: { $0 != nil }) else { return nil }
        return refusals.map { wait in
            wait.map { RateLimiter.Decision(allowed: false, remaining: 0, resetSeconds: $0, retryAfter: $0) }
                ?? RateLimiter.Decision(allowed: true, remaining: 0, resetSeconds: 0, retryAfter: 0)
        }
    }

    /// Takes every item's cost from live local allowances, or nothing when one falls short.
    private func takeLocally(_ items: [RateLimiter.Item], now: Double) -> [RateLimiter.Decision]? {
        allowances.withLock { allowances -> [RateLimiter.Decision]? in
            for item in items {
                guard let a = allowances[item.key], a.expires > now, a.units >= item.cost else { return nil }
            }
            return items.map { item in
                allowances[item.key]?.units -= item.cost
                let left = allowances[item.key]?.units ?? 0
                return RateLimiter.Decision(allowed: true, remaining: Int(left), resetSeconds: 0, retryAfter: 0)
            }
        }
    }

    /// Ends the refill this request led and wakes the requests that waited for it.
    private func finishRefill(_ flight: String) {
        let waiters = refills.withLock { $0.removeValue(forKey: flight) } ?? []
        for waiter in waiters { waiter.resume(returning: true) }
    }

    /// A round trip, reserving a chunk more where the limit is high; near the limit, retry exactly.
    private func refill(_ items: [RateLimiter.Item], extras: [Double], now: Double) async throws -> [RateLimiter.Decision] {
        var reserving = items
        for i in reserving.indices { reserving[i].cost += extras[i] }
        var decisions = try await shared.decide(reserving)
        var reserved = extras
        if !decisions.allSatisfy(\.allowed), extras.contains(where: { $0 > 0 }) {
            decisions = try await shared.decide(items)
            reserved = extras.map { _ in 0 }
        }
        guard decisions.allSatisfy(\.allowed) else {
            blocked.withLock { blocked in
                // Only a caller's own keys: a shared key (a model's limit) refused for this request may admit
                // another caller's smaller one.
                for (item, decision) in zip(items, decisions) where !decision.allowed && decision.retryAfter > 0 && !item.shared {
                    blocked[item.key] = (now + decision.retryAfter, item.cost)
                }
                if blocked.count > 10_000 { blocked = blocked.filter { $0.value.until > now } }
            }
            return decisions
        }
        allowances.withLock { allowances in
            for (item, extra) in zip(items, reserved) where extra > 0 {
                // Concurrent refills add up (capped at four chunks; the excess is given up: the safe side).
                let live = allowances[item.key].flatMap { $0.expires > now ? $0.units : nil } ?? 0
                allowances[item.key] = Allowance(units: min(live + extra, 4 * extra), expires: now + lease)
            }
            if allowances.count > 10_000 { allowances = allowances.filter { $0.value.expires > now } }
        }
        return decisions
    }
}
