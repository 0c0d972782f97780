// ManifestItem: one hashed resource of a model (a file, or a shard of a file).

import MLSecCore

/// One resource: a whole file, or a byte range of one.
public struct ManifestItem: Sendable, Equatable, Hashable {
    /// Model-relative file path (`.` for a single-file model).
    public var path: String
    /// For shards, the `[start, end)` byte range; `nil` for whole files.
    public var range: Range<Int>?
    /// Resource algorithm string (`sha256`, `sha256-sharded-1000000000`, ...).
    public var algorithm: String
    /// Raw digest bytes.
    public var digest: [UInt8]

    public init(path: String, range: Range<Int>? = nil, algorithm: String, digest: [UInt8]) {
        self.path = path
        self.range = range
        self.algorithm = algorithm
        self.digest = digest
    }

    /// The resource name in the signature: the path, or `path:start:end`.
    public var name: String {
        guard let range else { return path }
        return "\(path):\(range.lowerBound):\(range.upperBound)"
    }

    /// Format order: by path parts, then shard start and end as integers.
    public static func precedes(_ a: ManifestItem, _ b: ManifestItem) -> Bool {
        if a.path != b.path { return ResourcePath.precedes(a.path, b.path) }
        let ra = a.range ?? 0..<0
        let rb = b.range ?? 0..<0
        if ra.lowerBound != rb.lowerBound { return ra.lowerBound < rb.lowerBound }
        return ra.upperBound < rb.upperBound
    }
}
