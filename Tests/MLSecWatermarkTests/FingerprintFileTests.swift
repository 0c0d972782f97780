// FingerprintFileTests: FP.json round-trips exactly; malformed, wrong-shape and oversized files are refused with
// errors that say what is wrong; a small conferrable fingerprint matches its model and copies, not independent models.

import Foundation
import MLSecCore
import MLSecEngine
import MLSecWatermark
import Testing

@Suite struct FingerprintFileTests {
    @Test func fileRoundTripsExactly() throws {
        let fingerprint = FingerprintFixture.handMade
        let parsed = try FingerprintFixture.parse(FingerprintFixture.text(fingerprint))
        #expect(parsed == fingerprint)
        #expect(parsed.fileBytes == fingerprint.fileBytes)
    }

    @Test(arguments: [
        ("not json", "is not valid JSON"),
        (#"{"format": "mlsec.detector", "version": 1}"#, "is not an MLSec fingerprint file"),
        (#"{"format": "mlsec.fingerprint.conferrable", "version": 2}"#, "is not an MLSec fingerprint file"),
    ])
    func foreignFilesAreRefused(text: String, expected: String) {
        let message = FingerprintFixture.message { _ = try FingerprintFixture.parse(text) }
        #expect(message.contains(expected), "\(message)")
    }

    /// Edits of a valid file, each with the words its error must contain.
    @Test(arguments: [
        ("\"threshold\": 0.4", "\"threshold\": 1.5", "\"threshold\" is missing or out of range"),
        ("\"labels\": [2,0,1]", "\"labels\": [2,0,3]", "\"labels\" must be an integer in 0...2"),
        ("\"labels\": [2,0,1]", "\"labels\": [2,0]", "\"inputs\" must hold one row per label (2)"),
        ("\"input_shape\": [4]", "\"input_shape\": [5]", "input 0 must be an array of 5 numbers"),
        ("\"input_shape\": [4]", "\"input_shape\": [4096, 4096]", "has over"),
        ("\"input_shape\": [4]", "\"input_shape\": []", "\"input_shape\" must list 1 to 8 dimensions"),
        ("\"classes\": 3", "\"classes\": 1", "\"classes\" must be an integer in 2"),
        ("\"model_digest\": \"sha256:", "\"model_digest\": \"md5:", "\"model_digest\" must be sha256:"),
        ("\"version\": 1,", "\"version\": 1, \"extra\": true,", "unknown member \"extra\""),
        ("\"references_held_out\": true", "\"references_held_out\": 1", "references_held_out\" must be true or false"),
        ("[0.0,0.25,0.5,1.0]", "[0.0,0.25,0.5,\"x\"]", "input 0 holds a value that is not a finite number"),
    ])
    func malformedFilesAreRefused(find: String, replace: String, expected: String) throws {
        let text = FingerprintFixture.text(FingerprintFixture.handMade)
        #expect(text.contains(find), "fixture text lacks \(find)")
        let message = FingerprintFixture.message { _ = try FingerprintFixture.parse(text.replacingOccurrences(of: find, with: replace)) }
        #expect(message.contains(expected), "\(message)")
        #expect(message.hasPrefix("FP.json"))
    }

    @Test func oversizedFilesAreRefusedBeforeParsing() {
        let bytes = [UInt8](repeating: 0x20, count: ConferrableFingerprint.maxFileBytes + 1)
        let message = FingerprintFixture.message { _ = try ConferrableFingerprint(bytes: bytes, context: "FP.json") }
        #expect(message.contains("is over 32 MiB"))
    }

    @Test func aSuspectOfAnotherInputShapeIsRefused() async throws {
        let message: String
        do {
            _ = try await FingerprintFixture.handMade.match(oracle: ModelOracle(model: FingerprintFixture.source))
            message = ""
        } catch let error as MLSecError {
            message = error.message
        }
        #expect(message.contains("takes 64 input values, the fingerprint's inputs have 4"))
    }

    @Test func smallFingerprintMatchesCopiesNotIndependentModels() async throws {
        let source = FingerprintFixture.source
        let references = try (1...8).map { (name: "ref\($0)", model: try FingerprintFixture.model(seed: UInt64($0))) }
        let data = FingerprintFixture.train
        let start = ContinuousClock.now
        let fingerprint = try ConferrableFingerprint.create(model: source, data: data, references: references,
                                                            options: FingerprintFixture.quickOptions)
        let seconds = Double((ContinuousClock.now - start) / .milliseconds(1)) / 1000
        #expect(fingerprint.count == 30 && fingerprint.inputs.count == 30 * 64)
        #expect(fingerprint.calibration.referencesHeldOut && fingerprint.calibration.references.count == 2)
        #expect(fingerprint.modelDigest == source.parameterDigest && fingerprint.inputShape == [64])
        #expect(fingerprint.inputs.allSatisfy { $0 >= 0 && $0 <= 1 })
        // The file keeps everything.
        #expect(try ConferrableFingerprint(bytes: fingerprint.fileBytes, context: "FP.json") == fingerprint)
        // The source matches itself entirely, a permuted copy too (same function).
        #expect(try await fingerprint.match(oracle: ModelOracle(model: source)).matchRate == 1)
        let permuted = try WeightFingerprint.permutingHiddenUnits(of: source, seed: 3)
        #expect(try await fingerprint.match(oracle: ModelOracle(model: permuted)).isCopy)
        let copies = [
            try RemovalAttack.fineTune(fraction: 0.5, epochs: 3, learningRate: 0.001).apply(to: source, data: data, seed: 77),
            try RemovalAttack.prune(fraction: 0.5).apply(to: source, data: data),
        ]
        var copyRates: [Double] = []
        for copy in copies { copyRates.append(try await fingerprint.match(oracle: ModelOracle(model: copy)).matchRate) }
        var independentRates: [Double] = []
        for seed: UInt64 in [31, 32] {
            independentRates.append(try await fingerprint.match(oracle: ModelOracle(model: try FingerprintFixture.model(seed: seed))).matchRate)
        }
        print("small fingerprint (\(String(format: "%.1f", seconds)) s): threshold \(fingerprint.threshold), copies \(copyRates), "
            + "independent \(independentRates), calibration \(fingerprint.calibration.copies.map(\.matchRate)) vs "
            + "\(fingerprint.calibration.references.map(\.matchRate))")
        #expect(copyRates.allSatisfy { $0 >= fingerprint.threshold })
        #expect(independentRates.allSatisfy { $0 < fingerprint.threshold })
    }

    @Test func creationChecksItsInputs() throws {
        let source = FingerprintFixture.source
        let data = FingerprintFixture.train.subset(Array(0..<10))
        var message = FingerprintFixture.message { _ = try ConferrableFingerprint.create(model: source, data: data, references: []) }
        #expect(message.contains("at least --count (100) rows"))
        let spec = try Architecture.spec(from: "mlp:64-16-3")
        let other = try Model(spec: spec, weights: try Architecture.initialWeights(for: spec, seed: 1))
        message = FingerprintFixture.message {
            _ = try ConferrableFingerprint.create(model: source, data: FingerprintFixture.train, references: [(name: "odd", model: other)])
        }
        #expect(message.contains("reference model odd takes 64 inputs and predicts 3 classes"))
        message = FingerprintFixture.message { _ = try ConferrableFingerprint.create(model: source, data: FingerprintFixture.train, references: []) }
        #expect(message.contains("give at least one independently trained reference model"))
    }
}
