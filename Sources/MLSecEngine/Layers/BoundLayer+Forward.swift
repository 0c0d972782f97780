// BoundLayer+Forward: the forward computation of each layer on a batch.

import Foundation

/// A layer whose parameters are resolved to indices into the model's parameter list.
enum BoundLayer: Sendable {
    case dense(weight: Int, bias: Int?)
    case relu, tanh, sigmoid, softmax, flatten
    case conv2d(weight: Int, bias: Int?, stride: Int, padding: Int)
    case maxPool2d(kernel: Int, stride: Int)
    case avgPool2d(kernel: Int, stride: Int)

    /// Applies the layer to `x` (`[N, ...]`). `maxIndices` receives the argmax positions of max pooling.
    func forward(_ x: Tensor, parameters: [Tensor], maxIndices: inout [Int32]) -> Tensor {
        let n = x.batch
        switch self {
        case .dense(let w, let b):
            let weight = parameters[w]
            let outFeatures = weight.shape[0], inFeatures = weight.shape[1]
            var y = [Float](repeating: 0, count: n * outFeatures)
            if let b {
                let bias = parameters[b]
                for r in 0..<n { for j in 0..<outFeatures { y[r * outFeatures + j] = bias.data[j] } }
            }
            x.data.withUnsafeBufferPointer { xp in
                weight.data.withUnsafeBufferPointer { wp in
                    y.withUnsafeMutableBufferPointer { yp in
                        GEMM.sgemm(transposeA: false, transposeB: true, m: n, n: outFeatures, k: inFeatures, alpha: 1,
                                   a: xp.baseAddress!, lda: inFeatures, b: wp.baseAddress!, ldb: inFeatures,
                                   beta: 1, c: yp.baseAddress!, ldc: outFeatures)
                    }
                }
            }
            return Tensor(uncheckedShape: [n, outFeatures], data: y)
        case .relu:
            return Tensor(uncheckedShape: x.shape, data: x.data.map { $0 > 0 ? $0 : 0 })
        case .tanh:
            return Tensor(uncheckedShape: x.shape, data: x.data.map { Foundation.tanh($0) })
        case .sigmoid:
            return Tensor(uncheckedShape: x.shape, data: x.data.map { BoundLayer.sigmoid($0) })
        case .softmax:
            return Tensor(uncheckedShape: x.shape, data: BoundLayer.softmaxRows(x.data, width: x.shape.last ?? 1))
        case .conv2d(let w, let b, let stride, let padding):
            return Convolution(weight: parameters[w], bias: b.map { parameters[$0] }, stride: stride, padding: padding,
                               input: x.shape).forward(x)
        case .maxPool2d(let k, let s):
            return Pooling(kernel: k, stride: s, input: x.shape).forwardMax(x, indices: &maxIndices)
        case .avgPool2d(let k, let s):
            return Pooling(kernel: k, stride: s, input: x.shape).forwardAverage(x)
        case .flatten:
            return Tensor(uncheckedShape: [n, x.rowSize], data: x.data)
        }
    }

    static func sigmoid(_ v: Float) -> Float {
        v >= 0 ? 1 / (1 + Foundation.exp(-v)) : Foundation.exp(v) / (1 + Foundation.exp(v))
    }

    /// Numerically stable softmax of each row of width `width`.
    static func softmaxRows(_ data: [Float], width: Int) -> [Float] {
        var out = data
        guard width > 0 else { return out }
        out.withUnsafeMutableBufferPointer { p in
            var start = 0
            while start < p.count {
                var m = -Float.infinity
                for j in start..<start + width { m = max(m, p[j]) }
                var sum: Float = 0
                for j in start..<start + width {
                    let e = Foundation.exp(p[j] - m)
                    p[j] = e
                    sum += e
                }
                let inv = 1 / sum
                for j in start..<start + width { p[j] *= inv }
                start += width
            }
        }
        return out
    }
}
