// ModelMonitor.swift: one served model's inference monitor: the out-of-distribution score of each request, the
// sliding window compared with the reference every so many rows, and the query-pattern detector per caller.

import Foundation
import Synchronization

/// Thresholds and sizes of a model's monitor (`models[].monitor` in the gateway's configuration).
public struct MonitorSettings: Sendable, Equatable {
    /// Rows in the sliding window (the live sample compared with the reference).
    public var window = 500
    /// Once the window is full, it is compared with the reference every this many rows.
    public var checkEvery = 100
    /// A feature drifts when its PSI reaches this and its KS test is significant.
    public var psiThreshold = 0.25
    /// The predicted classes shift when their PSI reaches this and the chi-square test is significant.
    public var predictionPSIThreshold = 0.25
    /// Significance of the KS tests (Bonferroni-corrected over the features) and of the chi-square test.
    public var ksPValue = 0.01
    public var queryPattern = QueryPatternSettings()

    public init() {}
}

/// What one request's rows did to the monitor.
public struct MonitorObservation: Sendable {
    /// Callers' patterns newly found by these rows.
    public var queryAlerts: [QueryPatternAlert] = []
    /// The window to compare with the reference now (off the request path), when a comparison is due.
    public var driftCheck: DriftSnapshot?
}

/// A change in the drift state found by a comparison.
public struct DriftAlert: Sendable, Equatable {
    public var report: DriftReport
    /// Features drifting now that were not at the previous comparison.
    public var newlyDrifting: [String]
    /// Whether the predicted classes shift now and did not before.
    public var predictionShift: Bool
    /// Whether everything drifting before is back within the thresholds.
    public var cleared: Bool
}

/// A served model's monitor. Per request: the OOD score (d(d+1)/2 multiply-adds a row) and ``observe(caller:rows:outputs:count:probabilities:)``
/// (O(features) a row); the window's comparison runs when ``MonitorObservation/driftCheck`` says, wherever the
/// caller chooses (the gateway: a detached task). Thread-safe.
public final class ModelMonitor: Sendable {
    public let reference: MonitorReference
    public let settings: MonitorSettings
    public let queries: QueryPatternDetector
    private let scorer: MahalanobisScorer
    private let window: Mutex<DriftWindow>
    private struct DriftState {
        var drifting: Set<String> = []
        var predictionShift = false
        var last: DriftReport?
        var checks = 0
    }
    private let drift = Mutex(DriftState())

    public init(reference: MonitorReference, settings: MonitorSettings = MonitorSettings(),
                clock: @escaping @Sendable () -> Double = { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }) {
        self.reference = reference
        self.settings = settings
        scorer = MahalanobisScorer(reference)
        window = Mutex(DriftWindow(reference: reference, capacity: max(1, settings.window)))
        queries = QueryPatternDetector(features: reference.featureCount, typicalDistance: reference.typicalDistance,
                                       settings: settings.queryPattern, clock: clock)
    }

    /// The Mahalanobis distance of each of `count` rows (compare with ``MonitorReference/oodThreshold``).
    public func oodScores(_ rows: [Float], count: Int) -> [Double] {
        let d = reference.featureCount
        return rows.withUnsafeBufferPointer { all in
            (0..<count).map { r in scorer.score(UnsafeBufferPointer(rebasing: all[(r * d)..<((r + 1) * d)])) }
        }
    }

    /// Adds `count` answered rows (inputs and the model's outputs: probabilities, or logits to be softmaxed)
    /// of `caller` to the window and to the caller's query pattern.
    public func observe(caller: String, rows: [Float], outputs: [Float], count: Int, probabilities: Bool) -> MonitorObservation {
        let d = reference.featureCount, classes = reference.classCount
        guard count > 0, rows.count == count * d, outputs.count == count * classes else { return MonitorObservation() }
        var predictions = [Int](repeating: 0, count: count)
        let margins = outputs.withUnsafeBufferPointer { out in
            for r in 0..<count {
                var best = 0
                for j in 1..<max(classes, 1) where out[r * classes + j] > out[r * classes + best] { best = j }
                predictions[r] = best
            }
            return QueryPatternDetector.margins(out, count: count, width: classes, probabilities: probabilities)
        }
        var observation = MonitorObservation()
        rows.withUnsafeBufferPointer { all in
            observation.driftCheck = window.withLock { window in
                for r in 0..<count {
                    window.append(UnsafeBufferPointer(rebasing: all[(r * d)..<((r + 1) * d)]), prediction: predictions[r])
                }
                guard window.filled == window.capacity, window.sinceCheck >= settings.checkEvery else { return nil }
                window.sinceCheck = 0
                return window.snapshot
            }
            observation.queryAlerts = queries.observe(caller: caller, rows: all, margins: margins, count: count)
        }
        return observation
    }

    /// Compares `snapshot` with the reference and records the outcome: an alert when features start drifting or
    /// the predictions start shifting, or when everything recovers; nil when nothing changed.
    public func settle(_ snapshot: DriftSnapshot) -> (report: DriftReport, alert: DriftAlert?) {
        let report = snapshot.evaluate(reference: reference, settings: settings)
        return (report, settle(report))
    }

    /// Records `report` as the latest comparison; the alert it raises, if any.
    public func settle(_ report: DriftReport) -> DriftAlert? {
        let now = Set(report.drifting.map(\.name))
        return drift.withLock { state in
            defer {
                state.drifting = now
                state.predictionShift = report.predictionShift
                state.last = report
                state.checks += 1
            }
            let newly = report.drifting.map(\.name).filter { !state.drifting.contains($0) }
            let shift = report.predictionShift && !state.predictionShift
            let cleared = (!state.drifting.isEmpty || state.predictionShift) && now.isEmpty && !report.predictionShift
            guard !newly.isEmpty || shift || cleared else { return nil }
            return DriftAlert(report: report, newlyDrifting: newly, predictionShift: shift, cleared: cleared)
        }
    }

    /// The latest comparison and how many there were.
    public var lastReport: (report: DriftReport?, checks: Int) { drift.withLock { ($0.last, $0.checks) } }
}
