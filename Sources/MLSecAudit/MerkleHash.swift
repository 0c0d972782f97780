// MerkleHash: RFC 6962 / RFC 9162 hashing: leaves (0x00 prefix), interior nodes (0x01 prefix), SHA-256.

import Crypto

/// The hashes of an RFC 6962 Merkle tree. The one-byte prefixes keep a leaf from ever passing as a node.
public enum MerkleHash {
    /// Every hash is 32 bytes (SHA-256).
    public static let size = 32

    /// The root of the empty tree: SHA-256 of nothing (not the hash of an empty leaf).
    public static let emptyRoot: [UInt8] = Array(SHA256.hash(data: [UInt8]()))

    /// SHA-256(0x00 || entry).
    public static func leaf<Bytes: Collection>(_ entry: Bytes) -> [UInt8] where Bytes.Element == UInt8 {
        var hasher = SHA256()
        hasher.update(data: [0x00])
        hasher.update(data: Array(entry))
        return Array(hasher.finalize())
    }

    /// SHA-256(0x01 || left || right).
    public static func node(_ left: [UInt8], _ right: [UInt8]) -> [UInt8] {
        var hasher = SHA256()
        hasher.update(data: [0x01])
        hasher.update(data: left)
        hasher.update(data: right)
        return Array(hasher.finalize())
    }

    /// The largest power of two strictly less than `n` (n >= 2): where RFC 6962 splits a tree of n leaves.
    static func split(_ n: UInt64) -> UInt64 {
        precondition(n >= 2)
        return 1 << (63 - (n - 1).leadingZeroBitCount)
    }
}
