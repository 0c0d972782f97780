// AuditStore: what the gateway and the CLI need of a Merkle audit log, whichever database holds it.

import MLSecCore

/// An append-only RFC 6962 log of entries in durable storage: `SQLiteAuditStore` (one file, the embedded
/// default) or `PostgresAuditStore` (one log shared by gateway replicas). Every method is async so that no
/// caller's thread waits for a disk or a database; sizes are read from the store, so a log that other
/// replicas append to is seen as it is.
public protocol AuditStore: Sendable {
    /// Where the log lives, for messages (a path, or a database URL without its password).
    var location: String { get }
    /// Appends `entries` in one durable transaction (all or none) and returns their indexes.
    func append(_ entries: [[UInt8]]) async throws -> Range<UInt64>
    /// The number of entries now.
    func currentSize() async throws -> UInt64
    /// The root of the first `size` entries (the whole log when nil).
    func root(size: UInt64?) async throws -> (size: UInt64, root: [UInt8])
    /// The inclusion proof of entry `index` in the tree of `size` entries (the whole log when nil).
    func inclusionProof(index: UInt64, size: UInt64?) async throws -> (size: UInt64, proof: [[UInt8]])
    /// The consistency proof between the trees of `from` and `to` entries.
    func consistencyProof(from: UInt64, to: UInt64) async throws -> [[UInt8]]
    /// The entry at `index`.
    func entry(at index: UInt64) async throws -> [UInt8]
    /// Recomputes every leaf and interior hash from the entries and compares them with the stored tree.
    func verify(progress: (@Sendable (UInt64) -> Void)?) async throws -> AuditVerificationReport
}

/// A store that can append on the calling thread: a writer with a thread of its own (the gateway's audit
/// writer) calls it directly instead of awaiting ``AuditStore/append(_:)``.
public protocol BlockingAuditAppender: Sendable {
    /// Appends `entries` in one durable transaction and returns their indexes; blocks until durable.
    func appendBlocking(_ entries: [[UInt8]]) throws -> Range<UInt64>
}

/// What a full verification of a log checked.
public struct AuditVerificationReport: Sendable {
    public var size: UInt64
    public var root: [UInt8]
}

public enum AuditEntryLimits {
    /// Most bytes in one entry (audit events are far smaller).
    public static let maxEntryBytes = 64 * 1024

    /// - Throws: `MLSecError.limitExceeded` naming the first entry over ``maxEntryBytes``.
    public static func check(_ entries: [[UInt8]]) throws {
        for (i, entry) in entries.enumerated() where entry.count > maxEntryBytes {
            throw MLSecError.limitExceeded("entry \(i) of the batch is \(entry.count) bytes; the limit is \(maxEntryBytes)")
        }
    }

    /// - Throws: `MLSecError.usage` unless `size` (nil: `current`) is at most `current`; returns the size to use.
    public static func checkSize(_ size: UInt64?, current: UInt64) throws -> UInt64 {
        let size = size ?? current
        guard size <= current else { throw MLSecError.usage("size \(size) is larger than the log (\(current) entries)") }
        return size
    }
}

extension AuditStore {
    /// A checkpoint of the whole log as it is now, signed by `signer`, for `origin`.
    public func checkpoint(origin: String, signer: NoteSigner) async throws -> String {
        let (size, root) = try await root(size: nil)
        return try Checkpoint(origin: origin, size: size, root: root).signed(by: signer)
    }

    /// Checks that this log is consistent with `checkpoint`: the log holds at least its entries, the root of
    /// its first `size` entries is the checkpoint's root, and a consistency proof from there to the current
    /// size verifies. Returns the size checked against.
    /// - Throws: `MLSecError` (verificationFailed) when the log was rewritten or truncated since.
    public func verifyConsistency(with checkpoint: Checkpoint) async throws -> UInt64 {
        let current = try await currentSize()
        guard checkpoint.size <= current else {
            throw MLSecError.verificationFailed(
                "the log has \(current) entries but the checkpoint covers \(checkpoint.size): entries were removed")
        }
        let (_, root) = try await root(size: checkpoint.size)
        guard ConstantTime.equal(root, checkpoint.root) else {
            throw MLSecError.verificationFailed(
                "the log's first \(checkpoint.size) entries no longer have the checkpoint's root: the log was rewritten")
        }
        if checkpoint.size > 0, checkpoint.size < current {
            let proof = try await consistencyProof(from: checkpoint.size, to: current)
            let (_, now) = try await self.root(size: current)
            do {
                try MerkleVerifier.verifyConsistency(
                    size1: checkpoint.size, size2: current, proof: proof, root1: checkpoint.root, root2: now)
            } catch {
                throw MLSecError.verificationFailed("the log is not consistent with the checkpoint: \(error.message)")
            }
        }
        return current
    }
}

/// Recomputes a stored log's tree entry by entry and checks it against what the store holds (shared by
/// every store, so that each one detects the same tampering with the same messages).
public struct AuditLogChecker: Sendable {
    private var tree = MerkleRightEdge()

    public init() {}

    /// How many entries were checked.
    public var checked: UInt64 { tree.size }

    /// Checks the next stored entry (the store reads them in index order) and returns the interior nodes it
    /// completes, each to be compared with the stored one through ``compare(_:stored:)``.
    /// - Throws: `MLSecError.verificationFailed` when the index is not the next one or the leaf hash differs.
    public mutating func next(index: Int64, storedLeafHash: [UInt8], data: [UInt8]) throws -> [MerkleRightEdge.Node] {
        let expected = tree.size
        guard index >= 0, UInt64(index) == expected else {
            throw MLSecError.verificationFailed("entry \(expected) is missing (the next stored index is \(index))")
        }
        let leaf = MerkleHash.leaf(data)
        guard storedLeafHash == leaf else {
            throw MLSecError.verificationFailed("entry \(expected) does not match its stored leaf hash: it was modified")
        }
        return tree.append(leafHash: leaf)
    }

    /// - Throws: `MLSecError.verificationFailed` naming the entries a stored node covers when it differs.
    public static func compare(_ node: MerkleRightEdge.Node, stored: [UInt8]?) throws {
        guard let stored, stored == node.hash else {
            let first = node.index << UInt64(node.level)
            let last = first + (1 << UInt64(node.level)) - 1
            throw MLSecError.verificationFailed(
                "the stored tree node over entries \(first)...\(last) does not match them: the log was modified (first bad entry at or after \(first))")
        }
    }

    /// Checks that the store holds no more nodes than the entries need, and, when it records its own size,
    /// that it equals the entries found; returns the report.
    public func finish(storedNodeCount: Int64, recordedSize: UInt64? = nil) throws -> AuditVerificationReport {
        let size = tree.size
        if let recordedSize, recordedSize != size {
            throw MLSecError.verificationFailed("the log records \(recordedSize) entries but holds \(size)")
        }
        let wanted = size - UInt64(size.nonzeroBitCount)
        guard storedNodeCount == Int64(wanted) else {
            throw MLSecError.verificationFailed("the log holds \(storedNodeCount) tree nodes; \(size) entries need \(wanted)")
        }
        return AuditVerificationReport(size: size, root: tree.root())
    }
}
