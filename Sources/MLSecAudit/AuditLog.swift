// AuditLog: an append-only RFC 6962 Merkle log in one SQLite file (GRDB), durable before it acknowledges.

import Foundation
import GRDB
import MLSecCore

/// A tamper-evident, append-only log of entries (canonical JSON audit events or raw bytes).
///
/// Storage is one SQLite file in WAL mode with `synchronous=FULL`: `entries(idx, leaf_hash, data)` and
/// `nodes(id, hash)`, where `id = level << 56 | index` holds the hash of every perfect subtree of two or more
/// leaves (the leaf hashes live with their entries). An append batch inserts its entries and the nodes they complete in one transaction, so a crash at
/// any moment leaves either the whole batch or none of it, and ``append(_:)`` returns only after the commit is
/// on disk. Roots and proofs read O(log n) stored nodes; nothing is rehashed.
public final class AuditLog: @unchecked Sendable {
    public let path: String
    private let database: DatabaseQueue
    private let lock = NSLock()
    /// The tree's right edge at the committed size (published only after each commit).
    private var tree = MerkleRightEdge()

    /// Most bytes in one entry (audit events are far smaller).
    public static let maxEntryBytes = AuditEntryLimits.maxEntryBytes

    /// Opens the log at `path`, creating it when `create` is set.
    /// - Throws: `MLSecError` (io) when the file cannot be opened, or (malformed) when it is not an MLSec log.
    public init(path: String, create: Bool = true) throws {
        self.path = path
        if !create, !FileStatus.exists(path) {
            throw MLSecError.io("no audit log at \(path)")
        }
        var configuration = Configuration()
        configuration.label = "mlsec-audit"
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA journal_mode = WAL")
            try db.execute(sql: "PRAGMA synchronous = FULL")
        }
        configuration.busyMode = .timeout(10)
        do {
            database = try DatabaseQueue(path: path, configuration: configuration)
            try database.write { db in
                try db.execute(sql: """
                    CREATE TABLE IF NOT EXISTS log_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
                    CREATE TABLE IF NOT EXISTS entries (idx INTEGER PRIMARY KEY, leaf_hash BLOB NOT NULL, data BLOB NOT NULL);
                    CREATE TABLE IF NOT EXISTS nodes (id INTEGER PRIMARY KEY, hash BLOB NOT NULL);
                    INSERT OR IGNORE INTO log_meta (key, value) VALUES ('format', 'mlsec-merkle-log-v2');
                    """)
            }
            let format = try database.read { db in
                try String.fetchOne(db, sql: "SELECT value FROM log_meta WHERE key = 'format'")
            }
            guard format == "mlsec-merkle-log-v2" else {
                throw MLSecError.malformed("\(path) is not an MLSec audit log (format \(format ?? "missing"))")
            }
            try reloadState()
        } catch let error as DatabaseError {
            throw MLSecError.io("cannot open the audit log \(path): \(error.message ?? error.description)")
        }
    }

    /// Reads the size and the right edge from the database.
    private func reloadState() throws {
        try database.read { db in
            let maxIndex = try Int64.fetchOne(db, sql: "SELECT max(idx) FROM entries")
            let reader = SQLiteNodeReader(db: db)
            let edge = try MerkleRightEdge(size: maxIndex.map { UInt64($0) + 1 } ?? 0) { level, index in
                try reader.node(level: level, index: index)
            }
            lock.withLock { tree = edge }
        }
    }

    /// The number of entries.
    public var size: UInt64 { lock.withLock { tree.size } }

    /// Appends `entries` in one durable transaction and returns their indexes.
    /// - Throws: `MLSecError` (limitExceeded) for an entry over ``maxEntryBytes``; (io) when the write fails,
    ///   in which case nothing was appended.
    @discardableResult
    public func append(_ entries: [[UInt8]]) throws -> Range<UInt64> {
        try AuditEntryLimits.check(entries)
        guard !entries.isEmpty else { return size..<size }
        do {
            return try database.write { db in
                var tree = lock.withLock { self.tree }
                let first = tree.size
                let insertEntry = try db.cachedStatement(sql: "INSERT INTO entries (idx, leaf_hash, data) VALUES (?, ?, ?)")
                let insertNode = try db.cachedStatement(sql: "INSERT INTO nodes (id, hash) VALUES (?, ?)")
                for entry in entries {
                    let leaf = MerkleHash.leaf(entry)
                    try insertEntry.execute(arguments: [Int64(tree.size), Data(leaf), Data(entry)])
                    for node in tree.append(leafHash: leaf) {
                        try insertNode.execute(arguments: [node.storageID, Data(node.hash)])
                    }
                }
                // Publish the new state only once the transaction commits (GRDB commits after this closure).
                let committed = tree
                db.afterNextTransaction(onCommit: { _ in
                    self.lock.withLock { self.tree = committed }
                })
                return first..<tree.size
            }
        } catch let error as DatabaseError {
            throw MLSecError.io("cannot append to the audit log \(path): \(error.message ?? error.description)")
        }
    }

    /// The entry at `index`.
    public func entry(at index: UInt64) throws -> [UInt8] {
        guard index < size else { throw MLSecError.usage("index \(index) is not below the log size \(size)") }
        guard let data = try database.read({ db in
            try Data.fetchOne(db, sql: "SELECT data FROM entries WHERE idx = ?", arguments: [Int64(index)])
        }) else { throw MLSecError.malformed("\(path): entry \(index) is missing") }
        return [UInt8](data)
    }

    /// Up to `limit` entries from index `from` on, in index order.
    public func entries(from: UInt64, limit: Int) throws -> [(index: UInt64, data: [UInt8])] {
        guard limit > 0, from < size else { return [] }
        return try database.read { db in
            let rows = try Row.fetchCursor(
                db, sql: "SELECT idx, data FROM entries WHERE idx >= ? ORDER BY idx LIMIT ?", arguments: [Int64(from), limit])
            var out: [(index: UInt64, data: [UInt8])] = []
            while let row = try rows.next() {
                let index: Int64 = row[0]
                guard index >= 0, let data = row[1] as Data? else {
                    throw MLSecError.verificationFailed("\(path): the stored entry \(index) is damaged; run `mlsec audit verify`")
                }
                out.append((UInt64(index), [UInt8](data)))
            }
            return out
        }
    }

    private func withProofBuilder<T>(_ body: (MerkleProofBuilder<SQLiteNodeReader>) throws -> T) throws -> T {
        try database.read { db in try body(MerkleProofBuilder(reader: SQLiteNodeReader(db: db))) }
    }

    private func checkSize(_ size: UInt64?) throws -> UInt64 {
        try AuditEntryLimits.checkSize(size, current: self.size)
    }

    /// The root of the first `size` entries (the whole log by default).
    public func root(size: UInt64? = nil) throws -> (size: UInt64, root: [UInt8]) {
        let size = try checkSize(size)
        return (size, try withProofBuilder { try $0.root(size: size) })
    }

    /// The inclusion proof of entry `index` in the tree of `size` entries.
    public func inclusionProof(index: UInt64, size: UInt64? = nil) throws -> (size: UInt64, proof: [[UInt8]]) {
        let size = try checkSize(size)
        guard index < size else { throw MLSecError.usage("index \(index) is not below the tree size \(size)") }
        return (size, try withProofBuilder { try $0.inclusionProof(index: index, size: size) })
    }

    /// The consistency proof between the trees of `from` and `to` entries.
    public func consistencyProof(from: UInt64, to: UInt64) throws -> [[UInt8]] {
        let to = try checkSize(to)
        guard from > 0, from <= to else {
            throw MLSecError.usage("consistency needs 0 < from <= to (from \(from), to \(to))")
        }
        return try withProofBuilder { try $0.consistencyProof(from: from, to: to) }
    }

    /// Recomputes every leaf and interior hash from the entries and compares them with the stored tree, in one
    /// read transaction; with `prefix`, also records the root of the first `prefix` entries as recomputed.
    /// - Throws: `MLSecError` (verificationFailed) naming the first bad entry.
    public func verify(prefix: UInt64? = nil, progress: ((UInt64) -> Void)? = nil) throws -> AuditVerificationReport {
        try database.read { db in
            let reader = SQLiteNodeReader(db: db)
            var checker = AuditLogChecker(prefix: prefix)
            let cursor = try Row.fetchCursor(db, sql: "SELECT idx, leaf_hash, data FROM entries ORDER BY idx")
            while let row = try cursor.next() {
                guard let stored = row[1] as Data?, let data = row[2] as Data? else {
                    throw MLSecError.verificationFailed("entry \(checker.checked) has no leaf hash or no data: it was modified")
                }
                for node in try checker.next(index: row[0], storedLeafHash: [UInt8](stored), data: [UInt8](data)) {
                    try AuditLogChecker.compare(node, stored: try? reader.node(level: node.level, index: node.index))
                }
                if checker.checked % 1_000_000 == 0 { progress?(checker.checked) }
            }
            return try checker.finish(storedNodeCount: try Int64.fetchOne(db, sql: "SELECT count(*) FROM nodes") ?? 0)
        }
    }
}

/// Reads stored perfect-subtree hashes.
struct SQLiteNodeReader: MerkleNodeReader {
    let db: Database

    func node(level: Int, index: UInt64) throws -> [UInt8] {
        let data: Data?
        if level == 0 {
            let statement = try db.cachedStatement(sql: "SELECT leaf_hash FROM entries WHERE idx = ?")
            data = try Data.fetchOne(statement, arguments: [Int64(index)])
        } else {
            let statement = try db.cachedStatement(sql: "SELECT hash FROM nodes WHERE id = ?")
            data = try Data.fetchOne(statement, arguments: [MerkleRightEdge.storageID(level: level, index: index)])
        }
        guard let data,
            data.count == MerkleHash.size
        else {
            throw MLSecError.verificationFailed("the tree node at level \(level), index \(index) is missing or damaged")
        }
        return [UInt8](data)
    }
}
