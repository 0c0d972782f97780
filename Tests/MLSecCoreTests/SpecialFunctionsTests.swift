// SpecialFunctions against SciPy and statsmodels values (computed in the peers' venv; see each expectation).

import Foundation
import MLSecCore
import Testing

@Suite struct SpecialFunctionsTests {
    @Test func incompleteBetaMatchesSciPy() {
        // scipy.special.betainc(a, b, x)
        let cases: [(x: Double, a: Double, b: Double, expected: Double)] = [
            (0.3, 2.5, 4.0, 0.3521975859067672), (0.9, 100, 3, 0.0016335260315866332), (0.5, 1, 1, 0.5),
            (0.01, 0.5, 0.5, 0.06376856085851985),
        ]
        for c in cases {
            let value = SpecialFunctions.regularizedIncompleteBeta(c.x, c.a, c.b)
            #expect(abs(value - c.expected) <= 1e-12 * max(1, c.expected), "I_\(c.x)(\(c.a), \(c.b)) = \(value)")
            let back = SpecialFunctions.inverseRegularizedIncompleteBeta(c.expected, c.a, c.b)
            #expect(abs(back - c.x) <= 1e-9, "inverse at \(c.expected): \(back)")
        }
        #expect(SpecialFunctions.regularizedIncompleteBeta(2, 1, 1).isNaN)
    }

    @Test func clopperPearsonMatchesStatsmodels() {
        // statsmodels.stats.proportion.proportion_confint(k, n, alpha=2 * alpha, method="beta")[0]
        let cases: [(k: Int, n: Int, alpha: Double, expected: Double)] = [
            (990, 1000, 0.001, 0.9760361871553114), (500, 1000, 0.001, 0.45077105398478234), (1, 10, 0.05, 0.005116196891823701),
            (100_000, 100_000, 0.001, 0.9999309248330094), (73, 100, 0.01, 0.6138733226723934),
        ]
        for c in cases {
            let bound = SpecialFunctions.clopperPearsonLower(successes: c.k, trials: c.n, alpha: c.alpha)
            #expect(abs(bound - c.expected) <= 1e-10, "\(c.k)/\(c.n): \(bound)")
        }
        #expect(SpecialFunctions.clopperPearsonLower(successes: 0, trials: 10, alpha: 0.01) == 0)
    }
}
