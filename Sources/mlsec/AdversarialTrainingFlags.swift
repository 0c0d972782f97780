// AdversarialTrainingFlags: `mlsec train --adversarial pgd --eps E [--adversarial-steps N] [--adversarial-ratio R]`.

import ArgumentParser
import MLSecCore
import MLSecRobustness

enum AdversarialMethod: String, ExpressibleByArgument, CaseIterable { case pgd }

struct AdversarialTrainingFlags: ParsableArguments {
    @Option(help: "Train on adversarial examples made by this attack against the model as it learns: pgd.")
    var adversarial: AdversarialMethod?
    @Option(help: "With --adversarial: the attack's budget (the robustness aimed for).") var eps: Float?
    @Option(name: .customLong("adversarial-norm"), help: "With --adversarial: inf (default) or 2.") var adversarialNorm: Norm = .infinity
    @Option(name: .customLong("adversarial-steps"), help: "With --adversarial: PGD steps per batch (default 10).") var adversarialSteps = 10
    @Option(name: .customLong("adversarial-step-size"), help: "With --adversarial: PGD step size (default 2.5 * eps / steps).") var adversarialStepSize: Float?
    @Option(name: .customLong("adversarial-ratio"), help: "With --adversarial: fraction of each batch attacked, in (0, 1] (default 1).") var adversarialRatio = 1.0

    func validate() throws {
        guard adversarial != nil else {
            if eps != nil { throw ValidationError("--eps is the budget of --adversarial pgd") }
            return
        }
        guard let eps, eps > 0, eps.isFinite else { throw ValidationError("--adversarial pgd needs --eps, a positive number") }
        if !(1...1000).contains(adversarialSteps) { throw ValidationError("--adversarial-steps must be 1...1000") }
        if !(adversarialRatio > 0 && adversarialRatio <= 1) { throw ValidationError("--adversarial-ratio must be in (0, 1]") }
    }

    /// The training settings, or nil without --adversarial.
    func options(seed: UInt64) throws -> AdversarialTrainingOptions? {
        guard adversarial != nil, let eps else { return nil }
        let attack = try GradientAttack.pgd(norm: adversarialNorm, epsilon: eps, steps: adversarialSteps, stepSize: adversarialStepSize,
                                            randomStart: true, seed: seed)
        return try AdversarialTrainingOptions(attack: attack, ratio: adversarialRatio)
    }
}
