// MsgpackReader: checks that bytes are exactly one well-formed MessagePack value (Flax's .msgpack checkpoints).

import MLSecCore

/// Structural validation of MessagePack (the spec at msgpack.org): every length and count is checked against
/// the bytes left before anything is read, nesting is bounded, and the value must end exactly at the end.
/// MessagePack holds data only (Flax stores arrays as extension values): nothing in it names code.
public enum MsgpackReader {
    /// Deepest nesting of arrays and maps accepted.
    public static let maxDepth = 128

    /// Checks `bytes`; throws ``MLSecError/Code/malformed`` naming the first problem and its offset.
    public static func validate(_ bytes: UnsafeRawBufferPointer) throws {
        var offset = 0
        // Values still to read, per open container (an explicit stack: no recursion on hostile depth).
        var pending: [Int] = [1]
        while let last = pending.last {
            guard last > 0 else {
                pending.removeLast()
                continue
            }
            pending[pending.count - 1] -= 1
            let children = try value(bytes, &offset)
            if children > 0 {
                guard pending.count < maxDepth else { throw MLSecError.malformed("msgpack: nested deeper than \(maxDepth) at byte \(offset)") }
                pending.append(children)
            }
        }
        guard offset == bytes.count else {
            throw MLSecError.malformed("msgpack: \(bytes.count - offset) bytes after the value that ends at byte \(offset)")
        }
    }

    /// Reads one value's header and payload at `offset`; returns how many child values follow (arrays, maps).
    static func value(_ bytes: UnsafeRawBufferPointer, _ offset: inout Int) throws -> Int {
        let at = offset
        func need(_ n: Int) throws {
            guard n >= 0, n <= bytes.count - offset else {
                throw MLSecError.malformed("msgpack: the value at byte \(at) needs \(n) more bytes than the file holds")
            }
        }
        func uint(_ size: Int) throws -> Int {
            try need(size)
            var v = 0
            for i in 0..<size { v = v << 8 | Int(bytes[offset + i]) }
            offset += size
            guard v >= 0 else { throw MLSecError.malformed("msgpack: a length at byte \(at) is too large") }
            return v
        }
        func skip(_ n: Int) throws {
            try need(n)
            offset += n
        }
        try need(1)
        let tag = bytes[offset]
        offset += 1
        switch tag {
        case 0x00...0x7f, 0xe0...0xff, 0xc0, 0xc2, 0xc3: return 0  // fixint, nil, bool
        case 0x80...0x8f: return 2 * Int(tag & 0x0f)  // fixmap
        case 0x90...0x9f: return Int(tag & 0x0f)  // fixarray
        case 0xa0...0xbf: try skip(Int(tag & 0x1f)); return 0  // fixstr
        case 0xc4, 0xd9: try skip(try uint(1)); return 0  // bin8, str8
        case 0xc5, 0xda: try skip(try uint(2)); return 0
        case 0xc6, 0xdb: try skip(try uint(4)); return 0
        case 0xc7: let n = try uint(1); try skip(1 + n); return 0  // ext8: length, type, data
        case 0xc8: let n = try uint(2); try skip(1 + n); return 0
        case 0xc9: let n = try uint(4); try skip(1 + n); return 0
        case 0xca, 0xce, 0xd2: try skip(4); return 0  // float32, uint32, int32
        case 0xcb, 0xcf, 0xd3: try skip(8); return 0
        case 0xcc, 0xd0: try skip(1); return 0
        case 0xcd, 0xd1: try skip(2); return 0
        case 0xd4: try skip(2); return 0  // fixext 1
        case 0xd5: try skip(3); return 0
        case 0xd6: try skip(5); return 0
        case 0xd7: try skip(9); return 0
        case 0xd8: try skip(17); return 0
        case 0xdc: return try counted(uint(2), per: 1, bytes, offset, at)
        case 0xdd: return try counted(uint(4), per: 1, bytes, offset, at)
        case 0xde: return try counted(uint(2), per: 2, bytes, offset, at)
        case 0xdf: return try counted(uint(4), per: 2, bytes, offset, at)
        default: throw MLSecError.malformed("msgpack: byte \(at) holds 0xc1, which is never used")
        }
    }

    /// A declared element count, refused when even one byte per value could not fit in what is left.
    static func counted(_ count: Int, per: Int, _ bytes: UnsafeRawBufferPointer, _ offset: Int, _ at: Int) throws -> Int {
        let (values, overflow) = count.multipliedReportingOverflow(by: per)
        guard !overflow, values <= bytes.count - offset else {
            throw MLSecError.malformed("msgpack: the container at byte \(at) declares \(count) entries, more than the bytes left")
        }
        return values
    }
}
