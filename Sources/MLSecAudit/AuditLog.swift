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
    /// The pending perfect subtrees of the current size: for each set bit l of the size, the node at level l.
    private var rightEdge: [Int: [UInt8]] = [:]
    private var currentSize: UInt64 = 0

    /// Most bytes in one entry (audit events are far smaller).
    public static let maxEntryBytes = 64 * 1024

    static func nodeID(level: Int, index: UInt64) -> Int64 { Int64(level) << 56 | Int64(index) }

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
            let size = maxIndex.map { UInt64($0) + 1 } ?? 0
            var edge: [Int: [UInt8]] = [:]
            let reader = SQLiteNodeReader(db: db)
            for level in 0..<64 where size >> UInt64(level) & 1 == 1 {
                edge[level] = try reader.node(level: level, index: (size >> UInt64(level)) - 1)
            }
            lock.withLock {
                currentSize = size
                rightEdge = edge
            }
        }
    }

    /// The number of entries.
    public var size: UInt64 { lock.withLock { currentSize } }

    /// Appends `entries` in one durable transaction and returns their indexes.
    /// - Throws: `MLSecError` (limitExceeded) for an entry over ``maxEntryBytes``; (io) when the write fails,
    ///   in which case nothing was appended.
    @discardableResult
    public func append(_ entries: [[UInt8]]) throws -> Range<UInt64> {
        for (i, entry) in entries.enumerated() where entry.count > Self.maxEntryBytes {
            throw MLSecError.limitExceeded("entry \(i) of the batch is \(entry.count) bytes; the limit is \(Self.maxEntryBytes)")
        }
        guard !entries.isEmpty else { return size..<size }
        do {
            return try database.write { db in
                var (size, edge) = lock.withLock { (currentSize, rightEdge) }
                let first = size
                let insertEntry = try db.cachedStatement(sql: "INSERT INTO entries (idx, leaf_hash, data) VALUES (?, ?, ?)")
                let insertNode = try db.cachedStatement(sql: "INSERT INTO nodes (id, hash) VALUES (?, ?)")
                for entry in entries {
                    var hash = MerkleHash.leaf(entry)
                    try insertEntry.execute(arguments: [Int64(size), Data(hash), Data(entry)])
                    var level = 0
                    var index = size
                    while index & 1 == 1 {
                        guard let left = edge.removeValue(forKey: level) else {
                            throw MLSecError.malformed("\(path): the stored tree is inconsistent at level \(level)")
                        }
                        hash = MerkleHash.node(left, hash)
                        level += 1
                        index >>= 1
                        try insertNode.execute(arguments: [Self.nodeID(level: level, index: index), Data(hash)])
                    }
                    edge[level] = hash
                    size += 1
                }
                // Publish the new state only once the transaction commits (GRDB commits after this closure).
                let committed = (size, edge)
                try db.afterNextTransaction(onCommit: { _ in
                    self.lock.withLock {
                        self.currentSize = committed.0
                        self.rightEdge = committed.1
                    }
                })
                return first..<size
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

    private func withProofBuilder<T>(_ body: (MerkleProofBuilder<SQLiteNodeReader>) throws -> T) throws -> T {
        try database.read { db in try body(MerkleProofBuilder(reader: SQLiteNodeReader(db: db))) }
    }

    private func checkSize(_ size: UInt64?) throws -> UInt64 {
        let current = self.size
        let size = size ?? current
        guard size <= current else { throw MLSecError.usage("size \(size) is larger than the log (\(current) entries)") }
        return size
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

    /// What ``verify(progress:)`` checked.
    public struct VerificationReport: Sendable {
        public var size: UInt64
        public var root: [UInt8]
    }

    /// Recomputes every leaf and interior hash from the entries and compares them with the stored tree.
    /// - Throws: `MLSecError` (verificationFailed) naming the first bad entry.
    public func verify(progress: ((UInt64) -> Void)? = nil) throws -> VerificationReport {
        try database.read { db in
            let reader = SQLiteNodeReader(db: db)
            var tree = RightEdgeHasher()
            var expected: UInt64 = 0
            let cursor = try Row.fetchCursor(db, sql: "SELECT idx, leaf_hash, data FROM entries ORDER BY idx")
            while let row = try cursor.next() {
                let index: Int64 = row[0]
                guard index >= 0, UInt64(index) == expected else {
                    throw MLSecError.verificationFailed("entry \(expected) is missing (the next stored index is \(index))")
                }
                let stored: Data = row[1]
                let data: Data = row[2]
                let leaf = MerkleHash.leaf([UInt8](data))
                guard [UInt8](stored) == leaf else {
                    throw MLSecError.verificationFailed("entry \(expected) does not match its stored leaf hash: it was modified")
                }
                for (level, index, hash) in tree.append(leaf) {
                    guard let stored = try? reader.node(level: level, index: index), stored == hash else {
                        let first = index << UInt64(level)
                        let last = first + (1 << UInt64(level)) - 1
                        throw MLSecError.verificationFailed(
                            "the stored tree node over entries \(first)...\(last) does not match them: the log was modified (first bad entry at or after \(first))")
                    }
                }
                expected += 1
                if expected % 1_000_000 == 0 { progress?(expected) }
            }
            let nodes = try Int64.fetchOne(db, sql: "SELECT count(*) FROM nodes") ?? 0
            let wanted = expected - UInt64(expected.nonzeroBitCount)
            guard nodes == Int64(wanted) else {
                throw MLSecError.verificationFailed("the log holds \(nodes) tree nodes; \(expected) entries need \(wanted)")
            }
            return VerificationReport(size: expected, root: tree.root())
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
            data = try Data.fetchOne(statement, arguments: [AuditLog.nodeID(level: level, index: index)])
        }
        guard let data,
            data.count == MerkleHash.size
        else {
            throw MLSecError.verificationFailed("the tree node at level \(level), index \(index) is missing or damaged")
        }
        return [UInt8](data)
    }
}

/// Computes perfect-subtree hashes as leaves arrive, keeping only the right edge (O(log n) memory).
struct RightEdgeHasher {
    private var edge: [[UInt8]?] = []
    private var size: UInt64 = 0

    /// Adds a leaf hash; returns the (level, index, hash) of every interior node it completes.
    mutating func append(_ leaf: [UInt8]) -> [(Int, UInt64, [UInt8])] {
        var completed: [(Int, UInt64, [UInt8])] = []
        var hash = leaf
        var level = 0
        var index = size
        while index & 1 == 1 {
            hash = MerkleHash.node(edge[level] ?? [], hash)
            edge[level] = nil
            level += 1
            index >>= 1
            completed.append((level, index, hash))
        }
        while edge.count <= level { edge.append(nil) }
        edge[level] = hash
        size += 1
        return completed
    }

    /// The root of the leaves so far.
    func root() -> [UInt8] {
        var root: [UInt8]?
        for hash in edge.compactMap({ $0 }) {
            root = root.map { MerkleHash.node(hash, $0) } ?? hash
        }
        return root ?? MerkleHash.emptyRoot
    }
}
