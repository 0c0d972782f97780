// The leased limiter of two replicas over one real PostgreSQL (issue 14, "one oversized request locks all tenants
// out of a model on replicas"): wired as `StateStores.open` wires it (LeasedRateLimiter over PostgresRateLimiter, one
// per replica) and driven through the gateway's InferenceAdmission (prepaid unit, then the rest of the batch), on an
// injected clock. Enabled as the other PostgreSQL suites (scripts/test.sh sets MLSEC_TEST_POSTGRES_URL).

import Foundation
import HTTPTypes
import Logging
import MLSecAccess
import MLSecGateway
import MLSecStores
import Testing

private let postgresURL = ProcessInfo.processInfo.environment["MLSEC_TEST_POSTGRES_URL"]

// Skipped only outside CI when no server is configured; under CI a missing server fails these tests.
@Suite("PostgreSQL rate-limit state: leased limiters of two replicas",
       .enabled(if: postgresURL != nil || ProcessInfo.processInfo.environment["CI"] != nil, "needs MLSEC_TEST_POSTGRES_URL (scripts/test.sh)"),
       .serialized)
struct PostgresLeasedLimiterTests {
    /// One replica's admission: its own connection pool, a PostgresRateLimiter on the shared clock, and the
    /// LeasedRateLimiter over it, as `StateStores.open` builds it (plus the injected clock).
    static func replica(_ clock: ManualClock) async throws -> InferenceAdmission {
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let database = try MLSecStores.PostgresDatabase(url: postgresURL ?? "", logger: logger)
        let shared = try await PostgresRateLimiter(database: database, clock: clock.read)
        var limits = AvailabilityLimits()
        limits.perKeyModel = RateLimit(requestsPerSecond: 5, burst: 40)
        return InferenceAdmission(limits: limits, limiter: LeasedRateLimiter(shared: shared, lease: .milliseconds(250), clock: clock.read),
                                  quotas: QuotaTracker(store: nil))
    }

    @Test("an oversized request on one replica is refused alone: other tenants are admitted on both replicas; a spent model limit refuses on both and refills")
    func oversizedRequestAcrossReplicas() async throws {
        let clock = ManualClock()
        let replicas = [try await Self.replica(clock), try await Self.replica(clock)]
        // Fresh keys: the server keeps the state of earlier runs (at the same injected times).
        let run = UUID().uuidString
        let model = "digits-\(run)"
        let modelLimit = RateLimit(requestsPerSecond: 1, burst: 10)  // exact in the database (no lease)
        let inference = try #require(Role.builtIn["inference"])
        func tenant(_ name: String, _ limit: RateLimit) -> Principal {
            Principal(id: "\(name)-\(run)", role: inference, models: [model], rateLimit: limit)
        }
        let a = tenant("a", RateLimit(requestsPerSecond: 5, burst: 50))
        let b = tenant("b", RateLimit(requestsPerSecond: 1000, burst: 200))  // leased: 10 units reserved a round trip
        let c = tenant("c", RateLimit(requestsPerSecond: 2, burst: 30))
        /// One inference as the gateway admits it: a prepaid unit before the body, the rest of the batch after
        /// parsing. nil when admitted, else the refusal.
        func infer(_ replica: Int, _ who: Principal, batch: Int) async -> GatewayError? {
            do throws(GatewayError) {
                let prepaid = try await replicas[replica].precharge(who, model: model, modelLimit: modelLimit)
                _ = try await replicas[replica].charge(who, model: model, modelLimit: modelLimit, batch: batch, elements: batch * 64,
                                                       prepaid: prepaid)
                return nil
            } catch {
                return error
            }
        }
        func expectAdmitted(_ replica: Int, _ who: Principal, batch: Int, _ note: String) async {
            let refusal = await infer(replica, who, batch: batch)
            #expect(refusal == nil, "\(note): \(who.id.prefix(1)) on replica \(replica + 1) refused: \(refusal?.message ?? "")")
        }
        func expectRefused(_ replica: Int, _ who: Principal, batch: Int, _ note: String) async -> GatewayError? {
            let refusal = await infer(replica, who, batch: batch)
            #expect(refusal?.status == .tooManyRequests, "\(note): \(who.id.prefix(1)) on replica \(replica + 1) not refused with 429")
            return refusal
        }

        // 1. A's batch of 50 against a model burst of 10, on replica 1: 429 naming the model's limit and the cost.
        //    Only its prepaid unit is spent. The same on replica 2, and a batch just over the burst (11) there.
        for replica in [0, 1] {
            let refusal = await expectRefused(replica, a, batch: 50, "oversized")
            #expect(refusal?.message.contains("per-model") == true && refusal?.message.contains("more than the burst") == true,
                    "\(refusal?.message ?? "")")
        }
        let justOver = await expectRefused(1, a, batch: 11, "just over the burst")
        #expect(justOver?.message.contains("more than the burst") == true, "\(justOver?.message ?? "")")
        // 2. At once, on the same injected instant: B and C on replica 1 and on replica 2, and A's own normal
        //    requests on both. Together with A's three prepaid units this spends the model's 10 units exactly, so
        //    no refused request charged more than its prepaid unit.
        await expectAdmitted(0, b, batch: 1, "after the attack")
        await expectAdmitted(1, c, batch: 2, "after the attack")
        await expectAdmitted(1, b, batch: 1, "after the attack")
        await expectAdmitted(0, c, batch: 1, "after the attack")
        await expectAdmitted(0, a, batch: 1, "A's own normal request")
        #expect(await infer(1, a, batch: 1) == nil, "A's own normal request on replica 2")
        // The model's limit is now spent: refused on both replicas, whoever asks.
        for (replica, who) in [(0, b), (1, c)] {
            let refusal = await expectRefused(replica, who, batch: 1, "model limit spent")
            #expect(refusal?.message.contains("per-model") == true, "\(refusal?.message ?? "")")
        }

        // 3. A genuine exhaustion: after a full refill (10 s), the three tenants alternate replicas with single
        //    requests; exactly the burst is admitted, then every tenant is refused on both replicas, told to
        //    retry in about a second (one unit at 1/s).
        clock.advance(10)
        let tenants = [a, b, c]
        var pattern = ""
        for i in 0..<16 { pattern += await infer(i % 2, tenants[i % 3], batch: 1) == nil ? "1" : "0" }
        #expect(pattern == "1111111111000000", "one combined model limit of 10 over both replicas")
        for replica in [0, 1] {
            for who in tenants {
                let refusal = await expectRefused(replica, who, batch: 1, "exhausted")
                #expect(refusal?.message.contains("per-model") == true && refusal?.headers[.retryAfter] == "1",
                        "\(refusal?.message ?? "") Retry-After \(refusal?.headers[.retryAfter] ?? "none")")
            }
        }
        // Recovery on the injected clock: one second gives one unit (to whichever replica asks first) ...
        clock.advance(1)
        await expectAdmitted(1, c, batch: 1, "one unit refilled")
        _ = await expectRefused(0, b, batch: 1, "the refilled unit is spent")
        // ... and the refill time of the burst gives the whole burst back, on both replicas, to every tenant.
        clock.advance(10)
        pattern = ""
        for i in 0..<12 { pattern += await infer((i + 1) % 2, tenants[i % 3], batch: 1) == nil ? "1" : "0" }
        #expect(pattern == "111111111100", "the burst again after its refill time")
    }
}
