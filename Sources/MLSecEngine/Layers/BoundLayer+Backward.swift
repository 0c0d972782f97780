// BoundLayer+Backward: gradients of each layer (parameters summed over the batch or per example, and input).

import Foundation

/// Where a layer's parameter gradients go: index of the parameter and its gradient buffer.
struct GradientSink {
    /// One buffer per parameter; batch sums (`count` values) or per example (`batch * count`, example-major).
    var buffers: [[Float]]
    let perExample: Bool
    /// `false` when only the input gradient is wanted (attacks): dense layers then skip their parameter gradients.
    var keepsParameters = true

    /// A sink for input gradients only.
    static var inputOnly: GradientSink { GradientSink(buffers: [], perExample: false, keepsParameters: false) }
}

extension BoundLayer {
    /// Back-propagates `dy` through the layer whose input was `x` and output `y`.
    func backward(x: Tensor, y: Tensor, dy: Tensor, parameters: [Tensor], maxIndices: [Int32],
                  sink: inout GradientSink) -> Tensor {
        let n = x.batch
        switch self {
        case .dense(let w, let b):
            let weight = parameters[w]
            let outF = weight.shape[0], inF = weight.shape[1]
            if !sink.keepsParameters {
                // Input gradient only (below).
            } else if sink.perExample {
                // Per-example weight gradient: the outer product dy_i ⊗ x_i, written straight into its block.
                sink.buffers[w].withUnsafeMutableBufferPointer { g in
                    for s in 0..<n {
                        let base = s * outF * inF
                        for o in 0..<outF {
                            let d = dy.data[s * outF + o]
                            if d == 0 { continue }
                            let row = base + o * inF
                            for i in 0..<inF { g[row + i] += d * x.data[s * inF + i] }
                        }
                    }
                }
                if let b {
                    for s in 0..<n { for o in 0..<outF { sink.buffers[b][s * outF + o] += dy.data[s * outF + o] } }
                }
            } else {
                dy.data.withUnsafeBufferPointer { dyp in
                    x.data.withUnsafeBufferPointer { xp in
                        sink.buffers[w].withUnsafeMutableBufferPointer { g in
                            GEMM.sgemm(transposeA: true, transposeB: false, m: outF, n: inF, k: n, alpha: 1,
                                       a: dyp.baseAddress!, lda: outF, b: xp.baseAddress!, ldb: inF, beta: 1,
                                       c: g.baseAddress!, ldc: inF)
                        }
                    }
                }
                if let b {
                    for s in 0..<n { for o in 0..<outF { sink.buffers[b][o] += dy.data[s * outF + o] } }
                }
            }
            var dx = [Float](repeating: 0, count: n * inF)
            dy.data.withUnsafeBufferPointer { dyp in
                weight.data.withUnsafeBufferPointer { wp in
                    dx.withUnsafeMutableBufferPointer { dxp in
                        GEMM.sgemm(transposeA: false, transposeB: false, m: n, n: inF, k: outF, alpha: 1,
                                   a: dyp.baseAddress!, lda: outF, b: wp.baseAddress!, ldb: inF, beta: 0,
                                   c: dxp.baseAddress!, ldc: inF)
                    }
                }
            }
            return Tensor(uncheckedShape: x.shape, data: dx)
        case .relu:
            var dx = dy.data
            for i in dx.indices where x.data[i] <= 0 { dx[i] = 0 }
            return Tensor(uncheckedShape: x.shape, data: dx)
        case .tanh:
            var dx = dy.data
            for i in dx.indices { dx[i] *= 1 - y.data[i] * y.data[i] }
            return Tensor(uncheckedShape: x.shape, data: dx)
        case .sigmoid:
            var dx = dy.data
            for i in dx.indices { dx[i] *= y.data[i] * (1 - y.data[i]) }
            return Tensor(uncheckedShape: x.shape, data: dx)
        case .softmax:
            // dx = y * (dy - sum(dy * y)) per row.
            let width = x.shape.last ?? 1
            var dx = dy.data
            var start = 0
            while start < dx.count {
                var dot: Float = 0
                for j in start..<start + width { dot += dy.data[j] * y.data[j] }
                for j in start..<start + width { dx[j] = y.data[j] * (dy.data[j] - dot) }
                start += width
            }
            return Tensor(uncheckedShape: x.shape, data: dx)
        case .flatten:
            return Tensor(uncheckedShape: x.shape, data: dy.data)
        case .conv2d(let w, let b, let stride, let padding):
            let conv = Convolution(weight: parameters[w], bias: b.map { parameters[$0] }, stride: stride, padding: padding,
                                   input: x.shape)
            if !sink.keepsParameters {
                var weightScratch = [Float](repeating: 0, count: parameters[w].count)
                var biasScratch = b.map { [Float](repeating: 0, count: parameters[$0].count) } ?? []
                return conv.backward(x, gradOutput: dy, perExample: false, weightGrad: &weightScratch, biasGrad: &biasScratch)
            }
            var biasGrad = b.map { sink.buffers[$0] } ?? []
            let dx = conv.backward(x, gradOutput: dy, perExample: sink.perExample, weightGrad: &sink.buffers[w],
                                   biasGrad: &biasGrad)
            if let b { sink.buffers[b] = biasGrad }
            return dx
        case .maxPool2d(let k, let s):
            return Pooling(kernel: k, stride: s, input: x.shape).backwardMax(dy, indices: maxIndices, inputShape: x.shape)
        case .avgPool2d(let k, let s):
            return Pooling(kernel: k, stride: s, input: x.shape).backwardAverage(dy, inputShape: x.shape)
        }
    }
}
