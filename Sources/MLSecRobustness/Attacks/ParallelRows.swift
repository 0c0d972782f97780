// ParallelRows: runs a per-block computation over the rows of a data set on every core, keeping row order.

import Dispatch
import Foundation
import MLSecCore
import Synchronization

/// Splits `count` rows into blocks and runs them concurrently.
enum ParallelRows {
    /// Calls `body` with each block's row range and collects its `outputWidth` values per row, in row order.
    /// The first error thrown by any block is rethrown.
    static func map(count: Int, block: Int, outputWidth: Int,
                    _ body: @Sendable (Range<Int>) throws -> [Float]) throws -> [Float] {
        guard count > 0 else { return [] }
        let blocks = (count + block - 1) / block
        var result = [Float](repeating: 0, count: count * outputWidth)
        let failure = Mutex<(any Error)?>(nil)
        result.withUnsafeMutableBufferPointer { buffer in
            nonisolated(unsafe) let out = buffer
            DispatchQueue.concurrentPerform(iterations: blocks) { b in
                let rows = b * block..<min(count, (b + 1) * block)
                do {
                    let values = try body(rows)
                    guard values.count == rows.count * outputWidth else {
                        throw MLSecError.malformed("internal: a block produced \(values.count) values for \(rows.count) rows")
                    }
                    for (i, v) in values.enumerated() { out[rows.lowerBound * outputWidth + i] = v }
                } catch {
                    failure.withLock { if $0 == nil { $0 = error } }
                }
            }
        }
        if let error = failure.withLock({ $0 }) { throw error }
        return result
    }

    /// Rows per block: small enough to spread over the cores, large enough for efficient matrix products.
    static func blockSize(count: Int, preferred: Int = 128) -> Int {
        let cores = max(1, ProcessInfo.processInfo.activeProcessorCount)
        return max(1, min(preferred, (count + cores - 1) / cores))
    }
}
