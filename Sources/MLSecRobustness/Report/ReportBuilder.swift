// ReportBuilder: runs the attacks over a range of budgets, certifies, scores the detector and picks the examples
// that flip most easily, then judges the model in one line: the numbers behind `mlsec robustness report`.

import Foundation
import MLSecCore
import MLSecEngine

/// What a robustness report runs.
public struct ReportSettings: Sendable {
    public var norm: Norm
    /// Budgets of the accuracy curves (0 is added when missing).
    public var epsilons: [Float]
    /// The budget the verdict and the detector's ROC curve use.
    public var referenceEpsilon: Float
    public var pgdSteps: Int
    /// Carlini-Wagner (L2 reports only) and HopSkipJump on the first `blackBoxExamples` rows (0: skipped).
    public var carliniWagner: Bool
    public var blackBoxExamples: Int
    public var hopSkipJumpQueries: Int
    /// Randomized smoothing (nil: skipped).
    public var smoothing: RandomizedSmoothing?
    /// A calibrated detector to score; nil calibrates one on the clean rows at `detectorFalsePositiveRate`.
    public var detector: FeatureSqueezingDetector?
    public var detectorFalsePositiveRate: Double
    public var flips: Int
    public var seed: UInt64

    /// Defaults scaled to the model's input range: L∞ budgets 0 to 0.3 of its width, L2 budgets 0 to 3.
    public static func defaults(norm: Norm, range: InputRange) throws -> ReportSettings {
        let width = range.isBounded ? range.width : 1
        let fractions: [Float] = norm == .infinity ? [0, 0.02, 0.05, 0.1, 0.15, 0.2, 0.3] : [0, 0.25, 0.5, 1, 1.5, 2, 3]
        return ReportSettings(norm: norm, epsilons: fractions.map { $0 * width }, referenceEpsilon: (norm == .infinity ? 0.1 : 1) * width,
                              pgdSteps: 40, carliniWagner: norm == .l2, blackBoxExamples: 0, hopSkipJumpQueries: 2000,
                              smoothing: try RandomizedSmoothing(sigma: 0.25 * width, samples: 1000), detector: nil,
                              detectorFalsePositiveRate: 0.05, flips: 6, seed: 0)
    }
}

/// Builds robustness reports.
public enum ReportBuilder {
    public static func build(model: Model, rows: [Float], labels: [Int], dataName: String, settings: ReportSettings,
                             generatedAt: String, generator: String) async throws -> RobustnessReport {
        let width = model.inputSize, n = labels.count
        let range = try InputRange(spec: model.spec)
        var epsilons = Array(Set(settings.epsilons + [0, settings.referenceEpsilon])).sorted()
        epsilons.removeAll { !$0.isFinite || $0 < 0 }
        let oracle = ModelOracle(model: model)
        let clean = try oracle.labelsNow(rows, count: n)
        let cleanAccuracy = accuracy(clean, labels)
        var curves: [Curve] = []
        var fgsm: [CurvePoint] = [], pgd: [CurvePoint] = []
        // The smallest budget at which PGD flips each row, and the attacked row there.
        var flipBudget = [Float?](repeating: nil, count: n)
        var flipRows = [[Float]](repeating: [], count: n)
        var flipPredictions = [Int](repeating: -1, count: n)
        var referenceAdversarial = rows
        for eps in epsilons {
            guard eps > 0 else {
                fgsm.append(CurvePoint(x: 0, y: cleanAccuracy))
                pgd.append(CurvePoint(x: 0, y: cleanAccuracy))
                continue
            }
            let fast = try GradientAttack.fgsm(norm: settings.norm, epsilon: eps).perturb(model, rows: rows, labels: labels, range: range)
            fgsm.append(CurvePoint(x: Double(eps), y: accuracy(try oracle.labelsNow(fast, count: n), labels)))
            let attack = try GradientAttack.pgd(norm: settings.norm, epsilon: eps, steps: settings.pgdSteps, seed: settings.seed)
            let adversarial = try attack.perturb(model, rows: rows, labels: labels, range: range)
            let predicted = try oracle.labelsNow(adversarial, count: n)
            pgd.append(CurvePoint(x: Double(eps), y: accuracy(predicted, labels)))
            if eps == settings.referenceEpsilon { referenceAdversarial = adversarial }
            for r in 0..<n where flipBudget[r] == nil && clean[r] == labels[r] && predicted[r] != labels[r] {
                flipBudget[r] = eps
                flipRows[r] = Array(adversarial[r * width..<(r + 1) * width])
                flipPredictions[r] = predicted[r]
            }
        }
        let normName = settings.norm == .infinity ? "L∞" : "L2"
        curves.append(Curve(name: "FGSM (\(normName))", key: "fgsm", points: fgsm))
        curves.append(Curve(name: "PGD (\(normName), \(settings.pgdSteps) steps)", key: "pgd", points: pgd))
        if settings.carliniWagner, settings.norm == .l2 {
            let found = try CarliniWagnerL2().perturb(model, rows: rows, labels: labels, range: range)
            curves.append(Curve(name: "Carlini-Wagner (L2)", key: "cw",
                                points: try minimumNormCurve(model: model, found: found, rows: rows, labels: labels, epsilons: epsilons, norm: .l2)))
        }
        if settings.blackBoxExamples > 0 {
            let m = min(n, settings.blackBoxExamples)
            let attack = try HopSkipJump(norm: settings.norm, maxQueries: settings.hopSkipJumpQueries, seed: settings.seed)
            let outcomes = try await attack.attack(oracle, rows: Array(rows[0..<m * width]), labels: Array(labels[0..<m]), range: range,
                                                   concurrency: ProcessInfo.processInfo.activeProcessorCount)
            curves.append(Curve(name: "HopSkipJump (\(normName), \(m) rows, ≤\(settings.hopSkipJumpQueries) queries)", key: "hopskipjump",
                                points: try minimumNormCurve(model: model, found: outcomes.flatMap(\.adversarial), rows: Array(rows[0..<m * width]),
                                                             labels: Array(labels[0..<m]), epsilons: epsilons, norm: settings.norm)))
        }
        // Certification.
        var certified: Curve?
        var abstainRate: Double?
        if let smoothing = settings.smoothing {
            let certificates = try smoothing.certify(model, rows: rows, count: n)
            let radii = RandomizedSmoothing.reportedRadii
            let values = RandomizedSmoothing.certifiedAccuracy(certificates, labels: labels, radii: radii)
            certified = Curve(name: "Randomized smoothing (σ = \(smoothing.sigma))", key: "smoothing",
                              points: zip(radii, values).map { CurvePoint(x: $0, y: $1) })
            abstainRate = Double(certificates.filter { $0.prediction == nil }.count) / Double(n)
        }
        // The detector: clean rows against the reference budget's successful PGD examples.
        let detector = try settings.detector ?? FeatureSqueezingDetector.calibrate(
            model, rows: rows, count: n, falsePositiveRate: settings.detectorFalsePositiveRate, modelDigest: model.parameterDigest,
            against: try .pgd(norm: settings.norm, epsilon: settings.referenceEpsilon, steps: 20))
        let cleanScores = try FeatureSqueezingDetector.scores(model, rows: rows, count: n, squeezers: detector.squeezers, range: detector.range)
        let referencePredictions = try oracle.labelsNow(referenceAdversarial, count: n)
        let successful = (0..<n).filter { clean[$0] == labels[$0] && referencePredictions[$0] != labels[$0] }
        var detectorSummary: DetectorSummary?
        if !successful.isEmpty {
            let attackedRows = successful.flatMap { Array(referenceAdversarial[$0 * width..<($0 + 1) * width]) }
            let attackedScores = try FeatureSqueezingDetector.scores(model, rows: attackedRows, count: successful.count,
                                                                     squeezers: detector.squeezers, range: detector.range)
            let roc = ROC.curve(clean: cleanScores, attacked: attackedScores)
            let fpr = Double(cleanScores.filter { $0 > detector.threshold }.count) / Double(n)
            detectorSummary = DetectorSummary(
                roc: thin(roc.points, to: 200), auc: roc.auc, threshold: detector.threshold,
                operatingPoint: CurvePoint(x: fpr, y: ROC.truePositiveRate(attackedScores, threshold: detector.threshold)),
                targetFalsePositiveRate: detector.targetFalsePositiveRate,
                attackedWith: "PGD \(normName) ε = \(settings.referenceEpsilon), \(successful.count) successful examples")
        }
        let flips = (0..<n).filter { flipBudget[$0] != nil }.sorted { (flipBudget[$0] ?? 0, $0) < (flipBudget[$1] ?? 0, $1) }
            .prefix(settings.flips).map { r in
                FlipExample(row: r, label: labels[r], adversarialPrediction: flipPredictions[r], epsilon: Double(flipBudget[r] ?? 0),
                            original: Array(rows[r * width..<(r + 1) * width]), adversarial: flipRows[r])
            }
        let image = Squeezer.imageShape(featureShape: model.spec.input.featureShape)
        let referenceAccuracy = pgd.first { $0.x == Double(settings.referenceEpsilon) }?.y ?? cleanAccuracy
        let (grade, verdict) = judge(clean: cleanAccuracy, attacked: referenceAccuracy, eps: settings.referenceEpsilon, normName: normName,
                                     steps: settings.pgdSteps, certified: certified, detector: detectorSummary)
        return RobustnessReport(
            model: model.spec.name, data: dataName, examples: n, cleanAccuracy: cleanAccuracy, norm: settings.norm.rawValue,
            inputRange: range.isBounded ? Double(range.lower)...Double(range.upper) : nil, attacks: curves, certified: certified,
            smoothingSigma: settings.smoothing.map { Double($0.sigma) }, smoothingSamples: settings.smoothing?.samples, abstainRate: abstainRate,
            detector: detectorSummary, flips: Array(flips), imageShape: image.flatMap { $0.channels == 1 ? [$0.height, $0.width] : nil },
            grade: grade, verdict: verdict, generatedAt: generatedAt, generator: generator)
    }

    static func accuracy(_ predicted: [Int], _ labels: [Int]) -> Double {
        labels.isEmpty ? 0 : Double(zip(predicted, labels).filter { $0 == $1 }.count) / Double(labels.count)
    }

    /// Accuracy against the budget for a minimum-norm attack: a row is broken at ε when its perturbation is at most ε
    /// and the attacked row is misclassified.
    static func minimumNormCurve(model: Model, found: [Float], rows: [Float], labels: [Int], epsilons: [Float], norm: Norm) throws -> [CurvePoint] {
        let width = model.inputSize, n = labels.count
        let predicted = try ModelOracle(model: model).labelsNow(found, count: n)
        let distances = (0..<n).map { norm.distance(found[$0 * width..<($0 + 1) * width], rows[$0 * width..<($0 + 1) * width]) }
        return epsilons.map { eps in
            let correct = (0..<n).filter { predicted[$0] == labels[$0] || distances[$0] > eps * (1 + 1e-6) }.count
            return CurvePoint(x: Double(eps), y: Double(correct) / Double(n))
        }
    }

    /// At most `count` points of a curve, keeping its ends.
    static func thin(_ points: [CurvePoint], to count: Int) -> [CurvePoint] {
        guard points.count > count, count >= 2 else { return points }
        return (0..<count).map { points[$0 * (points.count - 1) / (count - 1)] }
    }

    /// The grade and the one-line verdict: robust when PGD at the reference budget keeps at least 80% of the clean
    /// accuracy, fragile from 40%, broken below.
    static func judge(clean: Double, attacked: Double, eps: Float, normName: String, steps: Int, certified: Curve?,
                      detector: DetectorSummary?) -> (RobustnessReport.Grade, String) {
        let kept = clean > 0 ? attacked / clean : 0
        let grade: RobustnessReport.Grade = kept >= 0.8 ? .robust : (kept >= 0.4 ? .fragile : .broken)
        var line = "\(grade.rawValue.capitalized): PGD (\(normName), \(steps) steps) takes accuracy from "
            + String(format: "%.2f to %.2f at ε = %g", clean, attacked, Double(eps))
        if let point = certified?.points.first(where: { $0.x == 0.25 }) {
            line += String(format: "; certified accuracy %.2f at L2 radius 0.25", point.y)
        }
        if let detector {
            line += String(format: "; the detector flags %.0f%% of those attacks at %.0f%% false positives",
                           detector.operatingPoint.y * 100, detector.operatingPoint.x * 100)
        }
        return (grade, line + ".")
    }
}
