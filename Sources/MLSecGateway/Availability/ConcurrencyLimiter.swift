// ConcurrencyLimiter: at most N requests in flight per key, so one client cannot hold every worker.

import Synchronization

/// Counts each key's requests in flight. `acquire` admits while the count is below the limit; every admitted
/// request must `release` once (the gateway does it in a `defer`). Keys with nothing in flight take no memory.
public final class ConcurrencyLimiter: Sendable {
    private let inFlight = Mutex<[String: Int]>([:])

    public init() {}

    /// Admits one more request for `key` if fewer than `limit` are in flight.
    public func acquire(key: String, limit: Int) -> Bool {
        inFlight.withLock { counts in
            let current = counts[key] ?? 0
            guard current < limit else { return false }
            counts[key] = current + 1
            return true
        }
    }

    public func release(key: String) {
        inFlight.withLock { counts in
            let current = counts[key] ?? 0
            if current <= 1 { counts[key] = nil } else { counts[key] = current - 1 }
        }
    }

    /// Requests in flight for `key`.
    public func count(key: String) -> Int { inFlight.withLock { $0[key] ?? 0 } }
}
