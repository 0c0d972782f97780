// DataScreen.swift: the poisoning screens' entry point: label flips, duplicates, outliers and train/test leaks.

import MLSecCore

/// Screens a labelled data set for poisoning and hygiene problems and ranks the suspect rows.
///
/// Features are standardised with the data's means and standard deviations (floored: see `Standardiser`).
/// - `label-flip`: k-nearest-neighbour disagreement (`LabelFlipScreen`) on z-scores clipped to ±`clip`;
///   score = weighted share of the neighbours' votes for other labels; reported at `labelFlipThreshold` (0.85)
///   when the neighbours' favourite other label also outvotes the row's own.
/// - `duplicate`: rows identical to an earlier row (score 1) or within the radius of one (score
///   1 − distance/radius); radius = `nearDuplicateRadius` (0.1) × the median nearest-neighbour distance.
/// - `outlier`: robust Mahalanobis distance within the row's class (`OutlierScreen`); score 1 − 1/r for the ratio r
///   of its squared distance to the class's median; reported at `outlierThreshold` (0.95, i.e. r ≥ 20).
/// - `leak`: rows of the test file identical to, or within the radius of, a row of the data (the test file's row
///   numbers; `relatedRow` names the data's row).
///
/// Brute-force neighbours cost O(n² · d): rows are capped at `maxRows` and the work runs on every core.
public enum DataScreen {
    public struct Options: Sendable {
        /// Neighbours per row for the label-flip screen (1...100).
        public var neighbours = 10
        public var labelFlipThreshold = 0.85
        /// The near-duplicate and leak radius, as a fraction of the median nearest-neighbour distance (0: exact only).
        public var nearDuplicateRadius = 0.1
        public var outlierThreshold = 0.95
        /// Standardised values are clipped to ±clip for the neighbour searches (not for outliers).
        public var clip = 4.0
        /// Most rows per file.
        public var maxRows = 50_000
        /// Most values (rows × encoded features) per file.
        public var maxValues = 20_000_000
        /// The outlier screen's covariance is d × d: wider data skips it.
        public var maxOutlierFeatures = 256
        /// The screens to run.
        public var checks: Set<SuspectKind> = Set(SuspectKind.allCases)

        public init() {}

        func validate() throws {
            guard (1...100).contains(neighbours) else { throw MLSecError.usage("the neighbour count must be 1...100 (10 is usual)") }
            for (name, v) in [("label-flip threshold", labelFlipThreshold), ("outlier threshold", outlierThreshold)] where !(0...1).contains(v) {
                throw MLSecError.usage("the \(name) must lie in [0, 1]")
            }
            guard nearDuplicateRadius >= 0, nearDuplicateRadius.isFinite else { throw MLSecError.usage("the near-duplicate radius must be 0 or more") }
            guard clip > 0 else { throw MLSecError.usage("the clip must be positive") }
        }
    }

    /// Most bytes of a CSV file read.
    public static let maxFileBytes = 1 << 30

    /// Reads `data` (CSV with a header and `labelColumn`) and, when given, the `test` CSV, and screens them.
    public static func screen(data: String, labelColumn: String, test: String? = nil,
                              options: Options = Options()) throws -> ScreenReport {
        try options.validate()
        let bytes = try ReadOnlyFile.readAll(data, maxBytes: maxFileBytes, what: "CSV file")
        let table = try ScreenTable.csv(bytes: bytes, context: data, labelColumn: labelColumn, maxRows: options.maxRows)
        var testTable: ScreenTable?
        if let test {
            let testBytes = try ReadOnlyFile.readAll(test, maxBytes: maxFileBytes, what: "CSV file")
            testTable = try ScreenTable.csv(bytes: testBytes, context: test, labelColumn: labelColumn,
                                            schema: table.columns, maxRows: options.maxRows)
        }
        return try screen(table, test: testTable, options: options)
    }

    /// Screens rows already in memory. `test` must have the same features as `data`.
    public static func screen(_ data: ScreenTable, test: ScreenTable? = nil, options: Options = Options()) throws -> ScreenReport {
        try options.validate()
        let start = ContinuousClock.now
        for (name, t) in [("data", data)] + (test.map { [("test file", $0)] } ?? []) {
            guard t.count <= options.maxRows else {
                throw MLSecError.limitExceeded("the \(name) has \(t.count) rows, more than \(options.maxRows); screen a sample or split it")
            }
            guard t.count * t.featureCount <= options.maxValues else {
                throw MLSecError.limitExceeded("the \(name) has \(t.count) rows × \(t.featureCount) features, more than \(options.maxValues) values; screen a sample or fewer columns")
            }
        }
        guard data.count >= 2 else { throw MLSecError.usage("the data has \(data.count) row; the screens compare rows, so they need at least 2") }
        if let test, test.featureNames != data.featureNames {
            throw MLSecError.usage("the test file's features differ from the data's; read both with the same columns")
        }
        var skipped: [String] = []
        let (classNames, classes) = classIndex(data.labels)
        let standardiser = Standardiser(data)
        let clipped = standardiser.transform(data, clip: options.clip)
        let full = standardiser.transform(data, clip: nil)
        let k = min(options.neighbours, data.count - 1)
        let neighbours = NeighbourSearch.search(queries: clipped, reference: clipped, k: k, excludeSelf: true)
        let nearest = (0..<data.count).map { neighbours.distance[$0 * k] }.filter { $0 > 0 && $0.isFinite }
        let medianDistance = RobustCovariance.median(nearest)
        let radius = options.nearDuplicateRadius * medianDistance
        var suspects: [ScreenSuspect] = []
        if options.checks.contains(.labelFlip) {
            if let classes, classNames.count >= 2 {
                suspects += LabelFlipScreen.run(neighbours: neighbours, classes: classes, classNames: classNames,
                                                softening: medianDistance, threshold: options.labelFlipThreshold)
            } else {
                skipped.append("label-flip: the data has fewer than 2 labels")
            }
        }
        let exact = DuplicateScreen.ExactIndex(data)
        if options.checks.contains(.duplicate) {
            suspects += DuplicateScreen.within(data, exact: exact, neighbours: neighbours, radius: radius,
                                               labels: data.labels) { full.distance($0, full, $1) }
        }
        if options.checks.contains(.outlier) {
            if data.featureCount > options.maxOutlierFeatures {
                skipped.append("outlier: \(data.featureCount) features, more than \(options.maxOutlierFeatures)")
            } else {
                let result = OutlierScreen.run(z: full, classes: classes ?? Array(repeating: 0, count: data.count),
                                               classNames: classes == nil ? ["(all rows)"] : classNames,
                                               threshold: options.outlierThreshold)
                suspects += result.suspects
                skipped += result.skipped.map { "outlier: \($0)" }
            }
        }
        if let test, options.checks.contains(.leak) {
            let testFull = standardiser.transform(test, clip: nil)
            let testClipped = standardiser.transform(test, clip: options.clip)
            let nearestTrain = NeighbourSearch.search(queries: testClipped, reference: clipped, k: 1, excludeSelf: false)
            suspects += DuplicateScreen.leaks(test: test, exact: exact, nearest: nearestTrain, radius: radius,
                                              trainLabels: data.labels) { testFull.distance($0, full, $1) }
        }
        suspects.sort(by: ScreenSuspect.ordered)
        let elapsed = ContinuousClock.now - start
        return ScreenReport(
            suspects: suspects, rows: data.count, testRows: test?.count, features: data.featureCount, classes: classNames,
            options: options, radius: radius, medianNeighbourDistance: medianDistance,
            notes: data.notes + (test?.notes ?? []), skipped: skipped,
            seconds: Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18)
    }

    /// Each row's `k` nearest other rows in the standardised space the screens use (z-scores clipped to ±`clip`),
    /// nearest first: row numbers and Euclidean distances.
    public static func neighbours(of table: ScreenTable, k: Int, clip: Double? = Options().clip) -> [[(row: Int, distance: Double)]] {
        let z = Standardiser(table).transform(table, clip: clip)
        let lists = NeighbourSearch.search(queries: z, reference: z, k: min(k, max(0, table.count - 1)), excludeSelf: true)
        return (0..<table.count).map { r in lists.neighbours(of: r).map { (row: $0.index, distance: $0.distance) } }
    }

    /// Distinct labels (numerically sorted when all are numbers) and each row's index into them.
    static func classIndex(_ labels: [String]?) -> (names: [String], classes: [Int]?) {
        guard let labels else { return ([], nil) }
        var names = Array(Set(labels))
        if names.allSatisfy({ Double($0) != nil }) {
            names.sort { (Double($0) ?? 0, $0) < (Double($1) ?? 0, $1) }
        } else {
            names.sort()
        }
        let position = Dictionary(uniqueKeysWithValues: names.enumerated().map { ($1, $0) })
        return (names, labels.map { position[$0] ?? 0 })
    }
}
