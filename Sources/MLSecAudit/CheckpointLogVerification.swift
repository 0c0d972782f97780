// CheckpointLogVerification: checks a log against a signed checkpoint by recomputing the tree from its entries.

import MLSecCore

/// What checking a log against a checkpoint established.
public struct CheckpointLogVerification: Sendable {
    /// The checkpoint's size (M).
    public var checkpointSize: UInt64
    /// The entries verified (N >= M): every leaf hash and stored tree node recomputed from them.
    public var logSize: UInt64
    /// The root of those N entries, recomputed.
    public var logRoot: [UInt8]
    /// Whether an RFC 9162 consistency proof from M to N was also checked (only when 0 < M < N).
    public var consistencyProofChecked: Bool
}

extension AuditStore {
    /// Checks this log against `checkpoint`, trusting nothing the store holds but the entries' bytes: one pass
    /// recomputes every leaf hash and interior node from the entries and compares them with the stored tree
    /// (as ``verify(progress:)`` does), recording the root of the first `checkpoint.size` entries on the way;
    /// that root must be the checkpoint's. Then the store's consistency proof from the checkpoint's size to the
    /// log's must verify between the checkpoint's root and the recomputed root. O(N) in the log's entries,
    /// like a full verification.
    /// - Throws: `MLSecError` (verificationFailed) when an entry or a stored node was modified, entries were
    ///   removed, or the first entries no longer have the checkpoint's root.
    public func verify(
        against checkpoint: Checkpoint, progress: (@Sendable (UInt64) -> Void)? = nil
    ) async throws -> CheckpointLogVerification {
        let report = try await verify(prefix: checkpoint.size, progress: progress)
        guard checkpoint.size <= report.size, let prefixRoot = report.prefixRoot else {
            throw MLSecError.verificationFailed(
                "the log has \(report.size) entries but the checkpoint covers \(checkpoint.size): entries were removed")
        }
        guard ConstantTime.equal(prefixRoot, checkpoint.root) else {
            throw MLSecError.verificationFailed(
                "the log's first \(checkpoint.size) entries no longer have the checkpoint's root: the log was rewritten")
        }
        let proofChecked = checkpoint.size > 0 && checkpoint.size < report.size
        if proofChecked {
            let proof = try await consistencyProof(from: checkpoint.size, to: report.size)
            do {
                try MerkleVerifier.verifyConsistency(
                    size1: checkpoint.size, size2: report.size, proof: proof, root1: checkpoint.root, root2: report.root)
            } catch {
                throw MLSecError.verificationFailed("the log is not consistent with the checkpoint: \(error.message)")
            }
        }
        return CheckpointLogVerification(
            checkpointSize: checkpoint.size, logSize: report.size, logRoot: report.root, consistencyProofChecked: proofChecked)
    }

    /// Checks this log against `checkpoint` as ``verify(against:progress:)`` does and returns the entries
    /// verified.
    @discardableResult
    public func verifyConsistency(with checkpoint: Checkpoint) async throws -> UInt64 {
        try await verify(against: checkpoint).logSize
    }
}
