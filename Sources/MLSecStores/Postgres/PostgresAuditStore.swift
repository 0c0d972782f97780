// PostgresAuditStore: one RFC 6962 audit log in PostgreSQL, appended to by every gateway replica in one sequence.

import Foundation
import Logging
import MLSecAudit
import MLSecCore
import NIOCore
import PostgresNIO

/// The audit log in PostgreSQL, for replicas: `mlsec_audit_entries(idx, leaf_hash, data)`,
/// `mlsec_audit_nodes(id, hash)` (the same layout as the SQLite log: `id = level << 56 | index` for each
/// perfect subtree of two or more leaves) and `mlsec_audit_head(size)`, one row.
///
/// An append is one round trip: the `mlsec_audit_append` function locks the head row (`SELECT ... FOR
/// UPDATE`), so the replicas' batches take turns and get consecutive indexes; it reads the right edge of the
/// stored tree (O(log n) rows), inserts the entries with their leaf hashes (computed here, in Swift) in one
/// statement, computes the interior nodes they complete (RFC 6962, PostgreSQL's `sha256`), inserts those in one
/// statement, moves the head and returns the first index. The lock is held only
/// while the server runs the function, never across a client's round trips: a busy replica whose threads
/// answer late cannot make the others wait (with a transaction of several round trips, the head stayed locked
/// for up to half a second under saturation). A batch is all or nothing, durable at PostgreSQL's commit;
/// whatever computed the tree, `verify` recomputes it in Swift from the entries. Roots and proofs read the
/// O(log n) nodes they need in one query. Needs PostgreSQL 11 or later (`sha256`).
public final class PostgresAuditStore: AuditStore {
    let database: PostgresDatabase
    public let location: String

    static let schema: [PostgresQuery] = [
        "CREATE TABLE IF NOT EXISTS mlsec_audit_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
        "INSERT INTO mlsec_audit_meta (key, value) VALUES ('format', 'mlsec-merkle-log-v2') ON CONFLICT (key) DO NOTHING",
        "CREATE TABLE IF NOT EXISTS mlsec_audit_entries (idx BIGINT PRIMARY KEY, leaf_hash BYTEA NOT NULL, data BYTEA NOT NULL)",
        "CREATE TABLE IF NOT EXISTS mlsec_audit_nodes (id BIGINT PRIMARY KEY, hash BYTEA NOT NULL)",
        "CREATE TABLE IF NOT EXISTS mlsec_audit_head (id INT PRIMARY KEY CHECK (id = 1), size BIGINT NOT NULL CHECK (size >= 0))",
        "INSERT INTO mlsec_audit_head (id, size) VALUES (1, 0) ON CONFLICT (id) DO NOTHING",
        """
        CREATE OR REPLACE FUNCTION mlsec_audit_append(p_entries BYTEA[], p_leaves BYTEA[]) RETURNS BIGINT LANGUAGE plpgsql AS $$
        DECLARE
            n BIGINT;
            first BIGINT;
            count INT := coalesce(array_length(p_entries, 1), 0);
            edge BYTEA[] := '{}';
            ids BIGINT[] := '{}';
            hashes BYTEA[] := '{}';
            h BYTEA;
            lvl INT;
            pos BIGINT;
        BEGIN
            IF coalesce(array_length(p_leaves, 1), 0) <> count THEN
                RAISE EXCEPTION 'mlsec_audit_append: % entries but % leaf hashes', count, coalesce(array_length(p_leaves, 1), 0);
            END IF;
            SELECT size INTO n FROM mlsec_audit_head WHERE id = 1 FOR UPDATE;
            IF n IS NULL THEN RAISE EXCEPTION 'mlsec_audit_head has no row'; END IF;
            first := n;
            -- The right edge of the tree of n leaves: for each set bit l of n, the node at level l (edge[l + 1]).
            FOR l IN 0..62 LOOP
                IF (n >> l) & 1 = 1 THEN
                    IF l = 0 THEN
                        SELECT leaf_hash INTO h FROM mlsec_audit_entries WHERE idx = n - 1;
                    ELSE
                        SELECT hash INTO h FROM mlsec_audit_nodes WHERE id = (l::BIGINT << 56) | ((n >> l) - 1);
                    END IF;
                    IF h IS NULL OR length(h) <> 32 THEN
                        RAISE EXCEPTION 'the stored tree lacks its node at level %, index %', l, (n >> l) - 1;
                    END IF;
                    edge[l + 1] := h;
                END IF;
            END LOOP;
            INSERT INTO mlsec_audit_entries (idx, leaf_hash, data)
                SELECT first + t.o - 1, t.leaf, t.entry FROM unnest(p_leaves, p_entries) WITH ORDINALITY AS t(leaf, entry, o);
            -- Each leaf merges the equal-sized subtrees on the edge: RFC 6962 nodes, SHA-256(0x01 || left || right).
            FOR i IN 1..count LOOP
                h := p_leaves[i];
                lvl := 0;
                pos := n;
                WHILE pos & 1 = 1 LOOP
                    h := sha256('\\x01'::bytea || edge[lvl + 1] || h);
                    edge[lvl + 1] := NULL;
                    lvl := lvl + 1;
                    pos := pos >> 1;
                    ids := array_append(ids, (lvl::BIGINT << 56) | pos);
                    hashes := array_append(hashes, h);
                END LOOP;
                edge[lvl + 1] := h;
                n := n + 1;
            END LOOP;
            INSERT INTO mlsec_audit_nodes (id, hash) SELECT * FROM unnest(ids, hashes);
            UPDATE mlsec_audit_head SET size = n WHERE id = 1;
            RETURN first;
        END $$
        """,
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
        let data = entries.map { ByteBuffer(bytes: $0) }
        let leaves = entries.map { ByteBuffer(bytes: MerkleHash.leaf($0)) }
        let client = database.client
        let first = try await database.withDeadline { () -> Int64? in
            for try await value in try await client.query("SELECT mlsec_audit_append(\(data)::bytea[], \(leaves)::bytea[])")
                .decode(Int64.self) {
                return value
            }
            return nil
        }
        guard let first, first >= 0 else { throw MLSecError.malformed("\(location): mlsec_audit_append returned no index") }
        return UInt64(first)..<(UInt64(first) + UInt64(entries.count))
    }

    /// Reads the nodes at `coordinates` (leaf hashes for level 0) in one query, keyed by storage id.
    static func fetch(_ coordinates: [(level: Int, index: UInt64)],
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

    public func entries(from: UInt64, limit: Int) async throws -> [(index: UInt64, data: [UInt8])] {
        guard limit > 0, from < UInt64(Int64.max) else { return [] }
        let client = database.client
        let start = Int64(from)
        let location = location
        return try await database.withDeadline {
            var out: [(index: UInt64, data: [UInt8])] = []
            let rows = try await client.query(
                "SELECT idx, data FROM mlsec_audit_entries WHERE idx >= \(start) ORDER BY idx LIMIT \(limit)")
            for try await (index, data) in rows.decode((Int64, ByteBuffer).self) {
                guard index >= 0 else { throw MLSecError.verificationFailed("\(location): a stored entry has the negative index \(index)") }
                out.append((UInt64(index), Array(data.readableBytesView)))
            }
            return out
        }
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
