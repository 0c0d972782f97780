// RateLimitBackend: where GCRA state lives: in this process, or in PostgreSQL shared by every replica.

/// Decides a request against several GCRA limits at once (all-or-nothing). Implementations: `RateLimiter`
/// (in-process, one replica) and `PostgresRateLimiter` (one shared state for every replica).
public protocol RateLimitBackend: Sendable {
    /// Decisions in the order of `items`; the request is charged only if every item admits it.
    /// - Throws: when the state cannot be reached; the gateway then refuses (fails closed).
    func decide(_ items: [RateLimiter.Item]) async throws -> [RateLimiter.Decision]
    /// Periodic housekeeping (a shared store drops the state of idle keys); called about once a minute.
    func maintain() async throws
}

extension RateLimitBackend {
    public func maintain() async throws {}
}

extension RateLimiter: RateLimitBackend {
    public func decide(_ items: [Item]) async throws -> [Decision] { check(items) }
}
