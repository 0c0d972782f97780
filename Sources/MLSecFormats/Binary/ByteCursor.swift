// ByteCursor: bounds-checked little-endian reading over bytes in memory or a file (buffered pread).

import MLSecCore

/// The one reader of binary fields for every untrusted format: it never reads past the end, never trusts a
/// length it has not checked, and names the field and its offset in every error. Sequential reads move the
/// cursor; `…(at:)` reads look at a fixed offset (of the same bytes) without moving it.
package struct ByteCursor {
    private let file: ReadOnlyFile?
    private let bytes: [UInt8]
    /// The number of bytes readable.
    package let size: Int
    package private(set) var position = 0
    private var buffer: [UInt8] = []
    private var bufferStart = 0

    /// A cursor over bytes in memory.
    package init(bytes: [UInt8]) {
        file = nil
        self.bytes = bytes
        size = bytes.count
    }

    /// A cursor over the first `size` bytes of the file at `path` (opened without following symlinks and
    /// without blocking on FIFOs), read in 256 KiB windows.
    package init(path: String, size: Int) throws {
        file = try ReadOnlyFile(path: path, followSymlinks: false, nonBlocking: true)
        bytes = []
        self.size = max(0, size)
    }

    package var remaining: Int { size - position }

    /// The next `n` bytes.
    package mutating func take(_ n: Int, _ what: String) throws -> [UInt8] {
        let out = try peek(n, at: position, what)
        position += n
        return out
    }

    /// `n` bytes at `offset`, without moving.
    package mutating func peek(_ n: Int, at offset: Int, _ what: String) throws -> [UInt8] {
        guard n >= 0, offset >= 0, offset <= size, n <= size - offset else {
            throw MLSecError.malformed("\(what) needs \(n) bytes at offset \(offset), only \(max(0, size - offset)) remain")
        }
        guard let file else { return Array(bytes[offset..<offset + n]) }
        if offset >= bufferStart, offset + n <= bufferStart + buffer.count {
            return Array(buffer[(offset - bufferStart)..<(offset - bufferStart + n)])
        }
        let length = min(max(n, 1 << 18), size - offset)
        var fresh = [UInt8](repeating: 0, count: length)
        try fresh.withUnsafeMutableBytes { try file.readExactly(into: $0, at: Int64(offset)) }
        buffer = fresh
        bufferStart = offset
        return Array(buffer[0..<n])
    }

    package mutating func skip(_ n: Int, _ what: String) throws {
        guard n >= 0, n <= remaining else {
            throw MLSecError.malformed("\(what) of \(n) bytes at offset \(position) runs past the end")
        }
        position += n
    }

    /// Moves to `offset` (0...size).
    package mutating func seek(to offset: Int, _ what: String) throws {
        guard offset >= 0, offset <= size else { throw MLSecError.malformed("\(what) offset \(offset) is outside the \(size) bytes") }
        position = offset
    }

    package mutating func u8(_ what: String) throws -> UInt8 { try take(1, what)[0] }
    package mutating func u16(_ what: String) throws -> UInt16 { UInt16(try integer(2, at: position, what, advance: true)) }
    package mutating func u32(_ what: String) throws -> UInt32 { UInt32(try integer(4, at: position, what, advance: true)) }
    package mutating func u64(_ what: String) throws -> UInt64 { try integer(8, at: position, what, advance: true) }

    package mutating func u16(at offset: Int, _ what: String) throws -> UInt16 { UInt16(try integer(2, at: offset, what, advance: false)) }
    package mutating func u32(at offset: Int, _ what: String) throws -> UInt32 { UInt32(try integer(4, at: offset, what, advance: false)) }
    package mutating func u64(at offset: Int, _ what: String) throws -> UInt64 { try integer(8, at: offset, what, advance: false) }

    private mutating func integer(_ width: Int, at offset: Int, _ what: String, advance: Bool) throws -> UInt64 {
        let b = try peek(width, at: offset, what)
        if advance { position = offset + width }
        var value: UInt64 = 0
        for i in 0..<width { value |= UInt64(b[i]) << (8 * UInt64(i)) }
        return value
    }

    /// A length read as u64 and checked to fit in what remains (times `unit` bytes each).
    package mutating func length(_ what: String, unit: Int = 1) throws -> Int {
        let raw = try u64(what)
        guard raw <= UInt64(Int.max), unit > 0, Int(raw) <= remaining / unit else {
            throw MLSecError.malformed("\(what) \(raw) at offset \(position - 8) exceeds the \(remaining) bytes that remain")
        }
        return Int(raw)
    }

    /// A protobuf base-128 varint (at most 10 bytes).
    package mutating func varint(_ what: String) throws -> UInt64 {
        let start = position
        var value: UInt64 = 0
        for shift in stride(from: 0, to: 70, by: 7) {
            let b = try u8(what)
            if shift == 63, b > 1 { break }
            value |= UInt64(b & 0x7f) << UInt64(shift)
            if b & 0x80 == 0 { return value }
        }
        throw MLSecError.malformed("\(what): varint at offset \(start) is longer than 10 bytes or overflows 64 bits")
    }
}

extension ByteCursor {
    /// Little-endian fields of a byte record whose length the caller may not have checked: each read is checked.
    package static func u16(_ bytes: [UInt8], at offset: Int, _ what: String = "field") throws -> UInt16 {
        var cursor = ByteCursor(bytes: bytes)
        return try cursor.u16(at: offset, what)
    }

    package static func u32(_ bytes: [UInt8], at offset: Int, _ what: String = "field") throws -> UInt32 {
        var cursor = ByteCursor(bytes: bytes)
        return try cursor.u32(at: offset, what)
    }

    package static func u64(_ bytes: [UInt8], at offset: Int, _ what: String = "field") throws -> UInt64 {
        var cursor = ByteCursor(bytes: bytes)
        return try cursor.u64(at: offset, what)
    }
}
