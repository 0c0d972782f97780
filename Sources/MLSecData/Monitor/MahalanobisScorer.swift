// MahalanobisScorer.swift: the out-of-distribution score of one row, ‖L⁻¹(x − centre)‖, with the whitening
// matrix stored by columns as 8-wide SIMD vectors: y = Σ_j (x_j − c_j) · column_j, then ‖y‖ (d(d+1)/2
// multiply-adds in about d²/16 vector operations, one horizontal sum).

/// The reference's whitening in single precision, ready for one row at a time. Built once per monitor.
struct MahalanobisScorer: Sendable {
    let features: Int
    let lanes: Int
    let centre: [Float]
    /// Column j of L⁻¹ from `offsets[j]`: its rows j..<d (lanes j/8 ..< lanes, rows above j zero).
    let columns: [SIMD8<Float>]
    let offsets: [Int]

    init(_ reference: MonitorReference) {
        let d = reference.featureCount
        features = d
        lanes = (d + 7) / 8
        centre = reference.centre.map { Float($0) }
        // Packed by rows: entry (i, j), j <= i, at i(i+1)/2 + j.
        var columns: [SIMD8<Float>] = []
        var offsets: [Int] = []
        for j in 0..<d {
            offsets.append(columns.count)
            let first = j / 8
            var vectors = [SIMD8<Float>](repeating: .zero, count: lanes - first)
            for i in j..<d { vectors[i / 8 - first][i % 8] = Float(reference.whitening[i * (i + 1) / 2 + j]) }
            columns += vectors
        }
        self.columns = columns
        self.offsets = offsets
    }

    func score(_ row: UnsafeBufferPointer<Float>) -> Double {
        withUnsafeTemporaryAllocation(of: SIMD8<Float>.self, capacity: lanes) { y in
            y.initialize(repeating: .zero)
            columns.withUnsafeBufferPointer { w in
                centre.withUnsafeBufferPointer { c in
                    for j in 0..<features {
                        let x = SIMD8<Float>(repeating: row[j] - c[j])
                        let first = j / 8
                        var at = offsets[j]
                        for l in first..<lanes {
                            y[l] += w[at] * x
                            at += 1
                        }
                    }
                }
            }
            var total = SIMD8<Float>.zero
            for l in 0..<lanes { total += y[l] * y[l] }
            return Double(total.sum()).squareRoot()
        }
    }
}
