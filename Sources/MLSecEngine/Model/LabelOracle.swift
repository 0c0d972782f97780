// LabelOracle: what a black-box client may ask of a model (attacks, watermark and fingerprint checks): the predicted
// label of each row, nothing more.

import MLSecCore

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
        try labelsNow(rows, count: count)
    }

    /// Predictions without suspension, in batches of 1,024 rows.
    public func labelsNow(_ rows: [Float], count: Int) throws -> [Int] {
        let width = model.inputSize
        var out: [Int] = []
        out.reserveCapacity(count)
        var start = 0
        while start < count {
            let n = min(1024, count - start)
            out += try model.logits(try model.inputTensor(rows: Array(rows[start * width..<(start + n) * width]), count: n)).argmaxRows()
            start += n
        }
        return out
    }
}
