// FeatureSqueezingDetector: flags inputs whose prediction moves when the input is squeezed (the largest L1
// distance between softmax outputs on the input and on each squeezed copy), over a threshold calibrated to a
// stated false-positive rate on clean data; stored as JSON beside the model it was calibrated for.

import Foundation
import MLSecCore
import MLSecEngine

/// Xu, Evans and Qi's feature-squeezing detector, bound to one model.
public struct FeatureSqueezingDetector: Sendable, Equatable {
    public static let format = "mlsec-feature-squeezing-detector"
    public var squeezers: [Squeezer]
    public var range: InputRange
    /// An input is flagged when its score is above this.
    public var threshold: Double
    /// The false-positive rate the threshold was calibrated for, and what calibration observed.
    public var targetFalsePositiveRate: Double
    public var observedFalsePositiveRate: Double
    public var calibrationExamples: Int
    /// The model's name and the digest of its weights file ("sha256:..."), checked before the detector is used.
    public var model: String
    public var modelDigest: String
    /// The detection rate on the adversarial rows the squeezers were chosen with (nil when none were given).
    public var selectionDetectionRate: Double?

    /// The squeezers calibration chooses from: quantisation to 2...17 levels (1 to 4 bits and the levels
    /// between), and 2 × 2 and 3 × 3 median filters when the input is an image.
    public static func candidateSqueezers(for model: Model) -> [Squeezer] {
        var squeezers: [Squeezer] = (2...17).map { .quantize(levels: $0) }
        if let image = Squeezer.imageShape(featureShape: model.spec.input.featureShape) {
            for window in [2, 3] { squeezers.append(.median(window: window, channels: image.channels, height: image.height, width: image.width)) }
        }
        return squeezers
    }

    /// Scores of `count` rows: max over the squeezers of ‖softmax(f(x)) − softmax(f(squeeze(x)))‖₁.
    public static func scores(_ model: Model, rows: [Float], count: Int, squeezers: [Squeezer], range: InputRange) throws -> [Double] {
        let each = try distances(model, rows: rows, count: count, squeezers: squeezers, range: range)
        return (0..<count).map { r in each.reduce(0) { max($0, $1[r]) } }
    }

    /// For each squeezer, the L1 distance between the softmax outputs on each row and on its squeezed copy.
    static func distances(_ model: Model, rows: [Float], count: Int, squeezers: [Squeezer], range: InputRange) throws -> [[Double]] {
        let width = model.inputSize
        guard rows.count == count * width else { throw MLSecError.malformed("expected \(count) rows of \(width) values") }
        let classes = model.classCount, k = squeezers.count
        let flat = try ParallelRows.map(count: count, block: ParallelRows.blockSize(count: count, preferred: 256), outputWidth: k) { block in
            let slice = Array(rows[block.lowerBound * width..<block.upperBound * width])
            let n = block.count
            let base = softmax(try model.logits(try model.inputTensor(rows: slice, count: n)).data, classes: classes)
            var out = [Float](repeating: 0, count: n * k)
            for (s, squeezer) in squeezers.enumerated() {
                let squeezed = squeezer.apply(slice, range: range)
                let p = softmax(try model.logits(try model.inputTensor(rows: squeezed, count: n)).data, classes: classes)
                for r in 0..<n {
                    var l1: Float = 0
                    for c in 0..<classes { l1 += abs(base[r * classes + c] - p[r * classes + c]) }
                    out[r * k + s] = l1
                }
            }
            return out
        }
        return (0..<k).map { s in (0..<count).map { Double(flat[$0 * k + s]) } }
    }

    static func softmax(_ logits: [Float], classes: Int) -> [Float] {
        var out = logits
        var start = 0
        while start < out.count {
            let m = out[start..<start + classes].max() ?? 0
            var sum: Float = 0
            for i in start..<start + classes { out[i] = exp(out[i] - m); sum += out[i] }
            for i in start..<start + classes { out[i] /= sum }
            start += classes
        }
        return out
    }

    /// The smallest threshold that flags at most `falsePositiveRate` of `cleanScores` (flagged means above it).
    public static func threshold(cleanScores: [Double], falsePositiveRate: Double) -> Double {
        let sorted = cleanScores.sorted()
        guard !sorted.isEmpty else { return 0 }
        let keep = Int((Double(sorted.count) * (1 - falsePositiveRate)).rounded(.up))
        return sorted[min(max(keep - 1, 0), sorted.count - 1)]
    }

    /// Calibrates on clean rows: chooses the squeezers (one, or the pair whose larger distance is the score) that
    /// catch the most of `adversarial` rows at the threshold that flags at most `falsePositiveRate` of the clean
    /// rows, as Xu et al. tuned theirs per data set; without adversarial rows, 5-level quantisation.
    public static func calibrate(_ model: Model, rows: [Float], count: Int, falsePositiveRate: Double, modelDigest: String,
                                 adversarial: [Float] = [], adversarialCount: Int = 0,
                                 candidates: [Squeezer]? = nil) throws -> FeatureSqueezingDetector {
        guard falsePositiveRate > 0, falsePositiveRate < 1 else { throw MLSecError.usage("the false-positive rate must be in (0, 1)") }
        guard count >= 20 else { throw MLSecError.usage("calibration needs at least 20 clean examples, got \(count)") }
        let range = try InputRange(spec: model.spec)
        var choices = candidates ?? candidateSqueezers(for: model)
        if adversarialCount == 0 { choices = [.quantize(levels: 5)] }
        let clean = try distances(model, rows: rows, count: count, squeezers: choices, range: range)
        let attacked = adversarialCount > 0
            ? try distances(model, rows: adversarial, count: adversarialCount, squeezers: choices, range: range) : []
        // A squeezer that changes no clean row detects only the data's own quantisation (digits are multiples of
        // 1/16), which an attacker evades by rounding to it: such squeezers are not chosen.
        let usable = choices.indices.filter { s in clean[s].contains { $0 > 1e-6 } }
        var sets: [[Int]] = usable.map { [$0] }
        for a in usable { for b in usable where b > a { sets.append([a, b]) } }
        if sets.isEmpty { sets = [[0]] }
        var best: (set: [Int], rate: Double, threshold: Double)?
        for set in sets {
            let cleanScores = (0..<count).map { r in set.reduce(0) { max($0, clean[$1][r]) } }
            let t = threshold(cleanScores: cleanScores, falsePositiveRate: falsePositiveRate)
            let rate = adversarialCount == 0 ? 0 : Double((0..<adversarialCount).filter { r in set.reduce(0) { max($0, attacked[$1][r]) } > t }.count)
                / Double(adversarialCount)
            if best == nil || rate > (best?.rate ?? 0) { best = (set, rate, t) }
        }
        guard let best else { throw MLSecError.usage("no squeezer to calibrate") }
        let squeezers = best.set.map { choices[$0] }
        let cleanScores = (0..<count).map { r in best.set.reduce(0) { max($0, clean[$1][r]) } }
        let observed = Double(cleanScores.filter { $0 > best.threshold }.count) / Double(count)
        return FeatureSqueezingDetector(squeezers: squeezers, range: range, threshold: best.threshold, targetFalsePositiveRate: falsePositiveRate,
                                        observedFalsePositiveRate: observed, calibrationExamples: count, model: model.spec.name,
                                        modelDigest: modelDigest, selectionDetectionRate: adversarialCount > 0 ? best.rate : nil)
    }

    /// Scores and flags for `count` rows.
    public func check(_ model: Model, rows: [Float], count: Int) throws -> (scores: [Double], flagged: [Bool]) {
        let scores = try Self.scores(model, rows: rows, count: count, squeezers: squeezers, range: range)
        return (scores, scores.map { $0 > threshold })
    }

    /// Refuses a model other than the one the detector was calibrated for.
    public func checkBinding(modelDigest digest: String) throws {
        guard digest == modelDigest else {
            throw MLSecError(.verificationFailed,
                             "the detector was calibrated for weights \(modelDigest), not \(digest): recalibrate it with mlsec detector calibrate")
        }
    }
}
