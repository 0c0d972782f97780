// AuditLogChecker: recomputes a stored log's tree from its entries, the one check every store's verify shares.

import MLSecCore

/// Recomputes a stored log's tree entry by entry and checks it against what the store holds (shared by
/// every store, so that each one detects the same tampering with the same messages). With a prefix size it
/// also records the root of the first `prefix` entries as recomputed from their bytes, which is what a
/// checkpoint of that size must match.
public struct AuditLogChecker: Sendable {
    private var tree = MerkleRightEdge()
    private let prefix: UInt64?
    private var prefixRoot: [UInt8]?

    /// - Parameter prefix: also record the root of the first `prefix` entries (nil: none).
    public init(prefix: UInt64? = nil) {
        self.prefix = prefix
        if prefix == 0 { prefixRoot = MerkleHash.emptyRoot }
    }

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
        let completed = tree.append(leafHash: leaf)
        if tree.size == prefix { prefixRoot = tree.root() }
        return completed
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
        return AuditVerificationReport(size: size, root: tree.root(), prefixRoot: prefixRoot)
    }
}
