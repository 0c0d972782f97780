// CSVParts: a large CSV file read in parts on all cores. The data rows are cut at line feeds into up to
// `CSVStream.maxParts` parts (the count depends on the file's size only, so results do not depend on the machine);
// each part is read on its own thread into a state of its own, and the caller merges the states in file order.
// A cut that fell inside a quoted field is found when the previous part ends elsewhere, and that part is read
// again from where the previous one really ended; a part that failed is read again numbered in the file, so its
// error names the right row.

import Foundation
import MLSecCore

/// The state one part of a file built, and where its rows are in the file.
public struct CSVPart<State> {
    public var state: State
    /// Data rows read (the header excluded).
    public var rows: Int
    /// The 0-based data row number of the part's first row.
    public var firstRow: Int
    /// What the part's row numbers were counted from: add `rowOffset` to a number the body saw to get its row in
    /// the file.
    public var indexBase: Int
    public var rowOffset: Int { firstRow - indexBase }
}

extension CSVStream {
    /// Smallest part worth a thread of its own, and the most parts.
    public static let minPartBytes: Int64 = 32 << 20
    public static let maxParts = 8

    /// Reads the header row (passed to `header`; nothing else is called when the file has no rows), then the data
    /// rows in parts, read `readBlock` bytes at a time (tests make it tiny). `makeState` gets the part's number; `body` gets the part's state, a 0-based data row number counted from the part's `indexBase`,
    /// and the row. `makeState` and `body` run on several threads at once: `body` changes only the state it is given.
    public static func forEachRowInParts<State>(path: String, partBytes: Int64 = minPartBytes, readBlock: Int = blockSize,
                                                header: (CSVRow) throws -> Void, makeState: (Int) -> State,
                                                _ body: (inout State, Int, CSVRow) throws -> Void) throws -> [CSVPart<State>] {
        try withoutActuallyEscaping(makeState) { makeState in
            try withoutActuallyEscaping(body) { body in
                try readInParts(path: path, partBytes: max(1, partBytes), block: max(1, readBlock), header: header, makeState: makeState, body)
            }
        }
    }

    private static func readInParts<State>(path: String, partBytes: Int64, block: Int, header: (CSVRow) throws -> Void, makeState: @escaping (Int) -> State,
                                           _ body: @escaping (inout State, Int, CSVRow) throws -> Void) throws -> [CSVPart<State>] {
        let file = try ReadOnlyFile(path: path)
        file.adviseSequential()
        var sawHeader = false
        let head = try scan(file, from: 0, stopBefore: 1, firstRow: 0, path: path, block: block) { _, row in
            sawHeader = true
            try header(row)
        }
        guard sawHeader else { return [] }
        let status = try file.status()
        let size = status.kind == .regular ? status.size : Int64.max
        let dataBytes = size == .max ? 0 : max(0, size - head.end)
        let count = Int(max(1, min(Int64(maxParts), dataBytes / partBytes)))
        var starts = [head.end]
        for k in 1..<max(count, 1) {
            starts.append(max(starts[k - 1], try rowStart(after: head.end + dataBytes * Int64(k) / Int64(count), in: file, size: size)))
        }
        let cuts = starts
        func stop(_ k: Int) -> Int64 { k + 1 < cuts.count ? cuts[k + 1] : .max }

        typealias Outcome = Result<(state: State, end: Int64, rows: Int), any Error>
        let outcomes = UnsafeMutableBufferPointer<Outcome?>.allocate(capacity: starts.count)
        outcomes.initialize(repeating: nil)
        defer { outcomes.deinitialize(); outcomes.deallocate() }
        func readPart(_ k: Int, from: Int64, until: Int64, firstRow: Int) -> Outcome {
            var state = makeState(k)
            return Outcome {
                let r = try scan(file, from: from, stopBefore: until, firstRow: firstRow + 1, path: path, block: block) { index, row in
                    try body(&state, index - 1, row)
                }
                return (state, r.end, r.rows)
            }
        }
        if starts.count == 1 {
            outcomes[0] = readPart(0, from: starts[0], until: .max, firstRow: 0)
        } else {
            // Each iteration writes only its own slot; the closures are called only while this function runs.
            let work = UncheckedSendableBox { (k: Int) in outcomes[k] = readPart(k, from: cuts[k], until: stop(k), firstRow: 0) }
            DispatchQueue.concurrentPerform(iterations: cuts.count) { k in work.value(k) }
        }
        var parts: [CSVPart<State>] = []
        var nextRow = 0
        var expected = head.end
        for k in starts.indices {
            var outcome = outcomes[k] ?? readPart(k, from: expected, until: stop(k), firstRow: nextRow)
            var indexBase = 0
            if k > 0, starts[k] != expected || (try? outcome.get()) == nil {
                outcome = readPart(k, from: expected, until: stop(k), firstRow: nextRow)
                indexBase = nextRow
            }
            let done = try outcome.get()
            parts.append(CSVPart(state: done.state, rows: done.rows, firstRow: nextRow, indexBase: indexBase))
            nextRow += done.rows
            expected = done.end
        }
        return parts
    }

    /// The offset just past the first line feed at or after `offset - 1` (so a row starting at `offset` is kept),
    /// or `size` when there is none within the longest row accepted.
    static func rowStart(after offset: Int64, in file: ReadOnlyFile, size: Int64) throws -> Int64 {
        var position = offset - 1
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while position < size, position - offset < Int64(maxRowBytes) {
            let n = try chunk.withUnsafeMutableBytes { try file.read(into: $0, at: position) }
            if n == 0 { break }
            if let i = chunk[0..<n].firstIndex(of: 0x0A) { return position + Int64(i) + 1 }
            position += Int64(n)
        }
        return size
    }
}

/// A value handed to threads that the code around it keeps apart (each thread uses its own part).
struct UncheckedSendableBox<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}
