// ServedTensor: the declared name, type, shape and value range of a served model's input or output.

import MLSecCore

/// The declared shape of a model input or output (the first dimension is the batch, -1).
public struct ServedTensor: Sendable, Equatable {
    public var name: String
    public var datatype: String
    public var shape: [Int]
    /// Declared value range (inputs), checked on every request.
    public var range: ClosedRange<Float>?

    public init(name: String, datatype: String, shape: [Int], range: ClosedRange<Float>?) {
        self.name = name
        self.datatype = datatype
        self.shape = shape
        self.range = range
    }

    var json: JSONValue {
        .object([("name", .string(name)), ("datatype", .string(datatype)), ("shape", .array(shape.map { .int($0) }))])
    }
}
