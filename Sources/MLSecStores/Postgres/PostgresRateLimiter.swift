// PostgresRateLimiter: GCRA state in PostgreSQL, one round trip per decision, one limit for every replica.

import Foundation
import MLSecAccess
import Logging
import MLSecCore
import PostgresNIO

/// GCRA with the theoretical arrival times in a PostgreSQL table. One call of the `mlsec_gcra` function per
/// decision (one round trip): it locks the request's keys in a fixed order, checks every limit against the
/// server's clock (one clock for all replicas, so their skew does not matter), and advances the TATs only if
/// all admit. Replicas sharing the database therefore enforce one combined limit exactly (``LeasedRateLimiter``
/// adds a bounded local allowance for busy keys on top).
/// Idle keys (TAT in the past) are deleted now and then, so the table follows the active keys.
public final class PostgresRateLimiter: RateLimitBackend {
    let database: PostgresDatabase

    static let schema: [PostgresQuery] = [
        "CREATE TABLE IF NOT EXISTS mlsec_rate_limits (key TEXT PRIMARY KEY, tat DOUBLE PRECISION NOT NULL)",
        // The four-argument version of 0.3 (server clock only) would make calls ambiguous.
        "DROP FUNCTION IF EXISTS mlsec_gcra(TEXT[], DOUBLE PRECISION[], DOUBLE PRECISION[], DOUBLE PRECISION[])",
        """
        CREATE OR REPLACE FUNCTION mlsec_gcra(p_keys TEXT[], p_intervals DOUBLE PRECISION[], p_tolerances DOUBLE PRECISION[],
                                              p_costs DOUBLE PRECISION[], p_now DOUBLE PRECISION)
        RETURNS TABLE(allowed BOOLEAN, remaining DOUBLE PRECISION, reset_after DOUBLE PRECISION, retry_after DOUBLE PRECISION)
        LANGUAGE plpgsql AS $$
        DECLARE
            now_s DOUBLE PRECISION := coalesce(p_now, extract(epoch FROM clock_timestamp()));
            n INT := coalesce(array_length(p_keys, 1), 0);
            tats DOUBLE PRECISION[] := '{}';
            new_tats DOUBLE PRECISION[] := '{}';
            all_ok BOOLEAN := true;
            t DOUBLE PRECISION;
        BEGIN
            INSERT INTO mlsec_rate_limits (key, tat) SELECT k, now_s FROM unnest(p_keys) AS k ORDER BY k ON CONFLICT (key) DO NOTHING;
            PERFORM 1 FROM mlsec_rate_limits WHERE key = ANY(p_keys) ORDER BY key FOR UPDATE;
            FOR i IN 1..n LOOP
                SELECT greatest(r.tat, now_s) INTO t FROM mlsec_rate_limits r WHERE r.key = p_keys[i];
                tats := tats || t;
                new_tats := new_tats || (t + p_costs[i] * p_intervals[i]);
                IF new_tats[i] - now_s > p_tolerances[i] + 1e-9 THEN all_ok := false; END IF;
            END LOOP;
            IF all_ok THEN
                FOR i IN 1..n LOOP
                    UPDATE mlsec_rate_limits SET tat = new_tats[i] WHERE key = p_keys[i];
                END LOOP;
            END IF;
            FOR i IN 1..n LOOP
                IF new_tats[i] - now_s <= p_tolerances[i] + 1e-9 THEN
                    allowed := true;
                    remaining := (p_tolerances[i] - (new_tats[i] - now_s)) / p_intervals[i];
                    reset_after := new_tats[i] - now_s;
                    retry_after := 0;
                ELSE
                    allowed := false;
                    remaining := 0;
                    reset_after := tats[i] - now_s;
                    retry_after := new_tats[i] - p_tolerances[i] - now_s;
                END IF;
                RETURN NEXT;
            END LOOP;
        END $$
        """,
    ]

    /// The time decisions are made at, in seconds (nil: the server's clock, the same for every replica).
    let clock: (@Sendable () -> Double)?

    /// Creates the table and the function (idempotent).
    /// - Parameter clock: a clock to decide with instead of the server's (tests inject one); every replica
    ///   sharing the state must use the same.
    public init(database: PostgresDatabase, clock: (@Sendable () -> Double)? = nil) async throws {
        self.database = database
        self.clock = clock
        try await database.migrate(Self.schema)
    }

    public func decide(_ items: [RateLimiter.Item]) async throws -> [RateLimiter.Decision] {
        guard !items.isEmpty else { return [] }
        let keys = items.map(\.key)
        let intervals = items.map { 1 / max($0.limit.requestsPerSecond, 1e-9) }
        let tolerances = zip(items, intervals).map { Double(max($0.0.limit.burst, 1)) * $0.1 }
        let costs = items.map(\.cost)
        let client = database.client
        let now = clock?()
        let rows = try await database.withDeadline { () -> [(Bool, Double, Double, Double)] in
            var decoded: [(Bool, Double, Double, Double)] = []
            let sequence = try await client.query(
                "SELECT allowed, remaining, reset_after, retry_after FROM mlsec_gcra(\(keys), \(intervals), \(tolerances), \(costs), \(now))")
            for try await row in sequence.decode((Bool, Double, Double, Double).self) { decoded.append(row) }
            return decoded
        }
        guard rows.count == items.count else { throw MLSecError.io("mlsec_gcra returned \(rows.count) rows for \(items.count) limits") }
        return rows.map { allowed, remaining, reset, retry in
            RateLimiter.Decision(allowed: allowed, remaining: max(0, Int((remaining + 1e-6).rounded(.down))), resetSeconds: reset, retryAfter: retry)
        }
    }

    /// Deletes keys whose bucket is full again (their TAT is in the past): called by the maintenance service.
    public func maintain() async throws { try await sweep() }

    public func sweep() async throws {
        let client = database.client
        try await database.withDeadline {
            try await client.query("DELETE FROM mlsec_rate_limits WHERE tat < extract(epoch FROM clock_timestamp())")
        }
    }
}
