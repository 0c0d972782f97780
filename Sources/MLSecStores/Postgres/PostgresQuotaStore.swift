// PostgresQuotaStore: quota usage shared by replicas in PostgreSQL.

import Foundation
import MLSecAccess
import PostgresNIO

/// Quota usage per (key, window) in PostgreSQL: each replica adds its deltas (an upsert that adds, so
/// concurrent replicas never lose counts) and reads the current windows' totals back.
public final class PostgresQuotaStore: QuotaUsageStore {
    let database: PostgresDatabase

    public init(database: PostgresDatabase) async throws {
        self.database = database
        try await database.migrate(["""
            CREATE TABLE IF NOT EXISTS mlsec_quota_usage (
                key_id TEXT NOT NULL, window_id TEXT NOT NULL, requests BIGINT NOT NULL, elements BIGINT NOT NULL,
                PRIMARY KEY (key_id, window_id))
            """])
    }

    public func loadUsage(windows: [String]) async throws -> [QuotaTracker.Counter: QuotaTracker.Usage] {
        guard !windows.isEmpty else { return [:] }
        let client = database.client
        return try await database.withDeadline {
            var usage: [QuotaTracker.Counter: QuotaTracker.Usage] = [:]
            let rows = try await client.query(
                "SELECT key_id, window_id, requests, elements FROM mlsec_quota_usage WHERE window_id = ANY(\(windows))")
            for try await (key, window, requests, elements) in rows.decode((String, String, Int64, Int64).self) {
                usage[QuotaTracker.Counter(key: key, window: window)] = QuotaTracker.Usage(requests: Int(requests), elements: Int(elements))
            }
            return usage
        }
    }

    public func addUsage(_ deltas: [QuotaTracker.Counter: QuotaTracker.Usage]) async throws {
        guard !deltas.isEmpty else { return }
        let entries = deltas.sorted { ($0.key.key, $0.key.window) < ($1.key.key, $1.key.window) }  // a fixed lock order
        let keys = entries.map(\.key.key)
        let windows = entries.map(\.key.window)
        let requests = entries.map { Int64($0.value.requests) }
        let elements = entries.map { Int64($0.value.elements) }
        let client = database.client
        try await database.withDeadline {
            try await client.query("""
                INSERT INTO mlsec_quota_usage (key_id, window_id, requests, elements)
                SELECT * FROM unnest(\(keys)::text[], \(windows)::text[], \(requests)::bigint[], \(elements)::bigint[])
                ON CONFLICT (key_id, window_id) DO UPDATE
                SET requests = mlsec_quota_usage.requests + excluded.requests, elements = mlsec_quota_usage.elements + excluded.elements
                """)
        }
    }
}
