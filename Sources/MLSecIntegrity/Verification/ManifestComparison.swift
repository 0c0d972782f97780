// ManifestComparison: which files were modified, added, removed or renamed between two manifests.

/// The differences between a signed manifest and the model on disk, by file.
public struct ManifestComparison: Sendable, Equatable, CustomStringConvertible {
    public struct Rename: Sendable, Equatable {
        public var from: String
        public var to: String
        public init(from: String, to: String) {
            self.from = from
            self.to = to
        }
    }

    /// Files whose content differs.
    public var modified: [String] = []
    /// Files on disk that the signature does not cover.
    public var added: [String] = []
    /// Signed files that are missing on disk.
    public var removed: [String] = []
    /// Signed files that now sit under another name with the same content.
    public var renamed: [Rename] = []

    public var isEmpty: Bool { modified.isEmpty && added.isEmpty && removed.isEmpty && renamed.isEmpty }

    /// Compares `expected` (signed) with `actual` (hashed from disk with the same serialization).
    /// - Parameters:
    ///   - emptyFilesUnknown: the signature does not record empty files (reference shards signatures), so
    ///     empty files on disk that it does not name cannot be judged and are left out.
    public init(expected: Manifest, actual: Manifest) {
        func group(_ manifest: Manifest) -> [String: [ManifestItem]] {
            var out: [String: [ManifestItem]] = [:]
            for item in manifest.items { out[item.path, default: []].append(item) }
            for path in manifest.emptyFiles ?? [] { out[path, default: []] = out[path] ?? [] }
            return out
        }
        let want = group(expected)
        var have = group(actual)
        if expected.emptyFiles == nil, let emptyHere = actual.emptyFiles {
            for path in emptyHere where want[path] == nil { have[path] = nil }
        }
        var removed: [String] = []
        var added: [String] = []
        for (path, items) in want {
            guard let local = have[path] else {
                removed.append(path)
                continue
            }
            if !Self.sameContent(items, local) { modified.append(path) }
        }
        for path in have.keys where want[path] == nil { added.append(path) }
        // A rename is a removed file whose exact content (every item digest and range) reappears as an added file.
        var unmatchedAdded = added.sorted(by: ResourcePath.precedes)
        var stillRemoved: [String] = []
        for path in removed.sorted(by: ResourcePath.precedes) {
            let signature = Self.contentKey(want[path] ?? [])
            if let i = unmatchedAdded.firstIndex(where: { Self.contentKey(have[$0] ?? []) == signature }) {
                renamed.append(Rename(from: path, to: unmatchedAdded[i]))
                unmatchedAdded.remove(at: i)
            } else {
                stillRemoved.append(path)
            }
        }
        self.removed = stillRemoved
        self.added = unmatchedAdded
        modified.sort(by: ResourcePath.precedes)
    }

    private static func contentKey(_ items: [ManifestItem]) -> [String] {
        items.map { "\($0.range.map { "\($0.lowerBound):\($0.upperBound)" } ?? "") \($0.algorithm) \($0.digest)" }.sorted()
    }

    private static func sameContent(_ a: [ManifestItem], _ b: [ManifestItem]) -> Bool {
        guard a.count == b.count else { return false }
        return contentKey(a) == contentKey(b)
    }

    /// The changes as one sentence (``summary``), so that a comparison written into a message or log reads as
    /// "weights.safetensors was modified", never as a dump of the structure.
    public var description: String { summary }

    /// One line per change, for people.
    public var lines: [String] {
        modified.map { "modified: \($0)" } + added.map { "added:    \($0)" } + removed.map { "removed:  \($0)" }
            + renamed.map { "renamed:  \($0.from) -> \($0.to)" }
    }
}
