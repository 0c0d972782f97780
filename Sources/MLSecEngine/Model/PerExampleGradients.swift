// PerExampleGradients: each example's own parameter gradient, kept factored where the model allows it, so that
// per-example norms and weighted sums (what DP-SGD's clipping needs) cost about one ordinary backward pass.

import MLSecCore

/// The per-example gradients of a batch, as per-example squared norms and weighted sums.
///
/// For models whose only parameterised layers are dense layers (each parameter used by one layer), the gradient
/// of example i for a dense layer is the outer product dyᵢ xᵢᵀ (plus dyᵢ for its bias), so
/// ‖gᵢ‖² = Σ over dense layers of ‖dyᵢ‖²·(‖xᵢ‖² + 1 if the layer has a bias) and Σᵢ wᵢ gᵢ = (diag(w)·dY)ᵀ X: the
/// per-example gradients are never materialised. Other models (convolutions, shared parameters) fall back to
/// materialised per-example gradients (`Model.gradients(_:labels:perExample:)`), with the same results.
public struct PerExampleGradients: Sendable {
    /// Examples in the batch.
    public let batch: Int
    /// Mean softmax cross-entropy over the batch.
    public let loss: Float
    /// Per-example losses.
    public let losses: [Float]
    /// Predicted class per example.
    public let predictions: [Int]
    /// ‖gᵢ‖² over all parameters jointly ("flat"), per example, accumulated in Double.
    public let squaredNorms: [Double]
    /// Values per parameter, in the model's parameter order.
    public let parameterCounts: [Int]

    /// A dense layer's factors: its input rows X [batch, inFeatures] and output gradients dY [batch, outFeatures].
    struct DenseFactor: Sendable {
        var weight: Int
        var bias: Int?
        var inFeatures: Int
        var outFeatures: Int
        var x: [Float]
        var dy: [Float]
    }

    enum Storage: Sendable {
        case factored([DenseFactor])
        /// One buffer per parameter, `batch` example-major blocks.
        case materialized([[Float]])
    }

    let storage: Storage

    /// `true` when the norm identity was used (no per-example gradient was materialised).
    public var isFactored: Bool {
        if case .factored = storage { return true }
        return false
    }

    /// Σᵢ weights[i]·gᵢ, one buffer per parameter (in the model's parameter order).
    public func weightedSum(_ weights: [Float]) -> [[Float]] {
        precondition(weights.count == batch, "one weight per example")
        var sums = parameterCounts.map { [Float](repeating: 0, count: $0) }
        switch storage {
        case .factored(let factors):
            for f in factors {
                var scaled = f.dy
                scaled.withUnsafeMutableBufferPointer { s in
                    for i in 0..<batch {
                        let w = weights[i]
                        let row = i * f.outFeatures
                        for o in 0..<f.outFeatures { s[row + o] *= w }
                    }
                }
                scaled.withUnsafeBufferPointer { s in
                    f.x.withUnsafeBufferPointer { xp in
                        sums[f.weight].withUnsafeMutableBufferPointer { g in
                            GEMM.sgemm(transposeA: true, transposeB: false, m: f.outFeatures, n: f.inFeatures, k: batch,
                                       alpha: 1, a: s.baseAddress!, lda: f.outFeatures, b: xp.baseAddress!,
                                       ldb: f.inFeatures, beta: 1, c: g.baseAddress!, ldc: f.inFeatures)
                        }
                    }
                    if let b = f.bias {
                        sums[b].withUnsafeMutableBufferPointer { g in
                            for i in 0..<batch {
                                let row = i * f.outFeatures
                                for o in 0..<f.outFeatures { g[o] += s[row + o] }
                            }
                        }
                    }
                }
            }
        case .materialized(let buffers):
            for p in buffers.indices {
                let count = parameterCounts[p]
                buffers[p].withUnsafeBufferPointer { src in
                    sums[p].withUnsafeMutableBufferPointer { g in
                        for i in 0..<batch {
                            let w = weights[i]
                            if w == 0 { continue }
                            let base = i * count
                            for j in 0..<count { g[j] += w * src[base + j] }
                        }
                    }
                }
            }
        }
        return sums
    }

    /// Example `index`'s gradient, materialised: one buffer per parameter (for tests and small models).
    public func example(_ index: Int) -> [[Float]] {
        precondition((0..<batch).contains(index))
        switch storage {
        case .factored(let factors):
            var out = parameterCounts.map { [Float](repeating: 0, count: $0) }
            for f in factors {
                for o in 0..<f.outFeatures {
                    let d = f.dy[index * f.outFeatures + o]
                    for j in 0..<f.inFeatures { out[f.weight][o * f.inFeatures + j] += d * f.x[index * f.inFeatures + j] }
                    if let b = f.bias { out[b][o] += d }
                }
            }
            return out
        case .materialized(let buffers):
            return buffers.indices.map { p in
                let count = parameterCounts[p]
                return Array(buffers[p][index * count..<(index + 1) * count])
            }
        }
    }
}

extension Model {
    /// Whether per-example gradients can use the dense-layer norm identity: every parameterised layer is dense
    /// and no parameter is read by two layers.
    var supportsFactoredGradients: Bool {
        var seen = Set<Int>()
        for layer in bound[0..<logitLayerCount] {
            switch layer {
            case .conv2d: return false
            case .dense(let w, let b):
                for p in [w] + (b.map { [$0] } ?? []) where !seen.insert(p).inserted { return false }
            default: continue
            }
        }
        return true
    }

    /// Each example's own gradient of its own softmax cross-entropy loss, as squared norms and weighted sums
    /// (see ``PerExampleGradients``).
    /// - Parameter factored: use the dense-layer identity when the model allows it (`false` forces the
    ///   materialised path, for tests).
    public func perExampleGradients(_ x: Tensor, labels: [Int], factored: Bool = true) throws -> PerExampleGradients {
        let counts = parameters.map(\.count)
        guard factored, supportsFactoredGradients else {
            let g = try gradients(x, labels: labels, perExample: true)
            let n = x.batch
            var norms = [Double](repeating: 0, count: n)
            for (p, buffer) in g.parameterGradients.enumerated() {
                let count = counts[p]
                buffer.withUnsafeBufferPointer { b in
                    for i in 0..<n {
                        var s = 0.0
                        for j in i * count..<(i + 1) * count { s += Double(b[j]) * Double(b[j]) }
                        norms[i] += s
                    }
                }
            }
            return PerExampleGradients(batch: n, loss: g.loss, losses: g.losses, predictions: g.predictions,
                                       squaredNorms: norms, parameterCounts: counts,
                                       storage: .materialized(g.parameterGradients))
        }
        try checkInput(x)
        let n = x.batch
        guard labels.count == n else { throw MLSecError.malformed("\(labels.count) labels for \(n) examples") }
        let classes = shapes[logitLayerCount].reduce(1, *)
        for l in labels where !(0..<classes).contains(l) {
            throw MLSecError.malformed("label \(l) is outside 0..<\(classes)")
        }
        let t = trace(x, upTo: logitLayerCount)
        let logits = t.activations[logitLayerCount]
        let loss = SoftmaxCrossEntropy.evaluate(logits: logits.data, labels: labels, classes: classes)
        var grad = Tensor(uncheckedShape: logits.shape, data: loss.gradient)  // each example's own loss
        var factors: [PerExampleGradients.DenseFactor] = []
        var norms = [Double](repeating: 0, count: n)
        var unused = GradientSink(buffers: [], perExample: false)
        for i in stride(from: logitLayerCount - 1, through: 0, by: -1) {
            let input = t.activations[i]
            guard case .dense(let w, let b) = bound[i] else {
                grad = bound[i].backward(x: input, y: t.activations[i + 1], dy: grad, parameters: parameters,
                                         maxIndices: t.maxIndices[i], sink: &unused)
                continue
            }
            let weight = parameters[w]
            let outF = weight.shape[0], inF = weight.shape[1]
            input.data.withUnsafeBufferPointer { xp in
                grad.data.withUnsafeBufferPointer { dp in
                    for e in 0..<n {
                        var xx = 0.0, dd = 0.0
                        for j in e * inF..<(e + 1) * inF { xx += Double(xp[j]) * Double(xp[j]) }
                        for o in e * outF..<(e + 1) * outF { dd += Double(dp[o]) * Double(dp[o]) }
                        norms[e] += dd * (xx + (b == nil ? 0 : 1))
                    }
                }
            }
            factors.append(PerExampleGradients.DenseFactor(weight: w, bias: b, inFeatures: inF, outFeatures: outF,
                                                           x: input.data, dy: grad.data))
            guard i > 0 else { break }  // the input's gradient is not needed
            var dx = [Float](repeating: 0, count: n * inF)
            grad.data.withUnsafeBufferPointer { dyp in
                weight.data.withUnsafeBufferPointer { wp in
                    dx.withUnsafeMutableBufferPointer { dxp in
                        GEMM.sgemm(transposeA: false, transposeB: false, m: n, n: inF, k: outF, alpha: 1,
                                   a: dyp.baseAddress!, lda: outF, b: wp.baseAddress!, ldb: inF, beta: 0,
                                   c: dxp.baseAddress!, ldc: inF)
                    }
                }
            }
            grad = Tensor(uncheckedShape: input.shape, data: dx)
        }
        return PerExampleGradients(batch: n, loss: loss.mean, losses: loss.losses, predictions: logits.argmaxRows(),
                                   squaredNorms: norms, parameterCounts: counts, storage: .factored(factors))
    }
}
