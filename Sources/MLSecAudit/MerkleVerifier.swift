// MerkleVerifier: RFC 9162 section 2.1.3.2 and 2.1.4.2 verification of inclusion and consistency proofs.

import MLSecCore

/// Checks Merkle proofs exactly as RFC 9162 defines them, with the edge cases of the transparency-dev probes:
/// every hash must be 32 bytes, an index must be below the size, consistency from size 0 is an error, equal
/// sizes need an empty proof and equal roots.
public enum MerkleVerifier {
    /// Why a proof was refused.
    public struct Failure: Error, CustomStringConvertible, Equatable {
        public var message: String
        public var description: String { message }
    }

    private static func check(_ hash: [UInt8], _ what: String) throws(Failure) {
        guard hash.count == MerkleHash.size else {
            throw Failure(message: "\(what) is \(hash.count) bytes, not \(MerkleHash.size)")
        }
    }

    /// The root implied by an inclusion proof for the leaf at `index` in a tree of `size` leaves.
    public static func rootFromInclusionProof(
        index: UInt64, size: UInt64, leafHash: [UInt8], proof: [[UInt8]]
    ) throws(Failure) -> [UInt8] {
        guard index < size else { throw Failure(message: "index \(index) is not below the tree size \(size)") }
        try check(leafHash, "the leaf hash")
        var fn = index
        var sn = size - 1
        var r = leafHash
        for (i, p) in proof.enumerated() {
            try check(p, "proof element \(i)")
            guard sn != 0 else { throw Failure(message: "the proof has \(proof.count - i) extra element(s)") }
            if fn & 1 == 1 || fn == sn {
                r = MerkleHash.node(p, r)
                while fn & 1 == 0 && fn != 0 {
                    fn >>= 1
                    sn >>= 1
                }
            } else {
                r = MerkleHash.node(r, p)
            }
            fn >>= 1
            sn >>= 1
        }
        guard sn == 0 else { throw Failure(message: "the proof is too short for a tree of \(size) leaves") }
        return r
    }

    /// Verifies that the leaf with hash `leafHash` is at `index` in the tree of `size` leaves with `root`.
    public static func verifyInclusion(
        index: UInt64, size: UInt64, leafHash: [UInt8], proof: [[UInt8]], root: [UInt8]
    ) throws(Failure) {
        try check(root, "the root")
        let computed = try rootFromInclusionProof(index: index, size: size, leafHash: leafHash, proof: proof)
        guard ConstantTime.equal(computed, root) else {
            throw Failure(message: "the inclusion proof leads to a different root")
        }
    }

    /// Verifies that the tree of `size2` leaves with `root2` extends the tree of `size1` leaves with `root1`.
    public static func verifyConsistency(
        size1: UInt64, size2: UInt64, proof: [[UInt8]], root1: [UInt8], root2: [UInt8]
    ) throws(Failure) {
        guard size1 > 0 else { throw Failure(message: "consistency with the empty tree is meaningless") }
        guard size1 <= size2 else { throw Failure(message: "size1 \(size1) is larger than size2 \(size2)") }
        if size1 == size2 {
            guard proof.isEmpty else { throw Failure(message: "equal sizes need an empty proof") }
            guard root1 == root2 else { throw Failure(message: "equal sizes but different roots") }
            return
        }
        try check(root1, "root1")
        try check(root2, "root2")
        guard !proof.isEmpty else { throw Failure(message: "the consistency proof is empty") }
        for (i, p) in proof.enumerated() { try check(p, "proof element \(i)") }
        var path = proof
        if size1 & (size1 - 1) == 0 { path.insert(root1, at: 0) }
        var fn = size1 - 1
        var sn = size2 - 1
        while fn & 1 == 1 {
            fn >>= 1
            sn >>= 1
        }
        var fr = path[0]
        var sr = path[0]
        for c in path.dropFirst() {
            guard sn != 0 else { throw Failure(message: "the consistency proof has extra elements") }
            if fn & 1 == 1 || fn == sn {
                fr = MerkleHash.node(c, fr)
                sr = MerkleHash.node(c, sr)
                while fn & 1 == 0 && fn != 0 {
                    fn >>= 1
                    sn >>= 1
                }
            } else {
                sr = MerkleHash.node(sr, c)
            }
            fn >>= 1
            sn >>= 1
        }
        guard sn == 0 else { throw Failure(message: "the consistency proof is too short") }
        guard ConstantTime.equal(fr, root1) else { throw Failure(message: "the proof does not lead to root1") }
        guard ConstantTime.equal(sr, root2) else { throw Failure(message: "the proof does not lead to root2") }
    }
}
