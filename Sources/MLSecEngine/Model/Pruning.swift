// Pruning: magnitude pruning of weights (a robustness check for watermarks and fingerprints).

import MLSecCore

extension Model {
    /// Zeroes the smallest-magnitude `fraction` of all weight values (biases are kept), globally across layers.
    /// - Returns: the number of values set to zero.
    @discardableResult
    public mutating func prune(fraction: Double) throws -> Int {
        guard fraction >= 0, fraction <= 1 else { throw MLSecError.usage("--fraction must be between 0 and 1") }
        let weightIndices = Set(spec.layers.compactMap { spec -> String? in
            if case .dense(let w, _) = spec.layer { return w }
            if case .conv2d(let w, _, _, _) = spec.layer { return w }
            return nil
        }.compactMap { parameterNames.firstIndex(of: $0) })
        var magnitudes: [Float] = []
        for i in weightIndices { magnitudes.append(contentsOf: parameters[i].data.map(abs)) }
        let count = Int((Double(magnitudes.count) * fraction).rounded(.down))
        guard count > 0 else { return 0 }
        magnitudes.sort()
        let threshold = magnitudes[count - 1]
        // Zero values strictly below the threshold, then ties at the threshold until `count` are zero.
        var remaining = count
        for i in weightIndices.sorted() {
            for j in parameters[i].data.indices where remaining > 0 && abs(parameters[i].data[j]) < threshold {
                parameters[i].data[j] = 0
                remaining -= 1
            }
        }
        for i in weightIndices.sorted() {
            for j in parameters[i].data.indices where remaining > 0 && abs(parameters[i].data[j]) == threshold {
                parameters[i].data[j] = 0
                remaining -= 1
            }
        }
        return count - remaining
    }
}
