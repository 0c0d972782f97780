// Optimizer: SGD (with momentum) and Adam, with PyTorch's update rules.

/// Updates parameters from gradients.
public enum OptimizerKind: String, Sendable, CaseIterable {
    case sgd, adam
}

/// The state of an optimizer across steps.
public struct Optimizer: Sendable {
    public let kind: OptimizerKind
    public var learningRate: Float
    public var momentum: Float
    /// L2 penalty added to the gradient (PyTorch's `weight_decay`).
    public var weightDecay: Float
    public var beta1: Float = 0.9
    public var beta2: Float = 0.999
    public var epsilon: Float = 1e-8
    var step = 0
    var first: [[Float]] = []
    var second: [[Float]] = []

    public init(kind: OptimizerKind, learningRate: Float, momentum: Float = 0, weightDecay: Float = 0) {
        self.kind = kind
        self.learningRate = learningRate
        self.momentum = momentum
        self.weightDecay = weightDecay
    }

    /// Applies one step: `parameters[i] -= update(gradients[i])`.
    public mutating func apply(_ gradients: [[Float]], to parameters: inout [Tensor]) {
        var gradients = gradients
        if weightDecay != 0 {
            for p in parameters.indices {
                for i in gradients[p].indices { gradients[p][i] += weightDecay * parameters[p].data[i] }
            }
        }
        if first.isEmpty {
            first = gradients.map { [Float](repeating: 0, count: $0.count) }
            second = first
        }
        step += 1
        switch kind {
        case .sgd:
            for p in parameters.indices {
                parameters[p].data.withUnsafeMutableBufferPointer { w in
                    gradients[p].withUnsafeBufferPointer { g in
                        if momentum == 0 {
                            for i in 0..<w.count { w[i] -= learningRate * g[i] }
                        } else {
                            first[p].withUnsafeMutableBufferPointer { v in
                                for i in 0..<w.count {
                                    v[i] = momentum * v[i] + g[i]
                                    w[i] -= learningRate * v[i]
                                }
                            }
                        }
                    }
                }
            }
        case .adam:
            let c1 = 1 - pow(beta1, Float(step)), c2 = 1 - pow(beta2, Float(step))
            let stepSize = learningRate / c1
            let c2Root = c2.squareRoot()
            for p in parameters.indices {
                parameters[p].data.withUnsafeMutableBufferPointer { w in
                    gradients[p].withUnsafeBufferPointer { g in
                        first[p].withUnsafeMutableBufferPointer { m in
                            second[p].withUnsafeMutableBufferPointer { v in
                                for i in 0..<w.count {
                                    m[i] = beta1 * m[i] + (1 - beta1) * g[i]
                                    v[i] = beta2 * v[i] + (1 - beta2) * g[i] * g[i]
                                    w[i] -= stepSize * m[i] / (v[i].squareRoot() / c2Root + epsilon)
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

private func pow(_ x: Float, _ y: Float) -> Float {
    var r: Float = 1
    var n = Int(y)
    var b = x
    while n > 0 {
        if n & 1 == 1 { r *= b }
        b *= b
        n >>= 1
    }
    return r
}
