// ByteCursor: bounds-checked little-endian reading over a file (buffered pread) or bytes.

import MLSecCore

/// Sequential reader that never reads past the end and never trusts a length it has not checked.
struct ByteCursor {
    private let file: ReadOnlyFile?
    private let bytes: [UInt8]
    let size: Int
    private(set) var position = 0
    private var buffer: [UInt8] = []
    private var bufferStart = 0

    init(_ source: ModelScanner.Source) throws {
        switch source {
        case .file(let path, let size):
            file = try ReadOnlyFile(path: path, followSymlinks: false, nonBlocking: true)
            bytes = []
            self.size = size
        case .bytes(let b):
            file = nil
            bytes = b
            size = b.count
        }
    }

    var remaining: Int { size - position }

    mutating func take(_ n: Int, _ what: String) throws -> [UInt8] {
        guard n >= 0, n <= remaining else {
            throw MLSecError.malformed("\(what) needs \(n) bytes at offset \(position), only \(remaining) remain")
        }
        defer { position += n }
        if file == nil { return Array(bytes[position..<position + n]) }
        if position >= bufferStart, position + n <= bufferStart + buffer.count {
            return Array(buffer[(position - bufferStart)..<(position - bufferStart + n)])
        }
        let chunk = max(n, 1 << 18)
        let length = min(chunk, size - position)
        var fresh = [UInt8](repeating: 0, count: length)
        guard let file else { return [] }
        try fresh.withUnsafeMutableBytes { try file.readExactly(into: $0, at: Int64(position)) }
        buffer = fresh
        bufferStart = position
        return Array(buffer[0..<n])
    }

    mutating func skip(_ n: Int, _ what: String) throws {
        guard n >= 0, n <= remaining else {
            throw MLSecError.malformed("\(what) of \(n) bytes at offset \(position) runs past the end of the file")
        }
        position += n
    }

    mutating func u32(_ what: String) throws -> UInt32 {
        let b = try take(4, what)
        return UInt32(b[0]) | UInt32(b[1]) << 8 | UInt32(b[2]) << 16 | UInt32(b[3]) << 24
    }

    mutating func u64(_ what: String) throws -> UInt64 {
        let b = try take(8, what)
        var v: UInt64 = 0
        for i in 0..<8 { v |= UInt64(b[i]) << (8 * UInt64(i)) }
        return v
    }

    /// A length read as u64 and checked to fit in what remains (times `unit` bytes each).
    mutating func length(_ what: String, unit: Int = 1) throws -> Int {
        let raw = try u64(what)
        guard raw <= UInt64(Int.max), unit > 0, Int(raw) <= remaining / unit else {
            throw MLSecError.malformed("\(what) \(raw) at offset \(position - 8) exceeds the \(remaining) bytes that remain")
        }
        return Int(raw)
    }
}
