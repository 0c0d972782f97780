// MonitorTests.swift: the inference monitor on synthetic data: the reference and its file (round trip, hostile
// files, binding), drift found in a shifted window and not in clean ones, the OOD threshold's held-out rate,
// and the query-pattern detector (near-identical queries, boundary probes, halving runs, cooldown on an injected
// clock, bounded callers).

import Foundation
import MLSecCore
import MLSecData
import Synchronization
import Testing

@Suite struct MonitorTests {
    static let d = 6
    static let names = (0..<d).map { "f\($0)" }

    /// `count` correlated Gaussian rows (feature f shifted by `shift[f]`) and their "predictions" (three classes
    /// by the sign pattern of f0 and f1).
    static func rows(_ count: Int, seed: UInt64, shift: [Double] = Array(repeating: 0, count: d)) -> (rows: [Float], predictions: [Int], outputs: [Float]) {
        var rng = Rng(state: seed)
        var rows: [Float] = [], predictions: [Int] = [], outputs: [Float] = []
        for _ in 0..<count {
            let common = rng.normal()
            var row: [Double] = []
            for f in 0..<d { row.append(0.6 * common + 0.8 * rng.normal() + shift[f]) }
            rows += row.map { Float($0) }
            let c = row[0] > 0.5 ? 2 : (row[1] > 0 ? 1 : 0)
            predictions.append(c)
            outputs += (0..<3).map { $0 == c ? Float(0.8) : Float(0.1) }
        }
        return (rows, predictions, outputs)
    }

    static func reference(fpr: Double = 0.01) throws -> MonitorReference {
        let data = rows(3000, seed: 1)
        var settings = MonitorReference.Settings()
        settings.falsePositiveRate = fpr
        return try MonitorReference.build(rows: data.rows, count: 3000, featureNames: names, predictions: data.predictions, classCount: 3,
                                          modelDigest: "sha256:" + String(repeating: "ab", count: 32), settings: settings)
    }

    @Test func referenceDescribesTheTrainingData() throws {
        let reference = try Self.reference()
        #expect(reference.featureCount == 6 && reference.classCount == 3 && reference.rows == 3000)
        for f in reference.features {
            #expect(f.shares.count == f.edges.count + 1 && f.edges.count == 9)
            #expect(abs(f.shares.reduce(0, +) - 1) < 1e-9)
            // Quantile bins: each holds about a tenth.
            #expect(f.shares.allSatisfy { abs($0 - 0.1) < 0.01 })
            #expect(f.cdfValues.count == 256 && f.cdfShares.last == 1)
            #expect(abs(f.standardDeviation - 1) < 0.06)
        }
        #expect(abs(reference.heldOutFlagRate - 0.01) < 0.01)
        #expect(reference.heldOutRows == 600)
    }

    @Test func oodThresholdHoldsItsRateOnFreshRowsAndFlagsFarOnes() throws {
        let reference = try Self.reference(fpr: 0.05)
        let monitor = ModelMonitor(reference: reference)
        let fresh = Self.rows(4000, seed: 99)
        let scores = monitor.oodScores(fresh.rows, count: 4000)
        let rate = Double(scores.filter { $0 > reference.oodThreshold }.count) / 4000
        #expect(rate > 0.02 && rate < 0.09, "fresh-row flag rate \(rate) at a 5% target")
        // A row whose features disagree with their correlation is far in Mahalanobis terms, not per feature.
        let far: [Float] = [2.5, -2.5, 2.5, -2.5, 2.5, -2.5]
        #expect(monitor.oodScores(far, count: 1)[0] > 2 * reference.oodThreshold)
    }

    @Test func referenceFileRoundTripsAndRefusesHostileFiles() throws {
        let reference = try Self.reference()
        let bytes = JSONWriter.bytes(reference.json)
        #expect(try MonitorReference(bytes: bytes, context: "ref") == reference)
        func mutated(_ change: (inout String) -> Void) -> [UInt8] {
            var text = String(decoding: bytes, as: UTF8.self)
            change(&text)
            return Array(text.utf8)
        }
        let hostile: [(String, [UInt8])] = [
            ("unknown member", mutated { $0 = $0.replacingOccurrences(of: "\"rows\":", with: "\"extra\":1,\"rows\":") }),
            ("non-finite", mutated { $0 = $0.replacingOccurrences(of: "\"typical_distance\":\(reference.typicalDistance)", with: "\"typical_distance\":1e999") }),
            ("wrong format", mutated { $0 = $0.replacingOccurrences(of: MonitorReference.format, with: "other") }),
            ("negative share", mutated { $0 = $0.replacingOccurrences(of: "\"class_shares\":[", with: "\"class_shares\":[-1,") }),
            ("not JSON", Array("{\"format\":".utf8)),
        ]
        for (name, file) in hostile {
            #expect(throws: MLSecError.self, "\(name)") { _ = try MonitorReference(bytes: file, context: "ref") }
        }
        // The whitening matrix must have d(d+1)/2 entries with a positive diagonal.
        var broken = reference
        broken.whitening[0] = -1
        #expect(throws: MLSecError.self) { _ = try MonitorReference(bytes: JSONWriter.bytes(broken.json), context: "ref") }
        broken = reference
        broken.whitening.removeLast()
        #expect(throws: MLSecError.self) { _ = try MonitorReference(bytes: JSONWriter.bytes(broken.json), context: "ref") }
        #expect(throws: MLSecError.self) {
            _ = try MonitorReference(bytes: [UInt8](repeating: 0x20, count: MonitorReference.maxFileBytes + 1), context: "ref")
        }
        // Bound to its weights and shapes.
        try reference.checkBinding(modelDigest: reference.modelDigest, inputSize: 6, classCount: 3)
        #expect(throws: MLSecError.self) { try reference.checkBinding(modelDigest: "sha256:00", inputSize: 6, classCount: 3) }
        #expect(throws: MLSecError.self) { try reference.checkBinding(modelDigest: reference.modelDigest, inputSize: 7, classCount: 3) }
    }

    @Test func buildRefusesTooFewRowsAndNonFiniteValues() {
        let data = Self.rows(50, seed: 3)
        #expect(throws: MLSecError.self) {
            _ = try MonitorReference.build(rows: data.rows, count: 50, featureNames: Self.names, predictions: data.predictions, classCount: 3, modelDigest: "x")
        }
        var big = Self.rows(500, seed: 3)
        big.rows[17] = .nan
        #expect(throws: MLSecError.self) {
            _ = try MonitorReference.build(rows: big.rows, count: 500, featureNames: Self.names, predictions: big.predictions, classCount: 3, modelDigest: "x")
        }
    }

    /// Feeds `data` a row at a time; returns the alerts and the row after which each came.
    func feed(_ monitor: ModelMonitor, _ data: (rows: [Float], predictions: [Int], outputs: [Float]), caller: String = "k") -> [(Int, DriftAlert)] {
        var alerts: [(Int, DriftAlert)] = []
        let count = data.predictions.count
        for r in 0..<count {
            let observation = monitor.observe(caller: caller + String(r % 50), rows: Array(data.rows[(r * Self.d)..<((r + 1) * Self.d)]),
                                              outputs: Array(data.outputs[(r * 3)..<((r + 1) * 3)]), count: 1, probabilities: true)
            if let check = observation.driftCheck, let alert = monitor.settle(check).alert { alerts.append((r, alert)) }
        }
        return alerts
    }

    @Test func cleanWindowsRaiseNoDriftAndAShiftedFeatureDoes() throws {
        var settings = MonitorSettings()
        settings.window = 300
        settings.checkEvery = 50
        let monitor = ModelMonitor(reference: try Self.reference(), settings: settings)
        let clean = feed(monitor, Self.rows(1500, seed: 42))
        #expect(clean.isEmpty, "\(clean.map { $0.1.report.summary })")
        let checks = monitor.lastReport.checks
        #expect(checks == 1 + (1500 - 300) / 50)
        // One feature moves by one standard deviation: found within a window and a check.
        var shift = Array(repeating: 0.0, count: Self.d)
        shift[3] = 1
        let shifted = feed(monitor, Self.rows(600, seed: 43, shift: shift))
        let first = try #require(shifted.first)
        #expect(first.0 < settings.window + settings.checkEvery)
        #expect(first.1.newlyDrifting == ["f3"])
        let f3 = try #require(first.1.report.features.first { $0.name == "f3" })
        #expect(f3.psi >= 0.25 && f3.pValue < 0.01 / 6)
        #expect(first.1.report.summary.contains("1 feature drifted: f3"))
        // Back to clean data: a "cleared" alert once the window has forgotten the shift.
        let back = feed(monitor, Self.rows(600, seed: 44))
        #expect(back.contains { $0.1.cleared })
    }

    /// The window keeps counts, not values: after it has wrapped several times, its PSI and KS must equal a
    /// direct computation over the last `window` rows (a sketched CDF here: 3000 distinct values, 256 points).
    @Test func windowCountsMatchADirectComputationAfterWrapping() throws {
        let reference = try Self.reference()
        var settings = MonitorSettings()
        settings.window = 120
        settings.checkEvery = 1
        let monitor = ModelMonitor(reference: reference, settings: settings)
        let data = Self.rows(1000, seed: 77, shift: [0, 0.3, 0, 0, -0.5, 0])
        var report: DriftReport?
        for r in 0..<1000 {
            let observation = monitor.observe(caller: "c", rows: Array(data.rows[(r * 6)..<((r + 1) * 6)]),
                                              outputs: Array(data.outputs[(r * 3)..<((r + 1) * 3)]), count: 1, probabilities: true)
            if let check = observation.driftCheck { report = monitor.settle(check).report }
        }
        let last = try #require(report)
        #expect(last.rows == 120)
        for f in 0..<6 {
            let feature = reference.features[f]
            let column = (880..<1000).map { Double(data.rows[$0 * 6 + f]) }.sorted()
            let ks = column.withUnsafeBufferPointer {
                DriftStatistics.kolmogorovSmirnov(sorted: $0, values: feature.cdfValues, fractions: feature.cdfShares)
            }
            var counts = [Double](repeating: 0, count: feature.shares.count)
            for v in column { counts[DriftStatistics.bin(of: v, edges: feature.edges)] += 1 }
            let psi = DriftStatistics.populationStabilityIndex(expected: feature.shares, actual: counts.map { $0 / 120 })
            #expect(abs(last.features[f].ks - ks) < 1e-12, "feature \(f): \(last.features[f].ks) vs \(ks)")
            #expect(abs(last.features[f].psi - psi) < 1e-12, "feature \(f): \(last.features[f].psi) vs \(psi)")
        }
    }

    @Test func shiftedPredictionsAreFound() throws {
        var settings = MonitorSettings()
        settings.window = 200
        settings.checkEvery = 50
        let monitor = ModelMonitor(reference: try Self.reference(), settings: settings)
        var data = Self.rows(400, seed: 5)
        // Same inputs, but the model now answers class 2 for everything.
        data.outputs = (0..<400).flatMap { _ in [Float(0.1), 0.1, 0.8] }
        let alerts = feed(monitor, data)
        let first = try #require(alerts.first)
        #expect(first.1.predictionShift && first.1.newlyDrifting.isEmpty)
        #expect(first.1.report.summary.contains("predictions shifted"))
    }

    final class Clock: Sendable {
        let now = Mutex(1000.0)
        func advance(_ s: Double) { now.withLock { $0 += s } }
    }

    @Test func nearIdenticalQueriesAndBoundaryProbesAreFoundAndBenignTrafficIsNot() throws {
        let reference = try Self.reference()
        let clock = Clock()
        let detector = QueryPatternDetector(features: Self.d, typicalDistance: reference.typicalDistance, clock: { clock.now.withLock { $0 } })
        // Benign: independent rows answered confidently.
        let benign = Self.rows(400, seed: 8)
        for r in 0..<400 {
            let alerts = benign.rows.withUnsafeBufferPointer {
                detector.observe(caller: "benign", rows: UnsafeBufferPointer(rebasing: $0[(r * 6)..<((r + 1) * 6)]), margins: [0.7], count: 1)
            }
            #expect(alerts.isEmpty)
        }
        // An attacker's batches: small perturbations around one point, answered with low confidence.
        var rng = Rng(state: 11)
        var raised: [QueryPatternAlert.Kind] = []
        for _ in 0..<10 {
            let batch = (0..<(10 * 6)).map { i in Float(0.3 + 0.01 * rng.normal() + (i % 6 == 0 ? 0.5 : 0)) }
            let alerts = batch.withUnsafeBufferPointer { detector.observe(caller: "attacker", rows: $0, margins: Array(repeating: 0.05, count: 10), count: 10) }
            raised += alerts.map(\.kind)
        }
        #expect(Set(raised) == [.nearDuplicate, .boundaryProbing])
        #expect(raised.count == 2, "one alert of each kind per cooldown")
        // After the cooldown the same pattern alerts again.
        clock.advance(301)
        let again = [Float](repeating: 0.3, count: 6).withUnsafeBufferPointer {
            detector.observe(caller: "attacker", rows: $0, margins: [0.05], count: 1)
        }
        #expect(Set(again.map(\.kind)) == [.nearDuplicate, .boundaryProbing])
    }

    @Test func aBinarySearchIsAHalvingRun() throws {
        let reference = try Self.reference()
        var settings = QueryPatternSettings()
        settings.minQueries = 10
        let detector = QueryPatternDetector(features: Self.d, typicalDistance: reference.typicalDistance, settings: settings)
        let a: [Float] = [-2, -2, -2, -2, -2, -2], b: [Float] = [2, 2, 2, 2, 2, 2]
        var lower = 0.0, upper = 1.0
        var alerts: [QueryPatternAlert] = []
        alerts += a.withUnsafeBufferPointer { detector.observe(caller: "s", rows: $0, margins: [0.9], count: 1) }
        for step in 0..<12 {
            let middle = (lower + upper) / 2
            let point = zip(a, b).map { Float(1 - middle) * $0 + Float(middle) * $1 }
            alerts += point.withUnsafeBufferPointer { detector.observe(caller: "s", rows: $0, margins: [0.9], count: 1) }
            if step % 2 == 0 { upper = middle } else { lower = middle }
        }
        let alert = try #require(alerts.first { $0.kind == .boundaryProbing })
        #expect(alert.halvingRun >= 8 && alert.probes == 0)
    }

    @Test func trackedCallersStayBounded() throws {
        var settings = QueryPatternSettings()
        settings.maxCallers = 8
        let detector = QueryPatternDetector(features: 2, typicalDistance: 1, settings: settings)
        for i in 0..<100 {
            _ = [Float(i), 0].withUnsafeBufferPointer { detector.observe(caller: "c\(i)", rows: $0, margins: [1], count: 1) }
            #expect(detector.trackedCallers <= 8)
        }
    }

    @Test func marginsOfProbabilitiesAndLogits() {
        let probabilities: [Float] = [0.7, 0.2, 0.1, 0.4, 0.35, 0.25]
        let m = probabilities.withUnsafeBufferPointer { QueryPatternDetector.margins($0, count: 2, width: 3, probabilities: true) }
        #expect(abs(m[0] - 0.5) < 1e-6 && abs(m[1] - 0.05) < 1e-6)
        let logits: [Float] = [2, 0, 0]
        let l = logits.withUnsafeBufferPointer { QueryPatternDetector.margins($0, count: 1, width: 3, probabilities: false) }
        let e2 = exp(2.0)
        #expect(abs(l[0] - (e2 - 1) / (e2 + 2)) < 1e-9)
    }
}
