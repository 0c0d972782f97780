// Layer: the layer types a model may use, with the names of their parameters.

import MLSecCore

/// One layer of a model.
public enum Layer: Sendable, Equatable {
    /// `y = x Wᵀ + b`, PyTorch `nn.Linear` layout: weight `[out, in]`, bias `[out]`.
    case dense(weight: String, bias: String?)
    case relu
    case tanh
    case sigmoid
    /// Softmax over the last dimension.
    case softmax
    /// 2-D convolution, NCHW, PyTorch layout: weight `[out, in, kh, kw]`, bias `[out]`.
    case conv2d(weight: String, bias: String?, stride: Int, padding: Int)
    case maxPool2d(kernel: Int, stride: Int)
    case avgPool2d(kernel: Int, stride: Int)
    /// `[N, ...]` to `[N, product]`.
    case flatten

    /// Parameter names this layer reads, weight first.
    public var parameterNames: [String] {
        switch self {
        case .dense(let w, let b), .conv2d(let w, let b, _, _): [w] + (b.map { [$0] } ?? [])
        default: []
        }
    }

    /// The `type` string in model.json.
    public var typeName: String {
        switch self {
        case .dense: "dense"
        case .relu: "relu"
        case .tanh: "tanh"
        case .sigmoid: "sigmoid"
        case .softmax: "softmax"
        case .conv2d: "conv2d"
        case .maxPool2d: "maxpool2d"
        case .avgPool2d: "avgpool2d"
        case .flatten: "flatten"
        }
    }

    /// Output shape (without the batch dimension) for an input of `shape` (without batch), checking
    /// the parameters' shapes. Throws a clear error on any mismatch.
    func outputShape(for shape: [Int], parameters: [String: Tensor], index: Int) throws -> [Int] {
        let at = "layer \(index) (\(typeName))"
        func param(_ name: String) throws -> Tensor {
            guard let t = parameters[name] else { throw MLSecError.malformed("\(at): weights file has no tensor \"\(name)\"") }
            return t
        }
        switch self {
        case .dense(let w, let b):
            let weight = try param(w)
            guard weight.shape.count == 2 else {
                throw MLSecError.malformed("\(at): \(w) must be 2-D [out, in], is \(weight.shape)")
            }
            guard shape.count == 1 else {
                throw MLSecError.malformed("\(at): dense needs a flat input, got shape \(shape); add a flatten layer")
            }
            guard weight.shape[1] == shape[0] else {
                throw MLSecError.malformed("\(at): \(w) expects \(weight.shape[1]) inputs, the previous layer gives \(shape[0])")
            }
            if let b {
                let bias = try param(b)
                guard bias.shape == [weight.shape[0]] else {
                    throw MLSecError.malformed("\(at): \(b) must have shape [\(weight.shape[0])], is \(bias.shape)")
                }
            }
            return [weight.shape[0]]
        case .relu, .tanh, .sigmoid, .softmax:
            return shape
        case .conv2d(let w, let b, let stride, let padding):
            let weight = try param(w)
            guard weight.shape.count == 4 else {
                throw MLSecError.malformed("\(at): \(w) must be 4-D [out, in, kh, kw], is \(weight.shape)")
            }
            guard shape.count == 3 else { throw MLSecError.malformed("\(at): conv2d needs a [C, H, W] input, got \(shape)") }
            guard weight.shape[1] == shape[0] else {
                throw MLSecError.malformed("\(at): \(w) expects \(weight.shape[1]) channels, input has \(shape[0])")
            }
            guard stride >= 1, padding >= 0 else { throw MLSecError.malformed("\(at): stride must be >= 1, padding >= 0") }
            if let b {
                let bias = try param(b)
                guard bias.shape == [weight.shape[0]] else {
                    throw MLSecError.malformed("\(at): \(b) must have shape [\(weight.shape[0])], is \(bias.shape)")
                }
            }
            let ho = (shape[1] + 2 * padding - weight.shape[2]) / stride + 1
            let wo = (shape[2] + 2 * padding - weight.shape[3]) / stride + 1
            guard shape[1] + 2 * padding >= weight.shape[2], shape[2] + 2 * padding >= weight.shape[3], ho > 0, wo > 0 else {
                throw MLSecError.malformed("\(at): kernel \(weight.shape[2])x\(weight.shape[3]) does not fit input \(shape[1])x\(shape[2])")
            }
            return [weight.shape[0], ho, wo]
        case .maxPool2d(let k, let s), .avgPool2d(let k, let s):
            guard shape.count == 3 else { throw MLSecError.malformed("\(at): pooling needs a [C, H, W] input, got \(shape)") }
            guard k >= 1, s >= 1, shape[1] >= k, shape[2] >= k else {
                throw MLSecError.malformed("\(at): pooling window \(k) does not fit input \(shape[1])x\(shape[2])")
            }
            return [shape[0], (shape[1] - k) / s + 1, (shape[2] - k) / s + 1]
        case .flatten:
            return [shape.reduce(1, *)]
        }
    }
}
