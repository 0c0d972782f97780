// LabelOracle: what a black-box attack may ask of a model: the predicted label of each row, nothing more.

import MLSecCore
import MLSecEngine

/// A label-only view of a model: a local engine model or a remote inference endpoint.
public protocol LabelOracle: Sendable {
    /// Values per example.
    var inputSize: Int { get }
    /// The predicted class of each of the `count` rows (row-major `rows`).
    func labels(_ rows: [Float], count: Int) async throws -> [Int]
}

/// A local engine model as a label oracle.
public struct ModelOracle: LabelOracle {
    public let model: Model
    public init(model: Model) { self.model = model }
    public var inputSize: Int { model.inputSize }
    public func labels(_ rows: [Float], count: Int) async throws -> [Int] {
        try model.logits(try model.inputTensor(rows: rows, count: count)).argmaxRows()
    }
}
