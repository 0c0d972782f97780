// PEP440Version+Ordering: the comparison key of `packaging.version.Version` (`_cmpkey`).

extension PEP440Version {
    /// -1, 0 or 1 as `self` sorts before, with or after `other`.
    ///
    /// The key, as `packaging` builds it: epoch; release without trailing zeros; pre-release (a version with only
    /// a dev part sorts before every pre-release of its release, a final release after all of them); post
    /// (none sorts first); dev (none sorts last); local (none sorts first; numeric parts above text parts,
    /// numbers by value, text lexically, a shorter label first when it is a prefix).
    public func compare(_ other: PEP440Version) -> Int {
        if epoch != other.epoch { return epoch < other.epoch ? -1 : 1 }
        let r = Self.compareRelease(release, other.release)
        if r != 0 { return r }
        let p = Self.compare(preKey, other.preKey)
        if p != 0 { return p }
        let q = Self.compareOptional(post, other.post, noneIsLow: true)
        if q != 0 { return q }
        let d = Self.compareOptional(dev, other.dev, noneIsLow: false)
        if d != 0 { return d }
        return Self.compareLocal(local, other.local)
    }

    /// Pre-release key: 0 = below every pre-release (dev-only), 1 = a pre-release, 2 = none (final).
    private var preKey: (Int, PreReleaseKind, DecimalDigits) {
        if let pre { return (1, pre.kind, pre.number) }
        if post == nil, dev != nil { return (0, .alpha, .zero) }
        return (2, .alpha, .zero)
    }

    private static func compare(_ a: (Int, PreReleaseKind, DecimalDigits), _ b: (Int, PreReleaseKind, DecimalDigits))
        -> Int
    {
        if a.0 != b.0 { return a.0 < b.0 ? -1 : 1 }
        if a.1 != b.1 { return a.1 < b.1 ? -1 : 1 }
        if a.2 != b.2 { return a.2 < b.2 ? -1 : 1 }
        return 0
    }

    private static func compareRelease(_ a: [DecimalDigits], _ b: [DecimalDigits]) -> Int {
        let n = max(a.count, b.count)
        for i in 0..<n {
            let x = i < a.count ? a[i] : .zero
            let y = i < b.count ? b[i] : .zero
            if x != y { return x < y ? -1 : 1 }
        }
        return 0
    }

    private static func compareOptional(_ a: DecimalDigits?, _ b: DecimalDigits?, noneIsLow: Bool) -> Int {
        switch (a, b) {
        case (nil, nil): return 0
        case (nil, _): return noneIsLow ? -1 : 1
        case (_, nil): return noneIsLow ? 1 : -1
        case (let x?, let y?): return x == y ? 0 : (x < y ? -1 : 1)
        }
    }

    private static func compareLocal(_ a: [LocalPart]?, _ b: [LocalPart]?) -> Int {
        guard let a else { return b == nil ? 0 : -1 }
        guard let b else { return 1 }
        for (x, y) in zip(a, b) {
            switch (x, y) {
            case (.number(let m), .number(let n)):
                if m != n { return m < n ? -1 : 1 }
            case (.text(let s), .text(let t)):
                if s != t { return s.utf8.lexicographicallyPrecedes(t.utf8) ? -1 : 1 }
            case (.number, .text): return 1
            case (.text, .number): return -1
            }
        }
        return a.count == b.count ? 0 : (a.count < b.count ? -1 : 1)
    }
}
