// DuplicateScreen.swift: exact and near-duplicate rows within the data, and test rows that copy training rows.

/// Exact duplicates have identical feature values (after encoding and imputation); near duplicates lie within
/// `radius` of each other in the standardised space. The score is 1 − distance / radius: 1 for an exact copy,
/// falling to 0 at the radius. Within the data the later row is reported, with `relatedRow` the earlier one.
enum DuplicateScreen {
    /// Rows grouped by identical values: a hash per row, confirmed by comparing the values.
    struct ExactIndex {
        private var buckets: [Int: [Int]] = [:]
        private let table: ScreenTable

        init(_ table: ScreenTable) {
            self.table = table
            for r in 0..<table.count { buckets[Self.hash(table, r), default: []].append(r) }
        }

        /// The first row of the indexed table equal to row `r` of `other` (skipping rows at or after `before`).
        func firstEqual(to r: Int, in other: ScreenTable, before: Int = .max) -> Int? {
            buckets[Self.hash(other, r)]?.first { $0 < before && Self.equal(table, $0, other, r) }
        }

        static func hash(_ t: ScreenTable, _ r: Int) -> Int {
            var h = Hasher()
            let d = t.featureCount
            for c in 0..<d {
                let v = t.rows[r * d + c]
                h.combine(v == 0 ? 0 : v.bitPattern)  // +0 and -0 are the same value
            }
            return h.finalize()
        }

        static func equal(_ a: ScreenTable, _ i: Int, _ b: ScreenTable, _ j: Int) -> Bool {
            let d = a.featureCount
            guard d == b.featureCount else { return false }
            for c in 0..<d where a.rows[i * d + c] != b.rows[j * d + c] { return false }
            return true
        }
    }

    /// Duplicates within `table`: each row equal to, or within `radius` of, an earlier row.
    /// `distance(i, j)` is the unclipped standardised distance that confirms a near pair.
    static func within(_ table: ScreenTable, exact: ExactIndex, neighbours: NeighbourLists, radius: Double,
                       labels: [String]?, distance: (Int, Int) -> Double) -> [ScreenSuspect] {
        var suspects: [ScreenSuspect] = []
        for row in 0..<table.count {
            var match: (row: Int, distance: Double, exact: Bool)?
            if let earlier = exact.firstEqual(to: row, in: table, before: row) {
                match = (earlier, 0, true)
            } else if radius > 0 {
                for near in neighbours.neighbours(of: row) where near.index < row && near.distance <= radius {
                    let d = distance(row, near.index)
                    if d <= radius { match = (near.index, d, false); break }
                }
            }
            guard let match else { continue }
            var suspect = ScreenSuspect(row: row, kind: .duplicate, score: match.exact ? 1 : score(match.distance, radius))
            suspect.relatedRow = match.row
            suspect.exact = match.exact
            suspect.distance = match.distance
            if let labels {
                suspect.label = labels[row]
                suspect.relatedLabel = labels[match.row]
            }
            suspects.append(suspect)
        }
        return suspects
    }

    /// Leaks: rows of `test` equal to, or within `radius` of, a row of the screened data.
    /// `distance(testRow, dataRow)` is the unclipped standardised distance that confirms a near pair.
    static func leaks(test: ScreenTable, exact: ExactIndex, nearest: NeighbourLists, radius: Double,
                      trainLabels: [String]?, distance: (Int, Int) -> Double) -> [ScreenSuspect] {
        var suspects: [ScreenSuspect] = []
        for row in 0..<test.count {
            var match: (row: Int, distance: Double, exact: Bool)?
            if let train = exact.firstEqual(to: row, in: test) {
                match = (train, 0, true)
            } else if radius > 0, let near = nearest.neighbours(of: row).first, near.distance <= radius {
                let d = distance(row, near.index)
                if d <= radius { match = (near.index, d, false) }
            }
            guard let match else { continue }
            var suspect = ScreenSuspect(row: row, kind: .leak, score: match.exact ? 1 : score(match.distance, radius))
            suspect.relatedRow = match.row
            suspect.exact = match.exact
            suspect.distance = match.distance
            if let labels = test.labels { suspect.label = labels[row] }
            if let trainLabels { suspect.relatedLabel = trainLabels[match.row] }
            suspects.append(suspect)
        }
        return suspects
    }

    static func score(_ distance: Double, _ radius: Double) -> Double {
        radius > 0 ? min(1, max(0, 1 - distance / radius)) : 0
    }
}
