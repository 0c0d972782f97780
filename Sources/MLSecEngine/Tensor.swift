// Tensor: a dense, row-major Float32 array with a shape.

import MLSecCore

/// A dense row-major tensor of `Float`.
public struct Tensor: Sendable, Equatable {
    public var shape: [Int]
    public var data: [Float]

    /// A tensor of zeros.
    public init(zeros shape: [Int]) {
        self.shape = shape
        self.data = [Float](repeating: 0, count: shape.reduce(1, *))
    }

    /// A tensor over `data`; the element count must match the shape.
    public init(shape: [Int], data: [Float]) throws {
        let count = try Tensor.elementCount(shape)
        guard count == data.count else {
            throw MLSecError.malformed("tensor shape \(shape) needs \(count) values, got \(data.count)")
        }
        self.shape = shape
        self.data = data
    }

    init(uncheckedShape shape: [Int], data: [Float]) {
        self.shape = shape
        self.data = data
    }

    /// Product of `shape`, checked for negative dimensions and overflow.
    public static func elementCount(_ shape: [Int]) throws -> Int {
        var count = 1
        for d in shape {
            guard d >= 0 else { throw MLSecError.malformed("negative dimension in shape \(shape)") }
            let (p, overflow) = count.multipliedReportingOverflow(by: d)
            guard !overflow else { throw MLSecError.limitExceeded("shape \(shape) has too many elements") }
            count = p
        }
        return count
    }

    public var count: Int { data.count }

    /// Number of rows when viewed as [shape[0], rest].
    public var batch: Int { shape.first ?? 1 }

    /// Elements per row when viewed as [shape[0], rest].
    public var rowSize: Int { shape.count <= 1 ? (shape.first.map { _ in 1 } ?? count) : shape.dropFirst().reduce(1, *) }

    /// Row `i` of a [N, ...] tensor, as a new tensor of shape [1, ...].
    public func rows(_ range: Range<Int>) -> Tensor {
        let size = rowSize
        var s = shape
        s[0] = range.count
        return Tensor(uncheckedShape: s, data: Array(data[range.lowerBound * size..<range.upperBound * size]))
    }

    /// Index of the largest value in each row.
    public func argmaxRows() -> [Int] {
        let size = rowSize
        guard size > 0 else { return [] }
        return (0..<batch).map { r in
            var best = 0
            var bestValue = -Float.infinity
            for j in 0..<size where data[r * size + j] > bestValue {
                bestValue = data[r * size + j]
                best = j
            }
            return best
        }
    }
}
