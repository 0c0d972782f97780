// SoftmaxCrossEntropy: the classification loss on logits, computed stably, with its gradient.

import Foundation

/// Softmax cross-entropy with integer labels.
enum SoftmaxCrossEntropy {
    struct Result {
        var losses: [Float]
        var mean: Float
        /// d(loss_i)/d(logits_i) = softmax(logits_i) - onehot(label_i), per example (not averaged).
        var gradient: [Float]
    }

    static func evaluate(logits: [Float], labels: [Int], classes: Int) -> Result {
        let n = labels.count
        var gradient = BoundLayer.softmaxRows(logits, width: classes)
        var losses = [Float](repeating: 0, count: n)
        for i in 0..<n {
            let row = i * classes
            var m = -Float.infinity
            for j in 0..<classes { m = max(m, logits[row + j]) }
            var sum: Float = 0
            for j in 0..<classes { sum += exp(logits[row + j] - m) }
            losses[i] = (log(sum) + m) - logits[row + labels[i]]
            gradient[row + labels[i]] -= 1
        }
        let mean = n == 0 ? 0 : losses.reduce(0, +) / Float(n)
        return Result(losses: losses, mean: mean, gradient: gradient)
    }
}
