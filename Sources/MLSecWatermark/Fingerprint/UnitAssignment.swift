// UnitAssignment: the one-to-one matching of hidden units behind the weight-space fingerprint: the Hungarian
// algorithm (optimal) for layers of up to 1,024 units, greedy best-pair matching above.

/// Maximum-score perfect matchings of square score matrices.
public enum UnitAssignment {
    /// Largest layer matched optimally; larger ones are matched greedily (O(n² log n) instead of O(n³)).
    public static let optimalLimit = 1024

    /// For each row `i` of the row-major `n x n` matrix `score`, the column it is matched to, maximising the total.
    public static func maximise(_ score: [Double], n: Int) -> [Int] {
        guard n > 0, score.count == n * n else { return [] }
        return n <= optimalLimit ? hungarian(score, n: n) : greedy(score, n: n)
    }

    /// The Hungarian algorithm with potentials (shortest augmenting paths), on the costs `-score`.
    static func hungarian(_ score: [Double], n: Int) -> [Int] {
        // 1-based: column 0 and row 0 are the algorithm's sentinel.
        var u = [Double](repeating: 0, count: n + 1)
        var v = [Double](repeating: 0, count: n + 1)
        var rowOfColumn = [Int](repeating: 0, count: n + 1)
        var way = [Int](repeating: 0, count: n + 1)
        for row in 1...n {
            rowOfColumn[0] = row
            var column = 0
            var minimum = [Double](repeating: .infinity, count: n + 1)
            var used = [Bool](repeating: false, count: n + 1)
            repeat {
                used[column] = true
                let current = rowOfColumn[column]
                var delta = Double.infinity
                var next = 0
                for j in 1...n where !used[j] {
                    let reduced = -score[(current - 1) * n + (j - 1)] - u[current] - v[j]
                    if reduced < minimum[j] {
                        minimum[j] = reduced
                        way[j] = column
                    }
                    if minimum[j] < delta {
                        delta = minimum[j]
                        next = j
                    }
                }
                for j in 0...n {
                    if used[j] {
                        u[rowOfColumn[j]] += delta
                        v[j] -= delta
                    } else {
                        minimum[j] -= delta
                    }
                }
                column = next
            } while rowOfColumn[column] != 0
            repeat {
                let previous = way[column]
                rowOfColumn[column] = rowOfColumn[previous]
                column = previous
            } while column != 0
        }
        var assignment = [Int](repeating: 0, count: n)
        for j in 1...n where rowOfColumn[j] > 0 { assignment[rowOfColumn[j] - 1] = j - 1 }
        return assignment
    }

    /// Pairs taken best first, each row and column once.
    static func greedy(_ score: [Double], n: Int) -> [Int] {
        let order = score.indices.sorted { (score[$0], $1) > (score[$1], $0) }
        var assignment = [Int](repeating: -1, count: n)
        var columnTaken = [Bool](repeating: false, count: n)
        var left = n
        for index in order where left > 0 {
            let (row, column) = index.quotientAndRemainder(dividingBy: n)
            guard assignment[row] < 0, !columnTaken[column] else { continue }
            assignment[row] = column
            columnTaken[column] = true
            left -= 1
        }
        return assignment
    }
}
