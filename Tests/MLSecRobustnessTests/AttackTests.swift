// Attacks on a small digits model: budgets, the input range, reproducibility, and that they work.

import Foundation
import MLSecCore
import MLSecEngine
import MLSecRobustness
import Testing

enum Fixture {
    /// A 64-32-10 MLP trained briefly on the digits (input range [0, 1]), and 60 test rows.
    static let trained: (model: Model, rows: [Float], labels: [Int]) = {
        let spec = (try? Architecture.spec(from: "mlp:64-32-10")) ?? ModelSpec(
            name: "x", input: TensorSpec(name: "input", shape: [-1, 64]), output: TensorSpec(name: "y", shape: [-1, 10]), layers: [])
        guard let weights = try? Architecture.initialWeights(for: spec, seed: 1), var model = try? Model(spec: spec, weights: weights)
        else { fatalError("fixture model") }
        _ = try? Trainer.train(&model, on: Digits.dataset(.train), options: TrainingOptions(epochs: 15))
        let test = Digits.dataset(.test).subset(Array(0..<60))
        return (model, test.features, test.labels ?? [])
    }()

    static func accuracy(_ model: Model, _ rows: [Float], _ labels: [Int]) throws -> Double {
        let predicted = try model.logits(try model.inputTensor(rows: rows, count: labels.count)).argmaxRows()
        return Double(zip(predicted, labels).filter { $0 == $1 }.count) / Double(labels.count)
    }
}

@Suite struct AttackTests {
    let range = InputRange.unit

    @Test(arguments: [Norm.infinity, Norm.l2])
    func gradientAttacksStayWithinTheBudgetAndTheRange(norm: Norm) throws {
        let (model, rows, labels) = Fixture.trained
        let eps: Float = norm == .infinity ? 0.1 : 1
        let clean = try Fixture.accuracy(model, rows, labels)
        for attack in [try GradientAttack.fgsm(norm: norm, epsilon: eps),
                       try GradientAttack.pgd(norm: norm, epsilon: eps, steps: 20, randomStart: true, seed: 4)] {
            let adversarial = try attack.perturb(model, rows: rows, labels: labels, range: range)
            for r in 0..<labels.count {
                let a = adversarial[r * 64..<(r + 1) * 64], o = rows[r * 64..<(r + 1) * 64]
                #expect(norm.distance(a, o) <= eps * (1 + 1e-5))
            }
            #expect(adversarial.allSatisfy { $0 >= 0 && $0 <= 1 })
            #expect(try Fixture.accuracy(model, adversarial, labels) < clean - 0.2)
        }
    }

    @Test func fgsmIsOneSignStepClipped() throws {
        let (model, rows, labels) = Fixture.trained
        let x = try model.inputTensor(rows: Array(rows[0..<64]), count: 1)
        let gradient = try model.lossInputGradient(x, labels: [labels[0]]).gradient.data
        let adversarial = try GradientAttack.fgsm(norm: .infinity, epsilon: 0.05).perturb(model, rows: Array(rows[0..<64]), labels: [labels[0]], range: range)
        for i in 0..<64 {
            let step: Float = gradient[i] > 0 ? 0.05 : (gradient[i] < 0 ? -0.05 : 0)
            #expect(abs(adversarial[i] - min(max(rows[i] + step, 0), 1)) < 1e-6)
        }
    }

    @Test func lossInputGradientMatchesTheTrainingGradient() throws {
        let (model, rows, labels) = Fixture.trained
        let n = 5
        let x = try model.inputTensor(rows: Array(rows[0..<n * 64]), count: n)
        let fast = try model.lossInputGradient(x, labels: Array(labels[0..<n]))
        let full = try model.gradients(x, labels: Array(labels[0..<n]))
        // The training gradient is of the mean loss; the attack gradient of each example's own loss.
        for i in 0..<n * 64 { #expect(abs(fast.gradient.data[i] / Float(n) - full.inputGradient.data[i]) < 1e-6) }
        #expect(abs(fast.losses.reduce(0, +) / Float(n) - full.loss) < 1e-5)
    }

    @Test func randomStartsRepeatWithTheSeed() throws {
        let (model, rows, labels) = Fixture.trained
        let attack = try GradientAttack.pgd(norm: .l2, epsilon: 0.5, steps: 3, randomStart: true, seed: 11)
        #expect(try attack.perturb(model, rows: rows, labels: labels, range: range) == attack.perturb(model, rows: rows, labels: labels, range: range))
    }

    @Test func carliniWagnerFindsSmallL2Perturbations() async throws {
        let (model, rows, labels) = Fixture.trained
        let outcome = try await EvasionAttack.carliniWagner(try CarliniWagnerL2(steps: 50, binarySearchSteps: 4), epsilon: 1.5)
            .run(model: model, rows: rows, labels: labels)
        #expect(outcome.adversarialAccuracy < outcome.cleanAccuracy - 0.3)
        #expect(outcome.adversarial.allSatisfy { $0 >= 0 && $0 <= 1 })
        #expect(outcome.meanPerturbationL2 <= 1.5)
    }

    @Test func hopSkipJumpKeepsToItsQueryBudget() async throws {
        let (model, rows, labels) = Fixture.trained
        let attack = try HopSkipJump(norm: .l2, maxIterations: 20, maxQueries: 400, seed: 2)
        let outcomes = try await attack.attack(ModelOracle(model: model), rows: Array(rows[0..<8 * 64]), labels: Array(labels[0..<8]),
                                               range: range, concurrency: 2)
        let predicted = try model.logits(try model.inputTensor(rows: outcomes.flatMap(\.adversarial), count: 8)).argmaxRows()
        for (i, outcome) in outcomes.enumerated() {
            #expect(outcome.queries <= 400)
            if outcome.found { #expect(predicted[i] != labels[i]) }
            #expect(outcome.adversarial.allSatisfy { $0 >= 0 && $0 <= 1 })
        }
        #expect(outcomes.filter(\.found).count >= 6)
    }

    @Test func invalidSettingsAreRefused() {
        #expect(throws: MLSecError.self) { try GradientAttack.pgd(norm: .infinity, epsilon: -1) }
        #expect(throws: MLSecError.self) { try GradientAttack.pgd(norm: .infinity, epsilon: .nan) }
        #expect(throws: MLSecError.self) { try HopSkipJump(norm: .l2, maxQueries: 0) }
        #expect(throws: MLSecError.self) { try RandomizedSmoothing(sigma: 0, samples: 10) }
        #expect(throws: MLSecError.self) { try InputRange(lower: 1, upper: 0) }
    }
}

extension InputRange {
    static var unit: InputRange { (try? InputRange(lower: 0, upper: 1))! }
}
