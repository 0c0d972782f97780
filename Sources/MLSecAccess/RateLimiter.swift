// RateLimiter: GCRA (generic cell rate algorithm) per key, with the IETF RateLimit header values.

import Foundation
import Synchronization

/// A rate: `requestsPerSecond` sustained, `burst` at once.
public struct RateLimit: Sendable, Equatable {
    public var requestsPerSecond: Double
    public var burst: Int

    public init(requestsPerSecond: Double, burst: Int) {
        self.requestsPerSecond = requestsPerSecond
        self.burst = burst
    }
}

/// GCRA: each key has a theoretical arrival time (TAT). A request of cost c is admitted when
/// TAT + c·T - now <= burst·T (T = 1 / rate); then TAT advances by c·T. Memory is one Double per key.
public final class RateLimiter: Sendable {
    public struct Decision: Sendable {
        public var allowed: Bool
        /// Requests still admissible right now.
        public var remaining: Int
        /// Seconds until the bucket is full again.
        public var resetSeconds: Double
        /// Seconds to wait before a retry can succeed (0 when allowed).
        public var retryAfter: Double

        public init(allowed: Bool, remaining: Int, resetSeconds: Double, retryAfter: Double) {
            self.allowed = allowed
            self.remaining = remaining
            self.resetSeconds = resetSeconds
            self.retryAfter = retryAfter
        }
    }

    /// One limit to check: the key it counts under, the rate, the cost of this request.
    public struct Item: Sendable {
        public var key: String
        public var limit: RateLimit
        public var cost: Double
        /// Whether several callers count under this key (a model's limit): a refusal of one caller's request
        /// must then say nothing about the others' (it is never cached for the key).
        public var shared: Bool
        public init(key: String, limit: RateLimit, cost: Double = 1, shared: Bool = false) {
            self.key = key
            self.limit = limit
            self.cost = cost
            self.shared = shared
        }
    }

    private struct State {
        var tats: [String: Double] = [:]
        var insertsSinceSweep = 0
    }
    private let state = Mutex(State())
    private let clock: @Sendable () -> Double
    /// Keys are swept (entries whose bucket is full again are dropped) every this many new keys, so memory
    /// stays proportional to the keys active within their refill time, whatever the key cardinality.
    public static let sweepEvery = 4096

    /// `clock` returns seconds (monotonic); injectable for tests.
    public init(clock: @escaping @Sendable () -> Double = { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }) {
        self.clock = clock
    }

    public func check(key: String, limit: RateLimit, cost: Double = 1) -> Decision {
        check([Item(key: key, limit: limit, cost: cost)])[0]
    }

    /// Checks several limits for one request at once (per key, per model, per key and model): the request is
    /// admitted only if every limit admits it, and then charged to all of them; a refusal charges none.
    /// Decisions come back in the order of `items`.
    public func check(_ items: [Item]) -> [Decision] {
        let now = clock()
        return state.withLock { state in
            var decisions: [Decision] = []
            var newTats: [Double] = []
            decisions.reserveCapacity(items.count)
            for item in items {
                let interval = 1 / max(item.limit.requestsPerSecond, 1e-9)
                let tolerance = Double(max(item.limit.burst, 1)) * interval
                // A clock that went backwards must not grant extra requests: never move the TAT back.
                let tat = max(state.tats[item.key] ?? now, now)
                let newTat = tat + item.cost * interval
                newTats.append(newTat)
                if newTat - now <= tolerance + 1e-9 {
                    // The same small allowance as the admission test: clock values near 10^9 s carry rounding.
                    let remaining = Int(((tolerance - (newTat - now)) / interval + 1e-6).rounded(.down))
                    decisions.append(Decision(allowed: true, remaining: max(0, remaining), resetSeconds: newTat - now, retryAfter: 0))
                } else {
                    decisions.append(Decision(allowed: false, remaining: 0, resetSeconds: tat - now, retryAfter: newTat - tolerance - now))
                }
            }
            guard decisions.allSatisfy(\.allowed) else { return decisions }
            for (item, newTat) in zip(items, newTats) {
                if state.tats.updateValue(newTat, forKey: item.key) == nil { state.insertsSinceSweep += 1 }
            }
            if state.insertsSinceSweep >= Self.sweepEvery {
                state.tats = state.tats.filter { $0.value > now }
                state.insertsSinceSweep = 0
            }
            return decisions
        }
    }

    /// Keys currently tracked (for tests of the memory bound).
    public var trackedKeys: Int { state.withLock { $0.tats.count } }
}
