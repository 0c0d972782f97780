// Randomized smoothing, the feature-squeezing detector and its file, ROC curves, squeezers against SciPy.

import Foundation
import MLSecCore
import MLSecEngine
import MLSecRobustness
import Testing

@Suite struct DefenseTests {
    @Test func smoothingCertificatesRepeatAndFollowTheirBound() throws {
        let (model, rows, labels) = Fixture.trained
        let smoothing = try RandomizedSmoothing(sigma: 0.25, samples: 400, seed: 5)
        let first = try smoothing.certify(model, rows: Array(rows[0..<20 * 64]), count: 20)
        #expect(first == (try smoothing.certify(model, rows: Array(rows[0..<20 * 64]), count: 20)))
        for c in first {
            if let _ = c.prediction {
                #expect(c.probabilityLowerBound >= 0.5)
                #expect(abs(c.radius - 0.25 * SpecialFunctions.inverseNdtr(c.probabilityLowerBound)) < 1e-5)
                // 400 samples at alpha 0.001 bound p below 0.001^(1/400): the radius cannot pass 0.25 * Phi^-1 of it.
                #expect(c.radius <= 0.25 * SpecialFunctions.inverseNdtr(pow(0.001, 1.0 / 400)) + 1e-6)
            } else {
                #expect(c.radius == 0)
            }
        }
        let accuracy = RandomizedSmoothing.certifiedAccuracy(first, labels: Array(labels[0..<20]), radii: [0, 0.25, 10])
        #expect(accuracy[0] >= accuracy[1] && accuracy[2] == 0 && accuracy[0] > 0.5)
        // Huge noise: nothing is certain, every row abstains.
        let blind = try RandomizedSmoothing(sigma: 50, samples: 100, seed: 1).certify(model, rows: Array(rows[0..<5 * 64]), count: 5)
        #expect(blind.allSatisfy { $0.prediction == nil })
    }

    @Test func medianSqueezerMatchesSciPy() {
        // scipy.ndimage.median_filter(x, size=k, mode="reflect") on a 4 x 4 plane.
        let x: [Float] = [0.0, 1.0, 2.8284271247461903, 5.196152422706632, 1.0, 4.180339887498949, 0.6969384566990691, 4.520259177452132,
                          1.6274169979695223, 6.0, 3.6227766016837926, 1.4828726939093997, 6.569219381653056, 4.872166581031863,
                          3.3832034148351795, 2.0947501931112527]
        let two: [Float] = [0.0, 1.0, 2.8284271247461903, 5.196152422706632, 1.0, 1.0, 2.8284271247461903, 4.520259177452132,
                            1.6274169979695223, 4.180339887498949, 4.180339887498949, 3.6227766016837926, 6.569219381653056, 6.0,
                            4.872166581031863, 3.3832034148351795]
        let three: [Float] = [1.0, 1.0, 2.8284271247461903, 4.520259177452132, 1.0, 1.6274169979695223, 3.6227766016837926,
                              3.6227766016837926, 4.180339887498949, 3.6227766016837926, 3.6227766016837926, 2.0947501931112527, 6.0,
                              4.872166581031863, 3.3832034148351795, 2.0947501931112527]
        let range = InputRange.unit
        #expect(Squeezer.median(window: 2, channels: 1, height: 4, width: 4).apply(x, range: range) == two)
        #expect(Squeezer.median(window: 3, channels: 1, height: 4, width: 4).apply(x, range: range) == three)
        #expect(Squeezer.quantize(levels: 3).apply([0, 0.2, 0.3, 0.76, 1.4], range: range) == [0, 0, 0.5, 1, 1])
    }

    @Test func detectorCalibratesToItsFalsePositiveRateAndRoundTrips() throws {
        let (model, rows, labels) = Fixture.trained
        _ = labels
        let attack = try GradientAttack.pgd(norm: .infinity, epsilon: 0.1, steps: 10)
        let detector = try FeatureSqueezingDetector.calibrate(model, rows: rows, count: 60, falsePositiveRate: 0.1,
                                                              modelDigest: model.parameterDigest, against: attack)
        #expect(detector.observedFalsePositiveRate <= 0.1)
        #expect(try detector.check(model, rows: rows, count: 60).flagged.filter { $0 }.count <= 6)
        let text = JSONWriter.string(detector.json)
        let parsed = try FeatureSqueezingDetector(bytes: Array(text.utf8), context: "detector.json")
        #expect(parsed == detector)
        try parsed.checkBinding(modelDigest: model.parameterDigest)
        #expect(throws: MLSecError.self) { try parsed.checkBinding(modelDigest: "sha256:" + String(repeating: "0", count: 64)) }
    }

    @Test func hostileDetectorFilesAreRefused() {
        let bad = [
            "{", "[]", #"{"format":"mlsec-feature-squeezing-detector","version":2}"#,
            #"{"format":"mlsec-feature-squeezing-detector","version":1,"model":"m","model_digest":"sha256:00","squeezers":[],"threshold":1,"target_false_positive_rate":0.05,"calibration":{"examples":10,"false_positive_rate":0}}"#,
            #"{"format":"mlsec-feature-squeezing-detector","version":1,"model":"m","model_digest":"sha256:00","squeezers":[{"type":"quantize","levels":1}],"threshold":1,"target_false_positive_rate":0.05,"calibration":{"examples":10,"false_positive_rate":0}}"#,
            #"{"format":"mlsec-feature-squeezing-detector","version":1,"model":"m","model_digest":"sha256:00","squeezers":[{"type":"quantize","levels":4}],"threshold":-1,"target_false_positive_rate":0.05,"calibration":{"examples":10,"false_positive_rate":0}}"#,
            #"{"format":"mlsec-feature-squeezing-detector","version":1,"model":"m","model_digest":"md5:00","squeezers":[{"type":"quantize","levels":4}],"threshold":1,"target_false_positive_rate":0.05,"calibration":{"examples":10,"false_positive_rate":0}}"#,
            String(repeating: " ", count: 70_000),
        ]
        for text in bad {
            #expect(throws: MLSecError.self) { try FeatureSqueezingDetector(bytes: Array(text.utf8), context: "d") }
        }
    }

    @Test func rocCurveOfSeparatedAndMixedScores() {
        let separated = ROC.curve(clean: [0.1, 0.2, 0.3], attacked: [0.5, 0.7])
        #expect(separated.auc == 1)
        let mixed = ROC.curve(clean: [0.1, 0.5], attacked: [0.1, 0.5])
        #expect(abs(mixed.auc - 0.5) < 1e-12)
        #expect(FeatureSqueezingDetector.threshold(cleanScores: Array(stride(from: 0.0, to: 100, by: 1)), falsePositiveRate: 0.05) == 94)
    }

    @Test func adversarialTrainingRunsAndKeepsTheModelUseful() throws {
        var model = Fixture.trained.model
        let data = Digits.dataset(.train).subset(Array(0..<256))
        let options = try AdversarialTrainingOptions(attack: try .pgd(norm: .infinity, epsilon: 0.1, steps: 3, randomStart: true), ratio: 0.5)
        let summary = try AdversarialTraining.train(&model, on: data, options: TrainingOptions(epochs: 2), adversarial: options)
        #expect(summary.epochs == 2 && summary.finalLoss.isFinite)
        #expect(throws: MLSecError.self) { try AdversarialTrainingOptions(attack: options.attack, ratio: 0) }
    }
}
