// Model: a model.json graph bound to its weights, with forward, backward and gradient queries.

import MLSecCore

/// A runnable, differentiable model.
public struct Model: Sendable {
    public var spec: ModelSpec
    /// Parameter names in layer order (weight, then bias).
    public let parameterNames: [String]
    /// Parameter values, in the order of `parameterNames`.
    public var parameters: [Tensor]
    let bound: [BoundLayer]
    /// Feature shape (no batch) entering each layer; the last entry is the output shape.
    let shapes: [[Int]]

    /// Most values one example may occupy in any layer (bounds memory for hostile model.json shapes).
    public static let maxValuesPerExample = 1 << 24

    /// Binds `spec` to `weights`, checking every name and shape.
    public init(spec: ModelSpec, weights: [String: Tensor]) throws {
        var names: [String] = []
        var params: [Tensor] = []
        var index: [String: Int] = [:]
        func ref(_ name: String) throws -> Int {
            if let i = index[name] { return i }
            guard let t = weights[name] else { throw MLSecError.malformed("the weights have no tensor named \"\(name)\"") }
            guard !t.shape.isEmpty, t.shape.allSatisfy({ $0 > 0 }) else {
                throw MLSecError.malformed("tensor \"\(name)\" has an empty shape \(t.shape)")
            }
            for v in t.data where !v.isFinite {
                throw MLSecError.malformed("tensor \"\(name)\" holds a NaN or infinite value")
            }
            index[name] = params.count
            names.append(name)
            params.append(t)
            return params.count - 1
        }
        var shape = spec.input.featureShape
        guard try Tensor.elementCount(shape) <= Model.maxValuesPerExample else {
            throw MLSecError.limitExceeded("the input shape \(shape) has more than \(Model.maxValuesPerExample) values per example")
        }
        var shapes: [[Int]] = [shape]
        var bound: [BoundLayer] = []
        for (i, layerSpec) in spec.layers.enumerated() {
            let layer = layerSpec.layer
            let inputShape = shape
            shape = try layer.outputShape(for: shape, parameters: weights, index: i)
            shapes.append(shape)
            guard try Tensor.elementCount(shape) <= Model.maxValuesPerExample else {
                throw MLSecError.limitExceeded("layer \(i) produces \(shape): over \(Model.maxValuesPerExample) values per example")
            }
            if case .conv2d(let w, _, _, _) = layer, let weight = weights[w] {
                // The im2col buffer holds (C * kh * kw) x (Ho * Wo) values.
                let patch = try Tensor.elementCount(Array(weight.shape.dropFirst()))
                let plane = try Tensor.elementCount(Array(shape.dropFirst()))
                let (size, overflow) = patch.multipliedReportingOverflow(by: plane)
                guard !overflow, size <= Model.maxValuesPerExample else {
                    throw MLSecError.limitExceeded("layer \(i) (conv2d) on \(inputShape) needs too large a patch buffer")
                }
            }
            switch layer {
            case .dense(let w, let b): bound.append(.dense(weight: try ref(w), bias: try b.map(ref)))
            case .conv2d(let w, let b, let s, let p):
                bound.append(.conv2d(weight: try ref(w), bias: try b.map(ref), stride: s, padding: p))
            case .relu: bound.append(.relu)
            case .tanh: bound.append(.tanh)
            case .sigmoid: bound.append(.sigmoid)
            case .softmax: bound.append(.softmax)
            case .flatten: bound.append(.flatten)
            case .maxPool2d(let k, let s): bound.append(.maxPool2d(kernel: k, stride: s))
            case .avgPool2d(let k, let s): bound.append(.avgPool2d(kernel: k, stride: s))
            }
        }
        guard shape == spec.output.featureShape else {
            throw MLSecError.malformed(
                "the layers produce shape \(shape) per example, but model.json declares output shape \(spec.output.featureShape)")
        }
        self.spec = spec
        self.parameterNames = names
        self.parameters = params
        self.bound = bound
        self.shapes = shapes
    }

    /// Parameters by name.
    public var weights: [String: Tensor] { Dictionary(uniqueKeysWithValues: zip(parameterNames, parameters)) }

    /// Number of trainable values.
    public var parameterCount: Int { parameters.reduce(0) { $0 + $1.count } }

    /// `true` when the last layer is a softmax (training then uses the logits before it).
    public var endsWithSoftmax: Bool {
        if case .softmax = bound.last { return true }
        return false
    }

    /// Input feature count per example.
    public var inputSize: Int { shapes[0].reduce(1, *) }

    /// Output values per example.
    public var outputSize: Int { shapes[shapes.count - 1].reduce(1, *) }

    /// Wraps flat rows (`[N, inputSize]`) into the model's input shape.
    public func inputTensor(rows: [Float], count: Int) throws -> Tensor {
        guard count >= 1, rows.count == count * inputSize else {
            throw MLSecError.malformed("expected \(count) rows of \(inputSize) input values, got \(rows.count) values")
        }
        return Tensor(uncheckedShape: [count] + shapes[0], data: rows)
    }

    func checkInput(_ x: Tensor) throws {
        guard x.shape.count == shapes[0].count + 1, Array(x.shape.dropFirst()) == shapes[0], x.batch >= 1 else {
            throw MLSecError.malformed("input shape \(x.shape) does not match the model's [N] + \(shapes[0])")
        }
    }

    /// The raw outputs of the last layer.
    public func forward(_ x: Tensor) throws -> Tensor {
        try checkInput(x)
        return trace(x).activations.last ?? x
    }

    /// Activations of every layer (inputs[0] = x, inputs[i+1] = output of layer i) and max-pool indices.
    struct Trace {
        var activations: [Tensor]
        var maxIndices: [[Int32]]
    }

    func trace(_ x: Tensor, upTo end: Int? = nil) -> Trace {
        let stop = end ?? bound.count
        var activations = [x]
        var maxIndices: [[Int32]] = Array(repeating: [], count: bound.count)
        var current = x
        for i in 0..<stop {
            current = bound[i].forward(current, parameters: parameters, maxIndices: &maxIndices[i])
            activations.append(current)
        }
        return Trace(activations: activations, maxIndices: maxIndices)
    }

    /// Number of layers that produce the logits used by the loss.
    var logitLayerCount: Int { endsWithSoftmax ? bound.count - 1 : bound.count }

    /// Back-propagates `gradient` (of the output of layer `top - 1`) down to the input.
    func backward(_ trace: Trace, gradient: Tensor, from top: Int, sink: inout GradientSink) -> Tensor {
        var grad = gradient
        for i in stride(from: top - 1, through: 0, by: -1) {
            grad = bound[i].backward(x: trace.activations[i], y: trace.activations[i + 1], dy: grad,
                                     parameters: parameters, maxIndices: trace.maxIndices[i], sink: &sink)
        }
        return grad
    }

    /// Back-propagates `dLogits` from the logit layer down to the input.
    func backward(_ trace: Trace, gradLogits: Tensor, sink: inout GradientSink) -> Tensor {
        backward(trace, gradient: gradLogits, from: logitLayerCount, sink: &sink)
    }

    /// Number of classes (values per example entering a final softmax, or the outputs).
    public var classCount: Int { shapes[logitLayerCount].reduce(1, *) }

    /// The logits: the outputs of the last layer, or of the layer before a final softmax.
    public func logits(_ x: Tensor) throws -> Tensor {
        try checkInput(x)
        return trace(x, upTo: logitLayerCount).activations[logitLayerCount]
    }

    /// The logits of `x` and the gradient, with respect to `x`, of a function of them whose gradient
    /// `logitGradient` returns (same shape as the logits). Parameter gradients are not computed: this is the
    /// fast path of gradient attacks.
    public func inputGradient(_ x: Tensor, logitGradient: (Tensor) throws -> Tensor) throws -> (logits: Tensor, gradient: Tensor) {
        try checkInput(x)
        let t = trace(x, upTo: logitLayerCount)
        let logits = t.activations[logitLayerCount]
        let dLogits = try logitGradient(logits)
        guard dLogits.shape == logits.shape else {
            throw MLSecError.malformed("logit gradient shape \(dLogits.shape) does not match the logits \(logits.shape)")
        }
        var sink = GradientSink.inputOnly
        return (logits, backward(t, gradient: dLogits, from: logitLayerCount, sink: &sink))
    }

    /// Per-example softmax cross-entropy losses and their gradient with respect to the input (each row the
    /// gradient of that example's own loss), without parameter gradients.
    public func lossInputGradient(_ x: Tensor, labels: [Int]) throws -> (losses: [Float], logits: Tensor, gradient: Tensor) {
        let classes = classCount
        guard labels.count == x.batch else { throw MLSecError.malformed("\(labels.count) labels for \(x.batch) examples") }
        for l in labels where !(0..<classes).contains(l) { throw MLSecError.malformed("label \(l) is outside 0..<\(classes)") }
        var losses: [Float] = []
        let (logits, gradient) = try inputGradient(x) { logits in
            let loss = SoftmaxCrossEntropy.evaluate(logits: logits.data, labels: labels, classes: classes)
            losses = loss.losses
            return Tensor(uncheckedShape: logits.shape, data: loss.gradient)
        }
        return (losses, logits, gradient)
    }

    /// Result of a loss evaluation with gradients.
    public struct Gradients: Sendable {
        /// Mean softmax cross-entropy over the batch.
        public var loss: Float
        /// Per-example losses.
        public var losses: [Float]
        /// Predicted class per example.
        public var predictions: [Int]
        /// One buffer per parameter (in `parameterNames` order): the gradient of the mean loss, or with
        /// per-example gradients, `batch` blocks of the gradient of each example's own loss.
        public var parameterGradients: [[Float]]
        /// Gradient of the mean loss with respect to the input (same shape as the input).
        public var inputGradient: Tensor
    }

    /// Softmax cross-entropy loss and its gradients for a batch with integer labels.
    /// - Parameter perExample: return each example's own parameter gradient (for DP-SGD) instead of the mean.
    public func gradients(_ x: Tensor, labels: [Int], perExample: Bool = false) throws -> Gradients {
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
        // Per-example gradients are of each example's loss; batch gradients of the mean loss.
        let scale: Float = perExample ? 1 : 1 / Float(n)
        var dLogits = loss.gradient
        for i in dLogits.indices { dLogits[i] *= scale }
        var sink = GradientSink(
            buffers: parameters.map { [Float](repeating: 0, count: $0.count * (perExample ? n : 1)) }, perExample: perExample)
        let dx = backward(t, gradLogits: Tensor(uncheckedShape: logits.shape, data: dLogits), sink: &sink)
        var inputGrad = dx
        if perExample {
            for i in inputGrad.data.indices { inputGrad.data[i] /= Float(n) }
        }
        return Gradients(loss: loss.mean, losses: loss.losses, predictions: logits.argmaxRows(),
                         parameterGradients: sink.buffers, inputGradient: inputGrad)
    }

    /// Gradient of `sum(outputs * outputGradient)` with respect to the input: for attacks that target any
    /// function of the raw outputs (including a final softmax).
    public func inputGradient(_ x: Tensor, outputGradient: Tensor) throws -> Tensor {
        try checkInput(x)
        let t = trace(x)
        guard outputGradient.shape == t.activations[bound.count].shape else {
            throw MLSecError.malformed("output gradient shape \(outputGradient.shape) does not match the output")
        }
        var sink = GradientSink.inputOnly
        return backward(t, gradient: outputGradient, from: bound.count, sink: &sink)
    }
}
