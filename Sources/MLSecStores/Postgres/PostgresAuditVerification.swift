// PostgresAuditVerification: recomputing the PostgreSQL audit log's tree from its entries, in one snapshot.

import Logging
import MLSecAudit
import MLSecCore
import NIOCore
import PostgresNIO

extension PostgresAuditStore {
    /// Checks the whole log in one consistent snapshot (a read-only repeatable-read transaction), reading
    /// entries in pages and the nodes each page completes in one query per page. No deadline: a large log
    /// takes as long as it takes.
    public func verify(progress: (@Sendable (UInt64) -> Void)?) async throws -> AuditVerificationReport {
        try await check(prefix: nil, progress: progress)
    }

    /// One pass over the entries recomputes the tree and the root of the first `prefix` entries together.
    public func verify(prefix: UInt64, progress: (@Sendable (UInt64) -> Void)?) async throws -> AuditVerificationReport {
        try await check(prefix: prefix, progress: progress)
    }

    private func check(prefix: UInt64?, progress: (@Sendable (UInt64) -> Void)?) async throws -> AuditVerificationReport {
        let logger = database.logger
        let location = location
        return try await database.client.withConnection { connection in
            try await connection.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", logger: logger)
            do {
                let report = try await Self.check(
                    connection: connection, logger: logger, location: location, prefix: prefix, progress: progress)
                try await connection.query("ROLLBACK", logger: logger)
                return report
            } catch {
                _ = try? await connection.query("ROLLBACK", logger: logger)
                throw error
            }
        }
    }

    private static func check(connection: PostgresConnection, logger: Logger, location: String, prefix: UInt64?,
                              progress: (@Sendable (UInt64) -> Void)?) async throws -> AuditVerificationReport {
        var recorded: Int64?
        for try await value in try await connection.query("SELECT size FROM mlsec_audit_head WHERE id = 1", logger: logger)
            .decode(Int64.self) { recorded = value }
        var checker = AuditLogChecker(prefix: prefix)
        let page = 8192
        while true {
            let from = Int64(checker.checked)
            var completed: [MerkleRightEdge.Node] = []
            var count = 0
            let rows = try await connection.query(
                "SELECT idx, leaf_hash, data FROM mlsec_audit_entries WHERE idx >= \(from) ORDER BY idx LIMIT \(page)", logger: logger)
            for try await (index, leaf, data) in rows.decode((Int64, ByteBuffer, ByteBuffer).self) {
                completed += try checker.next(index: index, storedLeafHash: Array(leaf.readableBytesView), data: Array(data.readableBytesView))
                count += 1
            }
            if !completed.isEmpty {
                let stored = try await Self.fetch(completed.map { ($0.level, $0.index) }, query: { try await connection.query($0, logger: logger) })
                for node in completed { try AuditLogChecker.compare(node, stored: stored[node.storageID]) }
            }
            progress?(checker.checked)
            if count < page { break }
        }
        var nodeCount: Int64 = 0
        for try await value in try await connection.query("SELECT count(*) FROM mlsec_audit_nodes", logger: logger).decode(Int64.self) {
            nodeCount = value
        }
        guard let recorded, recorded >= 0 else { throw MLSecError.verificationFailed("\(location): the audit head row is missing") }
        return try checker.finish(storedNodeCount: nodeCount, recordedSize: UInt64(recorded))
    }
}
