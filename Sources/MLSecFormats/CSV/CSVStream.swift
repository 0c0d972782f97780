// CSVStream: reads a CSV file once, in blocks, and hands each row's fields to a callback without copying them
// (RFC 4180: fields in double quotes may hold commas, quotes doubled, and line ends; CRLF or LF rows). The splitter
// parses each plain decimal field (sign, digits, point, digits) while it looks for the field's end, so numeric
// columns are read in one pass over their bytes.

import Foundation
import MLSecCore

/// Streams the rows of a CSV file.
public enum CSVStream {
    /// Bytes read at a time: small enough that the rows are still in the core's cache when the splitter reaches
    /// them (8 MiB reads made it wait on memory: 6-9% more CPU), large enough that the calls cost nothing.
    public static let blockSize = 256 << 10
    /// Longest row accepted.
    public static let maxRowBytes = 64 << 20
    public static let maxFields = 1 << 20

    /// Calls `body` with each row (the header row is row 0). Throws on an unclosed quote at the end, an over-long
    /// row or too many fields, naming the row.
    public static func forEachRow(path: String, _ body: (Int, CSVRow) throws -> Void) throws {
        let file = try ReadOnlyFile(path: path)
        file.adviseSequential()
        _ = try scan(file, from: 0, stopBefore: .max, firstRow: 0, path: path, body)
    }

    /// Calls `body` with each row of `bytes` (an in-memory CSV file).
    public static func forEachRow(bytes: [UInt8], context: String, _ body: (Int, CSVRow) throws -> Void) throws {
        let storage = CSVRowStorage()
        var rowIndex = 0
        _ = try bytes.withUnsafeBufferPointer { buffer in
            try parseRows(buffer.baseAddress ?? UnsafePointer(bitPattern: 1)!, count: buffer.count, atEnd: true, stopAt: .max,
                          storage: storage, rowIndex: &rowIndex, path: context, body)
        }
    }

    /// Reads the rows that start at byte `from` or later and before `stopBefore` (`from` must be a row start), the
    /// first numbered `firstRow`. Returns the offset just past the last row read and how many rows were read.
    /// `block` is the read size (tests make it tiny so that rows cross reads).
    static func scan(_ file: ReadOnlyFile, from: Int64, stopBefore: Int64, firstRow: Int, path: String, block: Int = blockSize,
                     _ body: (Int, CSVRow) throws -> Void) throws -> (end: Int64, rows: Int) {
        let storage = CSVRowStorage()
        var capacity = max(1, block)
        var buffer = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 64)
        defer { buffer.deallocate() }
        var carry = 0                // bytes of a partial row kept at the front of the buffer
        var readOffset = from        // file offset of the next read
        var rowIndex = firstRow
        while true {
            if carry == capacity {
                // A row longer than the buffer: double it, up to the longest row accepted.
                guard capacity < maxRowBytes + block else {
                    throw MLSecError.limitExceeded("\(path) row \(rowIndex + 1): longer than \(maxRowBytes) bytes (an unclosed quote?)")
                }
                let bigger = UnsafeMutableRawPointer.allocate(byteCount: capacity * 2, alignment: 64)
                bigger.copyMemory(from: buffer, byteCount: carry)
                buffer.deallocate()
                buffer = bigger
                capacity *= 2
            }
            let n = try file.read(into: UnsafeMutableRawBufferPointer(start: buffer + carry, count: capacity - carry), at: readOffset)
            readOffset += Int64(n)
            let atEnd = n == 0
            let bufferStart = readOffset - Int64(carry + n)
            let total = carry + n
            let stopAt = stopBefore == .max ? Int.max : Int(max(0, min(Int64(Int.max), stopBefore - bufferStart)))
            let base = UnsafePointer(buffer.assumingMemoryBound(to: UInt8.self))
            let consumed = try parseRows(base, count: total, atEnd: atEnd, stopAt: stopAt, storage: storage, rowIndex: &rowIndex,
                                         path: path, body)
            if consumed >= stopAt || atEnd { return (bufferStart + Int64(consumed), rowIndex - firstRow) }
            carry = total - consumed
            guard carry <= maxRowBytes else {
                throw MLSecError.limitExceeded("\(path) row \(rowIndex + 1): longer than \(maxRowBytes) bytes (an unclosed quote?)")
            }
            if consumed > 0 { memmove(buffer, buffer + consumed, carry) }
        }
    }
}
