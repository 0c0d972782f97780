// MonitorStatisticsTests.swift: the monitor's drift statistics against SciPy 1.17 (scipy.stats.ks_2samp,
// kstwobign.sf, chi2.sf, chisquare) and hand-computed PSI values.

import Foundation
import MLSecData
import Testing

@Suite struct MonitorStatisticsTests {
    func close(_ a: Double, _ b: Double, _ tolerance: Double = 1e-9) -> Bool { abs(a - b) <= tolerance * max(1, abs(b)) }

    @Test func populationStabilityIndexMatchesHandComputedValues() {
        // numpy: sum((a - e) * log(a / e)).
        #expect(close(DriftStatistics.populationStabilityIndex(expected: [0.1, 0.2, 0.3, 0.4], actual: [0.25, 0.25, 0.25, 0.25]),
                      0.22821740957339184))
        // An empty reference bin is floored at 1e-4 rather than dividing by zero.
        #expect(close(DriftStatistics.populationStabilityIndex(expected: [0.5, 0.5, 0], actual: [0.4, 0.4, 0.2]), 1.5640491119253044))
        #expect(DriftStatistics.populationStabilityIndex(expected: [0.3, 0.7], actual: [0.3, 0.7]) == 0)
    }

    @Test func kolmogorovSmirnovStatisticMatchesScipyWithTies() {
        let a = [0.1, 0.5, 0.5, 0.9, 1.3, 2.0, 2.2, 3.1, 0.4, 0.7]
        let b = [0.3, 0.5, 1.1, 1.4, 1.6, 2.5, 2.7, 3.3, 3.9, 4.4, 0.2, 1.0]
        let d = DriftStatistics.kolmogorovSmirnov(a, b)
        #expect(close(d, 0.35))  // ks_2samp(a, b).statistic
        // scipy.stats.kstwobign.sf(sqrt(n m / (n + m)) * D)
        #expect(close(DriftStatistics.kolmogorovSmirnovPValue(statistic: d, n: a.count, m: b.count), 0.5160715274389962, 1e-7))
        // Against a step CDF holding the whole reference, the same statistic.
        let sorted = a.sorted()
        var values: [Double] = [], fractions: [Double] = []
        for (i, v) in b.sorted().enumerated() {
            if values.last == v { fractions[fractions.count - 1] = Double(i + 1) / Double(b.count) } else {
                values.append(v)
                fractions.append(Double(i + 1) / Double(b.count))
            }
        }
        let against = sorted.withUnsafeBufferPointer { DriftStatistics.kolmogorovSmirnov(sorted: $0, values: values, fractions: fractions) }
        #expect(close(against, 0.35))
    }

    @Test func kolmogorovSmirnovOnLargerSamplesMatchesScipy() {
        let a = (0..<400).map { (Double($0) * 0.61803398875).truncatingRemainder(dividingBy: 1) }
        let b = (0..<300).map { pow((Double($0) * 0.41421356).truncatingRemainder(dividingBy: 1), 1.5) }
        let d = DriftStatistics.kolmogorovSmirnov(a, b)
        #expect(close(d, 0.15666666666666668))
        #expect(close(DriftStatistics.kolmogorovSmirnovPValue(statistic: d, n: 400, m: 300), 0.0004429334988328735, 1e-6))
        // SciPy 1.17's own ks_2samp p-value (exact distribution) is 0.000395: the asymptotic one is close, a little conservative.
        #expect(DriftStatistics.kolmogorovSmirnovPValue(statistic: d, n: 400, m: 300) > 0.000395)
    }

    @Test func kolmogorovDistributionSurvivalMatchesScipy() {
        let expected: [(Double, Double)] = [
            (0.3, 0.9999906941986655), (0.6, 0.8642827790506042), (0.9, 0.3927307079406543), (1.0, 0.26999967167735456),
            (1.2, 0.11224966667072497), (1.8, 0.003067621347579706), (2.5, 7.453306344157342e-06),
        ]
        for (lambda, q) in expected { #expect(close(DriftStatistics.kolmogorovSurvival(lambda), q, 1e-8), "lambda \(lambda)") }
        #expect(DriftStatistics.kolmogorovSurvival(0) == 1)
    }

    @Test func chiSquareMatchesScipy() {
        let expected: [(Double, Int, Double)] = [
            (3.0, 2, 0.22313016014842982), (10.0, 9, 0.3504852123233613), (25.0, 9, 0.002971180485917624),
            (0.5, 1, 0.47950012218695337), (40.0, 4, 4.328422607120966e-08),
        ]
        for (x, k, p) in expected { #expect(close(DriftStatistics.chiSquareSurvival(x, degreesOfFreedom: k), p, 1e-8), "x \(x) k \(k)") }
        // scipy.stats.chisquare([30, 50, 20], [30, 40, 30])
        let test = DriftStatistics.chiSquare(observed: [30, 50, 20], expectedShares: [0.3, 0.4, 0.3])
        #expect(close(test.statistic, 5.833333333333334))
        #expect(close(test.pValue, 0.05411376622282158, 1e-8))
    }

    @Test func binsAndQuantiles() {
        let edges = [0.0, 0.5, 1.0]
        #expect(DriftStatistics.bin(of: -1, edges: edges) == 0)
        #expect(DriftStatistics.bin(of: 0, edges: edges) == 0)
        #expect(DriftStatistics.bin(of: 0.2, edges: edges) == 1)
        #expect(DriftStatistics.bin(of: 0.5, edges: edges) == 1)
        #expect(DriftStatistics.bin(of: 2, edges: edges) == 3)
        #expect(DriftStatistics.quantile(sorted: [1, 2, 3, 4], 0.5) == 2)
        #expect(DriftStatistics.quantile(sorted: [1, 2, 3, 4], 1) == 4)
    }
}
