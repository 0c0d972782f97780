// RecordDiff: which records changed, were added or were removed between a signed dataset and the data now, by a
// shortest edit script (Myers 1986) over the records' hashes; a removal and an addition at the same place pair up
// as changed records.

/// The difference between two record sequences.
public struct RecordDiff: Sendable, Equatable {
    /// Records of the signed dataset whose content changed (numbered in the signed dataset).
    public var changed: [Int]
    /// Records present now and not in the signed dataset (numbered in the data now).
    public var added: [Int]
    /// Records of the signed dataset that are gone (numbered in the signed dataset).
    public var removed: [Int]

    public var isEmpty: Bool { changed.isEmpty && added.isEmpty && removed.isEmpty }

    /// Most edits the script searches for before it falls back to comparing records position by position.
    static let maxEdits = 20_000

    public static func between(signed old: [[UInt8]], current new: [[UInt8]]) -> RecordDiff {
        // Skip the common prefix and suffix: most edits are local.
        var start = 0
        while start < old.count, start < new.count, old[start] == new[start] { start += 1 }
        var endOld = old.count, endNew = new.count
        while endOld > start, endNew > start, old[endOld - 1] == new[endNew - 1] { endOld -= 1; endNew -= 1 }
        let a = Array(old[start..<endOld]), b = Array(new[start..<endNew])
        guard let script = editScript(a, b) else {
            // Too many edits for a script: position by position.
            let common = min(a.count, b.count)
            return RecordDiff(changed: (0..<common).filter { a[$0] != b[$0] }.map { $0 + start },
                              added: (common..<b.count).map { $0 + start }, removed: (common..<a.count).map { $0 + start })
        }
        // Pair runs of deletions and insertions at the same place as changes.
        var diff = RecordDiff(changed: [], added: [], removed: [])
        var i = 0
        while i < script.count {
            var deletions: [Int] = [], insertions: [Int] = []
            while i < script.count, case .delete(let x) = script[i] { deletions.append(x + start); i += 1 }
            while i < script.count, case .insert(let y) = script[i] { insertions.append(y + start); i += 1 }
            while i < script.count, case .delete(let x) = script[i] { deletions.append(x + start); i += 1 }
            if deletions.isEmpty && insertions.isEmpty { i += 1; continue }
            let paired = min(deletions.count, insertions.count)
            diff.changed += deletions.prefix(paired)
            diff.removed += deletions.dropFirst(paired)
            diff.added += insertions.dropFirst(paired)
        }
        diff.changed.sort()
        diff.removed.sort()
        diff.added.sort()
        return diff
    }

    enum Edit: Equatable {
        case keep
        case delete(Int)
        case insert(Int)
    }

    /// Myers' greedy shortest edit script, nil past `maxEdits`.
    static func editScript(_ a: [[UInt8]], _ b: [[UInt8]]) -> [Edit]? {
        let n = a.count, m = b.count
        if n == 0 { return (0..<m).map { .insert($0) } }
        if m == 0 { return (0..<n).map { .delete($0) } }
        let maxD = min(n + m, maxEdits)
        let offset = maxD + 1
        var v = [Int](repeating: 0, count: 2 * maxD + 3)
        var trace: [[Int]] = []
        for d in 0...maxD {
            trace.append(v)
            for k in stride(from: -d, through: d, by: 2) {
                var x = (k == -d || (k != d && v[offset + k - 1] < v[offset + k + 1])) ? v[offset + k + 1] : v[offset + k - 1] + 1
                var y = x - k
                while x < n, y < m, a[x] == b[y] { x += 1; y += 1 }
                v[offset + k] = x
                if x >= n, y >= m { return backtrack(trace: trace, current: v, d: d, n: n, m: m, offset: offset) }
            }
        }
        return nil
    }

    static func backtrack(trace: [[Int]], current: [Int], d: Int, n: Int, m: Int, offset: Int) -> [Edit] {
        var edits: [Edit] = []
        var x = n, y = m
        var traces = trace
        traces.append(current)
        for step in stride(from: d, to: 0, by: -1) {
            let v = traces[step]
            let k = x - y
            let previousK = (k == -step || (k != step && v[offset + k - 1] < v[offset + k + 1])) ? k + 1 : k - 1
            let previousX = v[offset + previousK], previousY = previousX - previousK
            while x > previousX, y > previousY { edits.append(.keep); x -= 1; y -= 1 }
            if x == previousX { edits.append(.insert(previousY)) } else { edits.append(.delete(previousX)) }
            x = previousX
            y = previousY
        }
        while x > 0, y > 0 { edits.append(.keep); x -= 1; y -= 1 }
        return edits.reversed()
    }
}
