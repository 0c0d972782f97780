// The shared rate-limit state against a real PostgreSQL server (scripts/test.sh starts a private one and sets
// MLSEC_TEST_POSTGRES_URL): exact bursts, all-or-nothing, two replicas racing, one combined limit, fail closed.

import Foundation
import Logging
import MLSecGateway
import Testing

private let postgresURL = ProcessInfo.processInfo.environment["MLSEC_TEST_POSTGRES_URL"]

/// A logger for the pools: connection retries against a server that is down on purpose are not news.
private var quiet: Logger {
    var logger = Logger(label: "test")
    logger.logLevel = .critical
    return logger
}

// Skipped only outside CI when no server is configured; under CI a missing server fails these tests.
@Suite("PostgreSQL rate-limit state",
       .enabled(if: postgresURL != nil || ProcessInfo.processInfo.environment["CI"] != nil, "needs MLSEC_TEST_POSTGRES_URL (scripts/test.sh)"),
       .serialized)
struct PostgresRateLimiterTests {
    static func limiter() async throws -> PostgresRateLimiter {
        try await PostgresRateLimiter(database: try PostgresDatabase(url: postgresURL ?? "", logger: quiet))
    }

    static func key(_ name: String) -> String { "\(name)-\(UUID().uuidString)" }

    @Test("a burst admits exactly B; several limits are charged all-or-nothing")
    func burstAndAllOrNothing() async throws {
        let limiter = try await Self.limiter()
        let slow = RateLimit(requestsPerSecond: 0.001, burst: 5)
        let key = Self.key("burst")
        var pattern = ""
        for _ in 0..<10 { pattern += try await limiter.decide([RateLimiter.Item(key: key, limit: slow)])[0].allowed ? "1" : "0" }
        #expect(pattern == "1111100000")
        let a = RateLimiter.Item(key: Self.key("a"), limit: RateLimit(requestsPerSecond: 0.001, burst: 100), cost: 8)
        let b = RateLimiter.Item(key: Self.key("b"), limit: RateLimit(requestsPerSecond: 0.001, burst: 10), cost: 8)
        #expect(try await limiter.decide([a, b]).allSatisfy { $0.allowed })
        let refused = try await limiter.decide([a, b])
        #expect(refused[0].allowed && !refused[1].allowed && refused[1].retryAfter > 1000)
        // Nothing was charged to a by the refusal: 100 - 8 = 92 left = 11 more batches of 8.
        var admitted = 0
        for _ in 0..<12 where try await limiter.decide([a])[0].allowed { admitted += 1 }
        #expect(admitted == 11)
    }

    @Test("two replicas racing on one key never over-admit")
    func replicasRace() async throws {
        let first = try await Self.limiter()
        let second = try await Self.limiter()
        let item = RateLimiter.Item(key: Self.key("race"), limit: RateLimit(requestsPerSecond: 0.001, burst: 40))
        let admitted = try await withThrowingTaskGroup(of: Int.self) { group in
            for i in 0..<16 {
                group.addTask {
                    var count = 0
                    for _ in 0..<10 where try await (i % 2 == 0 ? first : second).decide([item])[0].allowed { count += 1 }
                    return count
                }
            }
            return try await group.reduce(0, +)
        }
        #expect(admitted == 40, "160 attempts, burst 40")
    }

    @Test("two replicas enforce one combined steady rate within 5%")
    func combinedRate() async throws {
        let replicas = [try await Self.limiter(), try await Self.limiter()]
        let limit = RateLimit(requestsPerSecond: 200, burst: 10)
        let item = RateLimiter.Item(key: Self.key("steady"), limit: limit)
        let start = ContinuousClock.now
        let admitted = try await withThrowingTaskGroup(of: Int.self) { group in
            for i in 0..<8 {
                group.addTask {
                    var count = 0
                    while ContinuousClock.now - start < .seconds(2) {
                        if try await replicas[i % 2].decide([item])[0].allowed { count += 1 }
                    }
                    return count
                }
            }
            return try await group.reduce(0, +)
        }
        let elapsed = Double((ContinuousClock.now - start).components.seconds)
            + Double((ContinuousClock.now - start).components.attoseconds) / 1e18
        let expected = limit.requestsPerSecond * elapsed + Double(limit.burst)
        #expect(abs(Double(admitted) - expected) / expected < 0.05, "admitted \(admitted), expected about \(Int(expected))")
    }

    @Test("quotas shared by two replicas: each sees the other's usage after its next save, and counts add up")
    func sharedQuotas() async throws {
        let database = try PostgresDatabase(url: postgresURL ?? "", logger: quiet)
        let store = try await PostgresQuotaStore(database: database)
        let other = try await PostgresQuotaStore(database: try PostgresDatabase(url: postgresURL ?? "", logger: quiet))
        let replicaA = QuotaTracker(store: store)
        let replicaB = QuotaTracker(store: other)
        let key = Self.key("quota")
        let limits = QuotaLimits(dailyRequests: 100)
        try await replicaB.admit(key: key, limits: limits, elements: 1)
        try await replicaB.save()
        for _ in 0..<59 { try await replicaA.admit(key: key, limits: limits, elements: 1) }
        try await replicaA.save()
        try await replicaB.save()  // B reads the totals back: 60 used
        var admittedByB = 0
        while admittedByB < 200 {
            do {
                try await replicaB.admit(key: key, limits: limits, elements: 1)
                admittedByB += 1
            } catch {
                break
            }
        }
        #expect(admittedByB == 40, "B admits only what is left of the shared budget")
        try await replicaB.save()
        try await replicaA.save()
        #expect(replicaA.usage(key: key).day.requests == 100)
    }

    @Test("an unreachable server is an error within the deadline (the gateway then fails closed)")
    func unreachable() async throws {
        let database = try PostgresDatabase(url: "postgres://mlsec@127.0.0.1:9/postgres?sslmode=disable", timeout: .milliseconds(500),
                                            logger: quiet)
        let start = ContinuousClock.now
        await #expect(throws: (any Error).self) { _ = try await PostgresRateLimiter(database: database) }
        #expect(ContinuousClock.now - start < .seconds(5))
    }

    @Test("TLS is required off loopback; disable is refused there")
    func tlsPolicy() throws {
        #expect(throws: (any Error).self) {
            _ = try PostgresDatabase(url: "postgres://mlsec@db.example.com/postgres?sslmode=disable", logger: quiet)
        }
        #expect(throws: (any Error).self) { _ = try PostgresDatabase(url: "mysql://x@127.0.0.1/db", logger: quiet) }
    }
}
