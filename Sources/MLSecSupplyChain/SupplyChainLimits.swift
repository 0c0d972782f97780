// SupplyChainLimits: the size caps every supply-chain reader applies before it allocates.

/// Size caps for the hostile documents this module reads (OSV records, lock files, BOMs).
public enum SupplyChainLimits {
    /// Most bytes one input document (a requirements file, a Package.resolved, a BOM, one OSV record) may hold.
    public static let maxDocumentBytes = 64 << 20
}
