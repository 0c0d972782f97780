// PostgresAuditStore: one RFC 6962 audit log in PostgreSQL, appended to by every gateway replica in one sequence.

import Foundation
import Logging
import MLSecAudit
import MLSecCore
import NIOCore
import PostgresNIO
import Synchronization

/// The audit log in PostgreSQL, for replicas: `mlsec_audit_entries(idx, leaf_hash, data)`,
/// `mlsec_audit_nodes(id, hash)` (the same layout as the SQLite log: `id = level << 56 | index` for each
/// perfect subtree of two or more leaves) and `mlsec_audit_head(size)`, one row.
///
/// An append is one transaction: it locks the head row (`SELECT ... FOR UPDATE`), so the replicas' batches
/// take turns and get consecutive indexes; it reads the right edge of the tree at that size (skipped when
/// this replica wrote the previous batch), inserts the entries and the nodes they complete, and moves the
/// head. A batch is all or nothing, and durable when the call returns (PostgreSQL's commit). Roots and proofs
/// read the O(log n) nodes they need in one query.
public final class PostgresAuditStore: AuditStore {
    let database: PostgresDatabase
    public let location: String
    /// The edge after this replica's last append, reused when no other replica appended since.
    private let lastEdge = Mutex<MerkleRightEdge?>(nil)

    static let schema: [PostgresQuery] = [
        "CREATE TABLE IF NOT EXISTS mlsec_audit_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
        "INSERT INTO mlsec_audit_meta (key, value) VALUES ('format', 'mlsec-merkle-log-v2') ON CONFLICT (key) DO NOTHING",
        "CREATE TABLE IF NOT EXISTS mlsec_audit_entries (idx BIGINT PRIMARY KEY, leaf_hash BYTEA NOT NULL, data BYTEA NOT NULL)",
        "CREATE TABLE IF NOT EXISTS mlsec_audit_nodes (id BIGINT PRIMARY KEY, hash BYTEA NOT NULL)",
        "CREATE TABLE IF NOT EXISTS mlsec_audit_head (id INT PRIMARY KEY CHECK (id = 1), size BIGINT NOT NULL CHECK (size >= 0))",
        "INSERT INTO mlsec_audit_head (id, size) VALUES (1, 0) ON CONFLICT (id) DO NOTHING",
    ]

    /// Creates the tables when missing (idempotent, safe when replicas start together) and checks the format.
    public init(database: PostgresDatabase) async throws {
        self.database = database
        location = database.location
        try await database.migrate(Self.schema)
        let client = database.client
        let format = try await database.withDeadline { () -> String? in
            let rows = try await client.query("SELECT value FROM mlsec_audit_meta WHERE key = 'format'")
            for try await value in rows.decode(String.self) { return value }
            return nil
        }
        guard format == "mlsec-merkle-log-v2" else {
            throw MLSecError.malformed("\(location) does not hold an MLSec audit log (format \(format ?? "missing"))")
        }
    }

    public func append(_ entries: [[UInt8]]) async throws -> Range<UInt64> {
        try AuditEntryLimits.check(entries)
        guard !entries.isEmpty else {
            let size = try await currentSize()
            return size..<size
        }
        let leaves = entries.map { MerkleHash.leaf($0) }
        let data = entries.map { ByteBuffer(bytes: $0) }
        let cached = lastEdge.withLock { $0 }
        let database = self.database
        let (range, edge) = try await database.withDeadline { () -> (Range<UInt64>, MerkleRightEdge) in
            try await database.client.withTransaction(logger: database.logger) { connection in
                var size: Int64?
                for try await value in try await connection.query(
                    "SELECT size FROM mlsec_audit_head WHERE id = 1 FOR UPDATE", logger: database.logger).decode(Int64.self) {
                    size = value
                }
                guard let size, size >= 0 else { throw MLSecError.malformed("\(self.location): the audit head row is missing") }
                var tree: MerkleRightEdge
                if let cached, cached.size == UInt64(size) {
                    tree = cached
                } else {
                    tree = try await Self.edge(size: UInt64(size), connection: connection, logger: database.logger)
                }
                let first = tree.size
                var nodeIDs: [Int64] = []
                var nodeHashes: [ByteBuffer] = []
                for leaf in leaves {
                    for node in tree.append(leafHash: leaf) {
                        nodeIDs.append(node.storageID)
                        nodeHashes.append(ByteBuffer(bytes: node.hash))
                    }
                }
                let indexes = (first..<tree.size).map { Int64($0) }
                let leafBuffers = leaves.map { ByteBuffer(bytes: $0) }
                let newSize = Int64(tree.size)
                try await connection.query("""
                    WITH e AS (INSERT INTO mlsec_audit_entries (idx, leaf_hash, data)
                               SELECT * FROM unnest(\(indexes)::bigint[], \(leafBuffers)::bytea[], \(data)::bytea[])),
                         n AS (INSERT INTO mlsec_audit_nodes (id, hash) SELECT * FROM unnest(\(nodeIDs)::bigint[], \(nodeHashes)::bytea[]))
                    UPDATE mlsec_audit_head SET size = \(newSize) WHERE id = 1
                    """, logger: database.logger)
                return (first..<tree.size, tree)
            }
        }
        lastEdge.withLock { $0 = edge }
        return range
    }

    /// The right edge of the stored tree of `size` leaves (read under the head lock).
    private static func edge(size: UInt64, connection: PostgresConnection, logger: Logger) async throws -> MerkleRightEdge {
        let coordinates = MerkleRightEdge.coordinates(size: size)
        let nodes = try await fetch(coordinates, query: { try await connection.query($0, logger: logger) })
        return try MerkleRightEdge(size: size) { level, index in nodes[MerkleRightEdge.storageID(level: level, index: index)] }
    }

    /// Reads the nodes at `coordinates` (leaf hashes for level 0) in one query, keyed by storage id.
    private static func fetch(_ coordinates: [(level: Int, index: UInt64)],
                              query: (PostgresQuery) async throws -> PostgresRowSequence) async throws -> [Int64: [UInt8]] {
        let leafIDs = coordinates.filter { $0.level == 0 }.map { Int64($0.index) }
        let nodeIDs = coordinates.filter { $0.level > 0 }.map { MerkleRightEdge.storageID(level: $0.level, index: $0.index) }
        var nodes: [Int64: [UInt8]] = [:]
        guard !coordinates.isEmpty else { return nodes }
        let rows = try await query("""
            SELECT idx, leaf_hash FROM mlsec_audit_entries WHERE idx = ANY(\(leafIDs)::bigint[])
            UNION ALL SELECT id, hash FROM mlsec_audit_nodes WHERE id = ANY(\(nodeIDs)::bigint[])
            """)
        for try await (id, hash) in rows.decode((Int64, ByteBuffer).self) { nodes[id] = Array(hash.readableBytesView) }
        return nodes
    }

    public func currentSize() async throws -> UInt64 {
        let client = database.client
        let size = try await database.withDeadline { () -> Int64? in
            for try await value in try await client.query("SELECT size FROM mlsec_audit_head WHERE id = 1").decode(Int64.self) {
                return value
            }
            return nil
        }
        guard let size, size >= 0 else { throw MLSecError.malformed("\(location): the audit head row is missing") }
        return UInt64(size)
    }

    /// Runs `build` twice: once to learn which nodes it reads (they depend only on the sizes), then, after one
    /// query for all of them, for real.
    private func withNodes<T>(_ build: (MerkleProofBuilder<TwoPassNodeReader>) throws -> T) async throws -> T {
        let reader = TwoPassNodeReader()
        _ = try build(MerkleProofBuilder(reader: reader))
        let client = database.client
        let coordinates = reader.recorded
        reader.nodes = try await database.withDeadline {
            try await Self.fetch(coordinates, query: { try await client.query($0) })
        }
        return try build(MerkleProofBuilder(reader: reader))
    }

    public func root(size: UInt64?) async throws -> (size: UInt64, root: [UInt8]) {
        let size = try AuditEntryLimits.checkSize(size, current: try await currentSize())
        return (size, try await withNodes { try $0.root(size: size) })
    }

    public func inclusionProof(index: UInt64, size: UInt64?) async throws -> (size: UInt64, proof: [[UInt8]]) {
        let size = try AuditEntryLimits.checkSize(size, current: try await currentSize())
        guard index < size else { throw MLSecError.usage("index \(index) is not below the tree size \(size)") }
        return (size, try await withNodes { try $0.inclusionProof(index: index, size: size) })
    }

    public func consistencyProof(from: UInt64, to: UInt64) async throws -> [[UInt8]] {
        let to = try AuditEntryLimits.checkSize(to, current: try await currentSize())
        guard from > 0, from <= to else { throw MLSecError.usage("consistency needs 0 < from <= to (from \(from), to \(to))") }
        return try await withNodes { try $0.consistencyProof(from: from, to: to) }
    }

    public func entry(at index: UInt64) async throws -> [UInt8] {
        let size = try await currentSize()
        guard index < size else { throw MLSecError.usage("index \(index) is not below the log size \(size)") }
        let client = database.client
        let id = Int64(index)
        let data = try await database.withDeadline { () -> ByteBuffer? in
            for try await value in try await client.query("SELECT data FROM mlsec_audit_entries WHERE idx = \(id)").decode(ByteBuffer.self) {
                return value
            }
            return nil
        }
        guard let data else { throw MLSecError.malformed("\(location): entry \(index) is missing") }
        return Array(data.readableBytesView)
    }

    /// Checks the whole log in one consistent snapshot (a read-only repeatable-read transaction), reading
    /// entries in pages and the nodes each page completes in one query per page. No deadline: a large log
    /// takes as long as it takes.
    public func verify(progress: (@Sendable (UInt64) -> Void)?) async throws -> AuditVerificationReport {
        let logger = database.logger
        return try await database.client.withConnection { connection in
            try await connection.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", logger: logger)
            do {
                let report = try await Self.check(connection: connection, logger: logger, location: location, progress: progress)
                try await connection.query("ROLLBACK", logger: logger)
                return report
            } catch {
                _ = try? await connection.query("ROLLBACK", logger: logger)
                throw error
            }
        }
    }

    private static func check(connection: PostgresConnection, logger: Logger, location: String,
                              progress: (@Sendable (UInt64) -> Void)?) async throws -> AuditVerificationReport {
        var recorded: Int64?
        for try await value in try await connection.query("SELECT size FROM mlsec_audit_head WHERE id = 1", logger: logger)
            .decode(Int64.self) { recorded = value }
        var checker = AuditLogChecker()
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

/// Answers a proof builder twice: first noting which nodes it asks for (with placeholders), then from the
/// nodes fetched by storage id.
final class TwoPassNodeReader: MerkleNodeReader {
    var recorded: [(level: Int, index: UInt64)] = []
    var nodes: [Int64: [UInt8]]?

    func node(level: Int, index: UInt64) throws -> [UInt8] {
        guard let nodes else {
            recorded.append((level, index))
            return [UInt8](repeating: 0, count: MerkleHash.size)
        }
        guard let hash = nodes[MerkleRightEdge.storageID(level: level, index: index)], hash.count == MerkleHash.size else {
            throw MLSecError.verificationFailed("the tree node at level \(level), index \(index) is missing or damaged")
        }
        return hash
    }
}
