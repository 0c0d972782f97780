// MerkleRightEdge: the perfect subtrees on a growing tree's right edge, and the interior nodes each new leaf completes.

import MLSecCore

/// The right edge of an RFC 6962 tree of `size` leaves: for each set bit l of the size, the hash of the perfect
/// subtree at level l that ends the tree. Appending a leaf merges the equal-sized subtrees it completes and
/// reports each new interior node, which is exactly what a store must persist; the root folds the edge.
/// O(log n) memory, shared by every store (SQLite, PostgreSQL) and by verification.
public struct MerkleRightEdge: Sendable, Equatable {
    /// The number of leaves so far.
    public private(set) var size: UInt64 = 0
    /// edge[l]: the node at level l when bit l of the size is set, else nil.
    private var edge: [[UInt8]?] = []

    /// An interior node (level >= 1) that an append completed.
    public struct Node: Sendable, Equatable {
        public var level: Int
        public var index: UInt64
        public var hash: [UInt8]
        /// The key under which the stores keep this node.
        public var storageID: Int64 { MerkleRightEdge.storageID(level: level, index: index) }
    }

    public init() {}

    /// The key of the node at `level`, `index` in the stores: `level << 56 | index` (trees stay below 2^56 leaves).
    public static func storageID(level: Int, index: UInt64) -> Int64 { Int64(level) << 56 | Int64(index) }

    /// The (level, index) of the nodes on the right edge of a tree of `size` leaves (level 0 is a leaf hash).
    public static func coordinates(size: UInt64) -> [(level: Int, index: UInt64)] {
        (0..<64).compactMap { level in
            size >> UInt64(level) & 1 == 1 ? (level, (size >> UInt64(level)) - 1) : nil
        }
    }

    /// Restores the edge of a tree of `size` leaves from its stored nodes, read with `node(level, index)` at
    /// each of ``coordinates(size:)``.
    /// - Throws: `MLSecError.verificationFailed` when a node is missing or not a 32-byte hash.
    public init(size: UInt64, node: (Int, UInt64) throws -> [UInt8]?) throws {
        self.size = size
        for (level, index) in Self.coordinates(size: size) {
            guard let hash = try node(level, index), hash.count == MerkleHash.size else {
                throw MLSecError.verificationFailed("the stored tree node at level \(level), index \(index) is missing or damaged")
            }
            while edge.count <= level { edge.append(nil) }
            edge[level] = hash
        }
    }

    /// Adds a leaf hash; returns every interior node it completes, lowest first.
    public mutating func append(leafHash: [UInt8]) -> [Node] {
        var completed: [Node] = []
        var hash = leafHash
        var level = 0
        var index = size
        while index & 1 == 1 {
            // Bit `level` of the size is set, so the edge holds the left sibling there (init checked it).
            guard let left = edge[level] else { preconditionFailure("the right edge lacks level \(level)") }
            hash = MerkleHash.node(left, hash)
            edge[level] = nil
            level += 1
            index >>= 1
            completed.append(Node(level: level, index: index, hash: hash))
        }
        while edge.count <= level { edge.append(nil) }
        edge[level] = hash
        size += 1
        return completed
    }

    /// The root of the leaves so far.
    public func root() -> [UInt8] {
        var root: [UInt8]?
        for hash in edge.compactMap({ $0 }) {
            root = root.map { MerkleHash.node(hash, $0) } ?? hash
        }
        return root ?? MerkleHash.emptyRoot
    }
}
