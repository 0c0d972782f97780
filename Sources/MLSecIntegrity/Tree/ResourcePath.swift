// ResourcePath: validation and ordering of model-relative paths as the signature format names them.

import MLSecCore

/// Rules for the model-relative, `/`-separated paths that name files in a signature.
public enum ResourcePath {
    /// Checks that `path` is a safe model-relative path: not empty, not absolute, no `.` or `..`
    /// component (except the single-file name `.`), no empty component, no NUL or backslash.
    public static func validate(_ path: String, context: String) throws {
        if path == "." { return }
        guard !path.isEmpty else { throw MLSecError.malformed("\(context): empty path") }
        guard !path.hasPrefix("/") else { throw MLSecError.malformed("\(context): absolute path \"\(path)\"") }
        guard !path.utf8.contains(0), !path.contains("\\") else {
            throw MLSecError.malformed("\(context): path \"\(path)\" contains a NUL byte or a backslash")
        }
        for part in path.split(separator: "/", omittingEmptySubsequences: false) {
            if part.isEmpty { throw MLSecError.malformed("\(context): path \"\(path)\" has an empty component") }
            if part == "." || part == ".." {
                throw MLSecError.malformed("\(context): path \"\(path)\" has a \"\(part)\" component")
            }
        }
    }

    /// `true` when `lhs` sorts before `rhs` in the format's order: compare the lists of `/`-separated
    /// parts lexicographically, each part by Unicode scalar values (so `sub/a` < `sub-notes.txt`).
    public static func precedes(_ lhs: String, _ rhs: String) -> Bool {
        var left = lhs.unicodeScalars.makeIterator()
        var right = rhs.unicodeScalars.makeIterator()
        // Walk both strings; a "/" ends a part, which must sort before any other scalar in the same position.
        while true {
            let a = left.next()
            let b = right.next()
            switch (a, b) {
            case (nil, nil): return false
            case (nil, _): return true
            case (_, nil): return false
            case (let x?, let y?):
                if x == y { continue }
                if x == "/" { return true }
                if y == "/" { return false }
                return x.value < y.value
            }
        }
    }

    /// `true` when `path` equals `prefix` or lies under it (whole components).
    public static func isWithin(_ path: String, _ prefix: String) -> Bool {
        let p = prefix.hasSuffix("/") ? String(prefix.dropLast()) : prefix
        if p.isEmpty || p == "." { return true }
        return path == p || path.hasPrefix(p + "/")
    }
}
