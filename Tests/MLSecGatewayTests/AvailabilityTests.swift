// Availability controls alone, with injected clocks: multi-limit GCRA, quotas over calendar windows,
// per-key concurrency and load shedding.

import Foundation
import GRDB
import MLSecGateway
import Synchronization
import Testing
import MLSecDeploy
import MLSecReceipts
import MLSecStores
import MLSecAccess

/// A value shared by concurrent test tasks.
final class Shared<Value: Sendable>: Sendable {
    let value: Mutex<Value>
    init(_ value: Value) { self.value = Mutex(value) }
    func update(_ body: @Sendable (inout Value) -> Void) { value.withLock { body(&$0) } }
    var current: Value { value.withLock { $0 } }
}

@Suite("availability: limits, quotas, concurrency, shedding")
struct AvailabilityTests {
    @Test("the reference vectors: burst at zero admits exactly B; refill admits one per 1/r")
    func referenceVectors() {
        let clock = ManualClock()
        let limiter = RateLimiter(clock: clock.read)
        let limit = RateLimit(requestsPerSecond: 1, burst: 5)
        let burst = (0..<10).map { _ in limiter.check(key: "a", limit: limit).allowed ? "1" : "0" }.joined()
        #expect(burst == "1111100000")
        // Drained: half a period admits nothing, a whole one admits exactly one.
        clock.advance(0.5)
        #expect(!limiter.check(key: "a", limit: limit).allowed)
        clock.advance(0.5)
        #expect(limiter.check(key: "a", limit: limit).allowed)
        #expect(!limiter.check(key: "a", limit: limit).allowed)
        // An idle gap refills min(B, gap x r).
        clock.advance(3)
        #expect((0..<5).filter { _ in limiter.check(key: "a", limit: limit).allowed }.count == 3)
        clock.advance(100)
        #expect((0..<8).filter { _ in limiter.check(key: "a", limit: limit).allowed }.count == 5)
    }

    @Test("several limits for one request: admitted only if all admit, charged to all; a refusal charges none")
    func allOrNothing() {
        let clock = ManualClock()
        let limiter = RateLimiter(clock: clock.read)
        let key = RateLimiter.Item(key: "key", limit: RateLimit(requestsPerSecond: 100, burst: 100), cost: 8)
        let model = RateLimiter.Item(key: "model", limit: RateLimit(requestsPerSecond: 10, burst: 10), cost: 8)
        #expect(limiter.check([key, model]).allSatisfy { $0.allowed })
        let second = limiter.check([key, model])
        #expect(second[0].allowed && !second[1].allowed, "the model's budget (10) has 2 left, this costs 8")
        #expect(second[1].retryAfter > 0.5 && second[1].retryAfter < 0.7)
        // The refused request charged nothing to the key: 100 - 8 = 92 left, so 11 more batches of 8 pass alone.
        #expect((0..<12).filter { _ in limiter.check([key]).allSatisfy { $0.allowed } }.count == 11)
        // A batch above the burst is never admitted, however long one waits.
        clock.advance(1000)
        #expect(!limiter.check([RateLimiter.Item(key: "model", limit: model.limit, cost: 11)])[0].allowed)
    }

    @Test("many distinct keys: memory stays bounded by the keys active within their refill time")
    func keyCardinality() {
        let clock = ManualClock()
        let limiter = RateLimiter(clock: clock.read)
        let limit = RateLimit(requestsPerSecond: 10, burst: 10)
        for i in 0..<50_000 {
            _ = limiter.check(key: "tenant-\(i)", limit: limit)
            clock.advance(0.001)  // each key's bucket is full again 0.1 s later
        }
        #expect(limiter.trackedKeys < 2 * RateLimiter.sweepEvery, "\(limiter.trackedKeys) keys tracked")
    }

    @Test("concurrent requests against a shared model limit never over-admit")
    func contention() async {
        let limiter = RateLimiter(clock: { 0 })
        let admitted = Shared(0)
        await withTaskGroup(of: Void.self) { group in
            for i in 0..<200 {
                group.addTask {
                    let items = [RateLimiter.Item(key: "k\(i % 7)", limit: RateLimit(requestsPerSecond: 1, burst: 1000), cost: 2),
                                 RateLimiter.Item(key: "model", limit: RateLimit(requestsPerSecond: 1, burst: 50), cost: 2)]
                    if limiter.check(items).allSatisfy({ $0.allowed }) { admitted.update { $0 += 1 } }
                }
            }
        }
        #expect(admitted.current == 25)
    }

    final class DateClock: Sendable {
        let now: Mutex<Date>
        init(_ text: String) { now = Mutex(ISO8601DateFormatter().date(from: text) ?? Date()) }
        func advance(_ seconds: Double) { now.withLock { $0 = $0.addingTimeInterval(seconds) } }
        var read: @Sendable () -> Date { { [self] in now.withLock { $0 } } }
    }

    @Test("quotas: daily and monthly budgets of requests and elements, reset at UTC midnight and month start")
    func quotas() async throws {
        let clock = DateClock("2026-11-30T23:59:00Z")
        let tracker = QuotaTracker(store: nil, now: clock.read)
        let limits = QuotaLimits(dailyRequests: 3, monthlyElements: 1000)
        for _ in 0..<3 { try await tracker.admit(key: "k", limits: limits, elements: 64) }
        do {
            try await tracker.admit(key: "k", limits: limits, elements: 64)
            Issue.record("a fourth request passed a daily budget of 3")
        } catch let error as QuotaTracker.Exhausted {
            #expect(error.policy == "daily-requests" && error.quota == 3 && error.retryAfter == 60 && error.windowSeconds == 86_400)
        }
        try await tracker.admit(key: "other", limits: limits, elements: 64)  // budgets are per key
        clock.advance(61)  // 2026-12-01T00:00:01Z: a new day and a new month
        for _ in 0..<3 { try await tracker.admit(key: "k", limits: limits, elements: 300) }
        do {
            try await tracker.admit(key: "k", limits: QuotaLimits(monthlyElements: 1000), elements: 300)
            Issue.record("elements over the monthly budget passed")
        } catch let error as QuotaTracker.Exhausted {
            #expect(error.policy == "monthly-elements" && error.windowSeconds == 31 * 86_400 && error.retryAfter == 31 * 86_400 - 1)
        }
        #expect(tracker.usage(key: "k").day == QuotaTracker.Usage(requests: 3, elements: 900))
    }

    @Test("quotas fail closed: usage that cannot be read admits nothing")
    func quotaStoreDown() async throws {
        struct Broken: QuotaUsageStore {
            func loadUsage(windows: [String]) async throws -> [QuotaTracker.Counter: QuotaTracker.Usage] { throw CancellationError() }
            func addUsage(_ deltas: [QuotaTracker.Counter: QuotaTracker.Usage]) async throws { throw CancellationError() }
        }
        let tracker = QuotaTracker(store: Broken())
        await #expect(throws: QuotaTracker.Unavailable.self) { try await tracker.admit(key: "k", limits: QuotaLimits(dailyRequests: 5), elements: 1) }
    }

    @Test("quota usage survives a restart through the store; saving twice does not count twice")
    func quotaPersistence() async throws {
        let store = try SQLiteKeyBackend(database: try DatabaseQueue())
        let clock = DateClock("2026-11-29T12:00:00Z")
        let limits = QuotaLimits(dailyRequests: 5)
        let first = QuotaTracker(store: store, now: clock.read)
        for _ in 0..<4 { try await first.admit(key: "k", limits: limits, elements: 1) }
        try await first.save()
        try await first.save()  // nothing new: no double counting
        let restarted = QuotaTracker(store: store, now: clock.read)
        try await restarted.admit(key: "k", limits: limits, elements: 1)
        await #expect(throws: QuotaTracker.Exhausted.self) { try await restarted.admit(key: "k", limits: limits, elements: 1) }
        #expect(restarted.usage(key: "k").day.requests == 5)
    }

    @Test("per-key concurrency: at most N in flight, released slots are reusable")
    func concurrency() {
        let limiter = ConcurrencyLimiter()
        #expect(limiter.acquire(key: "a", limit: 2) && limiter.acquire(key: "a", limit: 2))
        #expect(!limiter.acquire(key: "a", limit: 2))
        #expect(limiter.acquire(key: "b", limit: 2), "another key is not affected")
        limiter.release(key: "a")
        #expect(limiter.acquire(key: "a", limit: 2))
        for _ in 0..<2 { limiter.release(key: "a") }
        limiter.release(key: "b")
        #expect(limiter.count(key: "a") == 0 && limiter.count(key: "b") == 0)
    }

    @Test("load shedding: N run, M wait in order, the rest are shed at once; waiters past their deadline are shed")
    func shedding() async throws {
        let shedder = LoadShedder(maxInFlight: 2, maxQueued: 2)
        try await shedder.acquire(deadline: .seconds(10))
        try await shedder.acquire(deadline: .seconds(10))
        let order = Shared<[Int]>([])
        var waiters: [Task<Void, any Error>] = []
        for i in 0..<2 {
            waiters.append(Task {
                try await shedder.acquire(deadline: .seconds(30))
                order.update { $0.append(i) }
            })
            // Let the waiter run until it is queued (bounded, no timing), so the queue order is known.
            for _ in 0..<1_000_000 where shedder.load.queued < i + 1 { await Task.yield() }
        }
        #expect(shedder.load == (2, 2))
        await #expect(throws: LoadShedder.Shed.queueFull) { try await shedder.acquire(deadline: .seconds(10)) }
        shedder.release()
        shedder.release()
        for waiter in waiters { try await waiter.value }
        #expect(order.current == [0, 1], "FIFO")
        #expect(shedder.load == (2, 0), "the slots passed to the waiters")
        await #expect(throws: LoadShedder.Shed.deadline) { try await shedder.acquire(deadline: .milliseconds(50)) }
        #expect(shedder.load == (2, 0), "an expired waiter leaves the queue")
        shedder.release()
        shedder.release()
        #expect(shedder.load == (0, 0))
    }
}

@Suite("upstreams: circuit breaker and retry budget")
struct UpstreamPolicyTests {
    @Test("the breaker opens after N consecutive failures, lets one trial through after the cool-down, closes on success")
    func breaker() {
        var breaker = CircuitBreaker(failureThreshold: 3, openSeconds: 5)
        for _ in 0..<2 { breaker.recordFailure(now: 0) }
        var allowed = breaker.allows(now: 0)
        #expect(breaker.state == .closed && allowed)
        breaker.recordSuccess()  // a success resets the count
        for _ in 0..<3 { breaker.recordFailure(now: 1) }
        allowed = breaker.allows(now: 5.9)
        #expect(breaker.state == .open && !allowed)
        allowed = breaker.allows(now: 6)
        #expect(allowed && breaker.state == .halfOpen)
        allowed = breaker.allows(now: 6.1)
        #expect(!allowed, "one trial at a time")
        breaker.recordFailure(now: 6.2)
        allowed = breaker.allows(now: 11)
        #expect(breaker.state == .open && !allowed)
        allowed = breaker.allows(now: 11.25)
        #expect(allowed)
        breaker.recordSuccess()
        allowed = breaker.allows(now: 11.35)
        #expect(breaker.state == .closed && allowed)
    }

    @Test("retries are capped at a share of recent requests plus a small floor, over a sliding window")
    func retryBudget() {
        var budget = RetryBudget(ratio: 0.2, minimumPerSecond: 0.1, windowSeconds: 10)
        for i in 0..<100 { budget.recordRequest(now: Double(i) * 0.05) }  // 100 requests in 5 s
        let granted = (0..<100).filter { _ in budget.withdraw(now: 5) }.count
        #expect(granted == 21, "20% of 100 + 0.1/s x 10 s")
        // Eleven seconds later the window has moved on: only the floor is left.
        #expect((0..<5).filter { _ in budget.withdraw(now: 16.5) }.count == 1)
    }
}

@Suite("leased allowances over a shared limiter")
struct LeasedRateLimiterTests {
    @Test("one caller cannot lock others out of a shared model limit: an oversized request is refused alone, shared refusals are not cached")
    func noPoisoning() async throws {
        let clock = ManualClock()
        let shared = CountingBackend(RateLimiter(clock: clock.read))
        let leased = LeasedRateLimiter(shared: shared, lease: .milliseconds(250), clock: clock.read)
        let model = RateLimit(requestsPerSecond: 1, burst: 10)
        func request(_ key: String, cost: Double) -> [RateLimiter.Item] {
            [RateLimiter.Item(key: key, limit: RateLimit(requestsPerSecond: 5, burst: 50), cost: cost),
             RateLimiter.Item(key: "m\u{1}digits", limit: model, cost: cost, shared: true)]
        }
        // A batch costing more than the model's burst: refused, without a round trip, and nothing is remembered.
        let before = shared.calls
        let oversized = try await leased.decide(request("key:a", cost: 20))
        #expect(!oversized[1].allowed && shared.calls == before)
        #expect(try await leased.decide(request("key:b", cost: 1)).allSatisfy(\.allowed), "another tenant was locked out")
        // A's requests spend the shared limit; B is refused while it is spent, then admitted as soon as it
        // refills, not at A's cached retry time.
        for _ in 0..<9 { _ = try await leased.decide(request("key:a", cost: 1)) }
        #expect(try await !leased.decide(request("key:a", cost: 5))[1].allowed)
        clock.advance(1.01)
        #expect(try await leased.decide(request("key:b", cost: 1)).allSatisfy(\.allowed))
    }

    @Test("a refused large request does not block the same key's smaller ones: they get the embedded limiter's answer")
    func refusalCachedPerCost() async throws {
        let clock = ManualClock()
        let shared = CountingBackend(RateLimiter(clock: clock.read))
        let leased = LeasedRateLimiter(shared: shared, lease: .milliseconds(250), clock: clock.read)
        let own = { (cost: Double) in [RateLimiter.Item(key: "key:a", limit: RateLimit(requestsPerSecond: 5, burst: 50), cost: cost)] }
        #expect(try await leased.decide(own(45))[0].allowed)
        #expect(try await !leased.decide(own(6))[0].allowed)  // 5 left: refused, cached for costs of 6 and more
        #expect(try await leased.decide(own(1))[0].allowed, "a small request was refused by a cached larger refusal")
        let before = shared.calls
        #expect(try await !leased.decide(own(7))[0].allowed)
        #expect(shared.calls == before, "a request at least as large is still refused locally")
    }

    @Test("busy keys reserve a chunk per round trip and never over-admit; slow keys are exact; leases expire")
    func leases() async throws {
        let clock = ManualClock()
        let shared = CountingBackend(RateLimiter(clock: clock.read))
        let leased = LeasedRateLimiter(shared: shared, lease: .milliseconds(250), clock: clock.read)
        let busy = RateLimiter.Item(key: "busy", limit: RateLimit(requestsPerSecond: 1000, burst: 200))  // chunk 10
        var admitted = 0
        for _ in 0..<300 where try await leased.decide([busy])[0].allowed { admitted += 1 }
        #expect(admitted == 200, "exactly the burst, whoever holds the units")
        #expect(shared.calls < 60, "\(shared.calls) round trips for 300 decisions")
        // Slow keys: every decision goes to the shared state until one is refused; then the key is refused
        // locally until its retry time.
        let before = shared.calls
        let slow = RateLimiter.Item(key: "slow", limit: RateLimit(requestsPerSecond: 10, burst: 5))
        var slowAdmitted = 0
        for _ in 0..<10 where try await leased.decide([slow])[0].allowed { slowAdmitted += 1 }
        #expect(slowAdmitted == 5 && shared.calls - before == 6)
        // An unused lease is given up when it expires: the units stay spent (the safe side).
        clock.advance(0.01)  // 10 units of refill
        #expect(try await leased.decide([busy])[0].allowed)
        clock.advance(1)
        var later = 0
        for _ in 0..<2000 where try await leased.decide([busy])[0].allowed { later += 1 }
        #expect(later <= 1000 + 200, "never more than the rate allows")
    }
}

@Suite("leased allowances: one refill in flight")
struct LeasedRefillTests {
    @Test("concurrent requests on a busy key share one refill instead of a round trip each, and never over-admit")
    func sharedRefill() async throws {
        let clock = ManualClock()
        let shared = CountingBackend(RateLimiter(clock: clock.read), delay: .milliseconds(20))
        let leased = LeasedRateLimiter(shared: shared, lease: .seconds(10), clock: clock.read)
        // chunk = min(256, 4000 / 8, 10000 x 0.01) = 100 units a refill
        let busy = RateLimiter.Item(key: "busy", limit: RateLimit(requestsPerSecond: 10_000, burst: 4000))
        let admitted = try await withThrowingTaskGroup(of: Bool.self) { group in
            for _ in 0..<64 { group.addTask { try await leased.decide([busy])[0].allowed } }
            return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
        }
        #expect(admitted == 64)
        #expect(shared.calls <= 4, "\(shared.calls) round trips for 64 concurrent requests")
        // Spent to the last unit, concurrently: exactly the burst is admitted, whoever waited for whom.
        let key = RateLimiter.Item(key: "tight", limit: RateLimit(requestsPerSecond: 10_000, burst: 800))
        let tight = try await withThrowingTaskGroup(of: Bool.self) { group in
            for _ in 0..<1000 { group.addTask { try await leased.decide([key])[0].allowed } }
            return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
        }
        #expect(tight <= 800 && tight >= 700, "\(tight) admitted of a burst of 800 (unused reservations are the safe side)")
    }
}

/// Counts round trips to the wrapped backend.
final class CountingBackend: RateLimitBackend {
    let inner: RateLimiter
    let delay: Duration
    private let count = Mutex(0)
    /// - Parameter delay: how long each round trip takes (as a database's would).
    init(_ inner: RateLimiter, delay: Duration = .zero) {
        self.inner = inner
        self.delay = delay
    }
    var calls: Int { count.withLock { $0 } }
    func decide(_ items: [RateLimiter.Item]) async throws -> [RateLimiter.Decision] {
        count.withLock { $0 += 1 }
        if delay > .zero { try await Task.sleep(for: delay) }
        return inner.check(items)
    }
}

