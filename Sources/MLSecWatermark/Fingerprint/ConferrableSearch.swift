// ConferrableSearch: the optimisation behind the conferrable fingerprint: sign-gradient steps on an ensemble hinge
// objective that moves data rows to a new label on the source and its copies and away from it on the references,
// within an L-inf budget and the input range; then each candidate's conferrability score.

import MLSecCore
import MLSecEngine

/// Finds candidate fingerprint inputs.
struct ConferrableSearch {
    let source: Model
    let copies: [FingerprintSurrogates.Copy]
    let references: [Model]
    let range: Fingerprinting.Range
    let options: ConferrableFingerprint.Options

    /// Rows optimised at once (bounds the activations held for the gradients).
    static let chunk = 128

    init(source: Model, copies: [FingerprintSurrogates.Copy], references: [Model], range: Fingerprinting.Range,
         options: ConferrableFingerprint.Options) throws {
        guard source.classCount >= 2 else { throw MLSecError.unsupported("fingerprinting needs a classifier of two or more classes") }
        self.source = source
        self.copies = copies
        self.references = references
        self.range = range
        self.options = options
    }

    /// Candidates: the optimised inputs (row-major), the source's label of each and its conferrability score.
    struct Candidates {
        var inputs: [Float]
        var labels: [Int]
        var scores: [Double]
    }

    /// One member of the ensemble: a model, its weight in the objective, and whether it should take the target label
    /// (+1, the source and its copies) or avoid it (-1, the references).
    private struct Member {
        var model: Model
        var weight: Float
        var sign: Float
    }

    private var members: [Member] {
        let weightCopies = copies.filter { !$0.distilled }
        let distilled = copies.filter(\.distilled)
        // The distilled copies share no weights with the source, and so share fewer of its quirks: as a group they
        // weigh as much as all the weight-derived copies together.
        let copyShare: Float = distilled.isEmpty || weightCopies.isEmpty ? 1 : 0.5
        var out = [Member(model: source, weight: 1, sign: 1)]
        out += weightCopies.map { Member(model: $0.model, weight: copyShare / Float(weightCopies.count), sign: 1) }
        out += distilled.map { Member(model: $0.model, weight: copyShare / Float(distilled.count), sign: 1) }
        out += references.map { Member(model: $0, weight: 1 / Float(references.count), sign: -1) }
        return out
    }

    /// Optimises `min(options.candidates, data.count)` seeded rows of `data` and scores them.
    func run(data: Dataset) throws -> Candidates {
        let width = source.inputSize
        let n = min(options.candidates, data.count)
        let rows = FingerprintSurrogates.shuffled(data, seed: options.seed ^ 0x4341_4E44).subset(Array(0..<n)).features
        let original = try ModelOracle(model: source).labelsNow(rows, count: n)
        let classes = source.classCount
        var rng = SeededGenerator(seed: options.seed ^ 0x5441_5247)
        // Each row aims at a random other class.
        let targets = original.map { ($0 + 1 + Int(rng.next() % UInt64(classes - 1))) % classes }
        var inputs: [Float] = []
        inputs.reserveCapacity(n * width)
        var start = 0
        while start < n {
            let end = min(n, start + Self.chunk)
            inputs += try optimise(Array(rows[start * width..<end * width]), targets: Array(targets[start..<end]))
            start = end
        }
        let labels = try ModelOracle(model: source).labelsNow(inputs, count: n)
        return Candidates(inputs: inputs, labels: labels, scores: try scores(inputs, labels: labels))
    }

    /// Sign-gradient descent of the weighted hinge losses, projected on the budget and the range.
    private func optimise(_ start: [Float], targets: [Int]) throws -> [Float] {
        let count = targets.count
        let epsilon = options.epsilon * range.width
        let step = 2.5 * epsilon / Float(options.steps)
        let lower = start.map { max($0 - epsilon, range.lower) }
        let upper = start.map { min($0 + epsilon, range.upper) }
        var x = start
        let ensemble = members
        for _ in 0..<options.steps {
            var gradient = [Float](repeating: 0, count: x.count)
            let tensor = try source.inputTensor(rows: x, count: count)
            for member in ensemble {
                let (_, g) = try member.model.inputGradient(tensor) { logits in
                    Self.hingeGradient(logits, targets: targets, sign: member.sign, margin: options.margin, weight: member.weight)
                }
                for i in gradient.indices { gradient[i] += g.data[i] }
            }
            for i in x.indices where gradient[i] != 0 {
                x[i] = min(max(x[i] - (gradient[i] > 0 ? step : -step), lower[i]), upper[i])
            }
        }
        return x
    }

    /// Gradient, with respect to the logits, of `weight * -sign * (z_t - max_{j != t} z_j)` for each row whose signed
    /// margin is still under `margin` (zero for rows already past it).
    static func hingeGradient(_ logits: Tensor, targets: [Int], sign: Float, margin: Float, weight: Float) -> Tensor {
        var gradient = Tensor(zeros: logits.shape)
        let classes = logits.rowSize
        for (r, t) in targets.enumerated() {
            let base = r * classes
            var best = -1
            var bestValue = -Float.infinity
            for j in 0..<classes where j != t && logits.data[base + j] > bestValue {
                bestValue = logits.data[base + j]
                best = j
            }
            guard best >= 0, sign * (logits.data[base + t] - bestValue) < margin else { continue }
            gradient.data[base + t] -= sign * weight
            gradient.data[base + best] += sign * weight
        }
        return gradient
    }

    /// Conferrability: (share of copies that give the source's label) x (1 - share of references that do), the copy
    /// share averaging the weight-derived and the distilled copies as two equal groups.
    func scores(_ inputs: [Float], labels: [Int]) throws -> [Double] {
        let n = labels.count
        func agreement(_ models: [Model]) throws -> [Double]? {
            guard !models.isEmpty else { return nil }
            var sum = [Double](repeating: 0, count: n)
            for model in models {
                let answers = try ModelOracle(model: model).labelsNow(inputs, count: n)
                for i in 0..<n where answers[i] == labels[i] { sum[i] += 1 }
            }
            return sum.map { $0 / Double(models.count) }
        }
        let weightCopies = try agreement(copies.filter { !$0.distilled }.map(\.model))
        let distilled = try agreement(copies.filter(\.distilled).map(\.model))
        let referenceAgreement = try agreement(references) ?? [Double](repeating: 0, count: n)
        return (0..<n).map { i in
            let copyAgreement: Double
            switch (weightCopies, distilled) {
            case (let w?, let d?): copyAgreement = (w[i] + d[i]) / 2
            case (let w?, nil): copyAgreement = w[i]
            case (nil, let d?): copyAgreement = d[i]
            case (nil, nil): copyAgreement = 1
            }
            return copyAgreement * (1 - referenceAgreement[i])
        }
    }
}
