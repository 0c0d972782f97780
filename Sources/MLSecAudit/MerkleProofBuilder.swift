// MerkleProofBuilder: roots and RFC 6962 inclusion and consistency proofs from stored perfect-subtree hashes.

/// Reads the hash of a perfect subtree: the node at `level` (0 = leaves) and `index` covers leaves
/// [index * 2^level, (index + 1) * 2^level).
public protocol MerkleNodeReader {
    func node(level: Int, index: UInt64) throws -> [UInt8]
}

/// Builds roots and proofs with O(log n) node reads, never rehashing the tree.
public struct MerkleProofBuilder<Reader: MerkleNodeReader> {
    public let reader: Reader

    public init(reader: Reader) { self.reader = reader }

    /// MTH(D[lo:hi]) for the ranges RFC 6962's recursions use (lo is a multiple of the largest power of two
    /// not above hi - lo, so a power-of-two range is one stored node).
    func hash(_ lo: UInt64, _ hi: UInt64) throws -> [UInt8] {
        let n = hi - lo
        if n & (n - 1) == 0 {
            let level = n.trailingZeroBitCount
            return try reader.node(level: level, index: lo >> UInt64(level))
        }
        let k = MerkleHash.split(n)
        return MerkleHash.node(try hash(lo, lo + k), try hash(lo + k, hi))
    }

    /// The root of the tree of the first `size` leaves.
    public func root(size: UInt64) throws -> [UInt8] {
        size == 0 ? MerkleHash.emptyRoot : try hash(0, size)
    }

    /// The audit path of leaf `index` in the tree of `size` leaves (RFC 6962 PATH), bottom-up.
    public func inclusionProof(index: UInt64, size: UInt64) throws -> [[UInt8]] {
        precondition(index < size)
        var proof: [[UInt8]] = []
        var lo: UInt64 = 0
        var hi = size
        var m = index
        // Walk down from the root, collecting siblings top-down, then reverse.
        while hi - lo > 1 {
            let k = MerkleHash.split(hi - lo)
            if m < k {
                proof.append(try hash(lo + k, hi))
                hi = lo + k
            } else {
                proof.append(try hash(lo, lo + k))
                lo += k
                m -= k
            }
        }
        return proof.reversed()
    }

    /// The consistency proof between the trees of `from` and `to` leaves (RFC 6962 PROOF), 0 < from <= to.
    public func consistencyProof(from m: UInt64, to n: UInt64) throws -> [[UInt8]] {
        precondition(m > 0 && m <= n)
        if m == n { return [] }
        var proof: [[UInt8]] = []
        var lo: UInt64 = 0
        var hi = n
        var m = m
        var complete = true
        while true {
            let size = hi - lo
            if m == size {
                if !complete { proof.append(try hash(lo, hi)) }
                break
            }
            let k = MerkleHash.split(size)
            if m <= k {
                proof.append(try hash(lo + k, hi))
                hi = lo + k
            } else {
                proof.append(try hash(lo, lo + k))
                lo += k
                m -= k
                complete = false
            }
        }
        return proof.reversed()
    }
}

/// Perfect-subtree hashes held in memory (for tests and small trees).
public struct InMemoryMerkleTree: MerkleNodeReader {
    /// levels[l][i] is the node at level l, index i.
    public private(set) var levels: [[[UInt8]]] = [[]]

    public init() {}

    public var size: UInt64 { UInt64(levels[0].count) }

    /// Appends a leaf hash and the perfect subtrees it completes.
    public mutating func append(leafHash: [UInt8]) {
        levels[0].append(leafHash)
        var level = 0
        while levels[level].count % 2 == 0 {
            let n = levels[level].count
            let parent = MerkleHash.node(levels[level][n - 2], levels[level][n - 1])
            if levels.count == level + 1 { levels.append([]) }
            levels[level + 1].append(parent)
            level += 1
        }
    }

    public func node(level: Int, index: UInt64) throws -> [UInt8] {
        levels[level][Int(index)]
    }
}
