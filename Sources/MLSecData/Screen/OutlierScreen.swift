// OutlierScreen.swift: per-class outliers by robust Mahalanobis distance, scored on a robust log scale.

/// For each class with enough rows: a robust fit (`RobustCovariance`) on the standardised features and each row's
/// squared Mahalanobis distance D², as a ratio r = D² / median D² of its class (1 for a typical row). The score is
/// 1 − 1/r for r > 1 (0 otherwise): 0.9 at ten times the class's typical squared distance, 0.95 at twenty.
/// Natural data has heavy tails, so a chi-square reference would flag hundreds of ordinary rows; the ratio is
/// comparable across classes and dimensions (for Gaussian rows r ≥ 20 has a chance below 10⁻⁶ for any d).
enum OutlierScreen {
    /// Fewest rows a class needs for a fit.
    static let minimumRows = 10

    struct Result {
        var suspects: [ScreenSuspect]
        /// Classes too small or without spread, with the reason.
        var skipped: [String]
    }

    static func run(z: FeatureMatrix, classes: [Int], classNames: [String], threshold: Double) -> Result {
        var suspects: [ScreenSuspect] = []
        var skipped: [String] = []
        let d = z.width
        for (c, name) in classNames.enumerated() {
            let members = classes.indices.filter { classes[$0] == c }
            guard members.count >= minimumRows else {
                skipped.append("class \(name): \(members.count) rows, fewer than \(minimumRows)")
                continue
            }
            var rows = [Double](repeating: 0, count: members.count * d)
            for (m, r) in members.enumerated() {
                for f in 0..<d { rows[m * d + f] = Double(z.values[r * z.stride + f]) }
            }
            guard let fit = RobustCovariance.fit(rows: rows, count: members.count, dimension: d) else {
                skipped.append("class \(name): its rows do not vary")
                continue
            }
            let d2 = fit.squaredDistances(rows: rows, count: members.count)
            let typical = RobustCovariance.median(d2)
            guard typical > 1e-300 else {
                skipped.append("class \(name): most of its rows are identical")
                continue
            }
            for (m, r) in members.enumerated() {
                let ratio = d2[m] / typical
                let score = ratio > 1 ? 1 - 1 / ratio : 0
                guard score >= threshold else { continue }
                var suspect = ScreenSuspect(row: r, kind: .outlier, score: score)
                suspect.label = name
                suspect.distance = d2[m].squareRoot()
                suspect.ratio = ratio
                suspects.append(suspect)
            }
        }
        return Result(suspects: suspects, skipped: skipped)
    }
}
