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
    }

    private let state = Mutex<[String: Double]>([:])
    private let clock: @Sendable () -> Double

    /// `clock` returns seconds (monotonic); injectable for tests.
    public init(clock: @escaping @Sendable () -> Double = { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }) {
        self.clock = clock
    }

    public func check(key: String, limit: RateLimit, cost: Double = 1) -> Decision {
        let now = clock()
        let interval = 1 / max(limit.requestsPerSecond, 1e-9)
        let tolerance = Double(max(limit.burst, 1)) * interval
        return state.withLock { tats in
            // A clock that went backwards must not grant extra requests: never move the TAT back.
            let tat = max(tats[key] ?? now, now)
            let newTat = tat + cost * interval
            if newTat - now <= tolerance + 1e-9 {
                tats[key] = newTat
                let remaining = Int(((tolerance - (newTat - now)) / interval).rounded(.down))
                return Decision(allowed: true, remaining: max(0, remaining), resetSeconds: newTat - now, retryAfter: 0)
            }
            let retry = newTat - tolerance - now
            return Decision(allowed: false, remaining: 0, resetSeconds: tat - now, retryAfter: retry)
        }
    }
}
