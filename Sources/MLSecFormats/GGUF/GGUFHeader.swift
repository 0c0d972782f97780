// GGUFHeader: llama.cpp's GGUF header read and checked: counts, strings, metadata, tensor offsets and sizes.

import MLSecCore

/// The header of a GGUF file: version, the metadata the scanner judges (every string value under
/// `tokenizer.chat_template*` and other Jinja templates), and the tensor table, with every count, length,
/// offset and size checked against the file before it is used.
package struct GGUFHeader: Sendable {
    package struct Tensor: Sendable, Equatable {
        package var name: String
        package var offset: Int
        /// Bytes of data, when the type is known.
        package var size: Int?
    }

    package var version: UInt32
    package var alignment: Int
    /// String metadata values whose key starts with `tokenizer.chat_template` (the chat templates) and any other
    /// string value that holds Jinja tags (`{%` or `{{`), in file order: the text, or nil when it is over
    /// ``maxTemplateBytes`` or past the ``maxTemplates``/``maxKeptTemplateBytes`` kept, and its length in bytes.
    package var chatTemplates: [(key: String, template: String?, byteCount: Int)]
    package var tensors: [Tensor]
    /// Offset of the tensor data.
    package var dataStart: Int

    static let maxTensors = 1 << 20
    static let maxKeyValues = 1 << 20
    /// Longest chat template kept in memory (real ones are a few kilobytes).
    package static let maxTemplateBytes = 1 << 20
    /// Most templates kept, and most bytes of them together; past either, one more entry (without text) says so.
    package static let maxTemplates = 64
    package static let maxKeptTemplateBytes = 8 << 20

    /// (elements per block, bytes per block) of ggml tensor types.
    static let blockSizes: [UInt32: (Int, Int)] = [
        0: (1, 4), 1: (1, 2), 2: (32, 18), 3: (32, 20), 6: (32, 22), 7: (32, 24), 8: (32, 34), 9: (32, 36),
        10: (256, 84), 11: (256, 110), 12: (256, 144), 13: (256, 176), 14: (256, 210), 15: (256, 292),
        16: (256, 66), 17: (256, 74), 18: (256, 98), 19: (256, 50), 20: (32, 18), 21: (256, 110), 22: (256, 82),
        23: (256, 136), 24: (1, 1), 25: (1, 2), 26: (1, 4), 27: (1, 8), 28: (1, 8), 29: (256, 56), 30: (1, 2),
    ]

    /// The 4-byte magic, `GGUF`.
    package static let magic = Array("GGUF".utf8)

    /// Reads the header at the cursor's start.
    /// - Throws: `MLSecError.malformed` naming the field and offset that is wrong.
    package init(reading c: inout ByteCursor) throws {
        guard try c.take(4, "magic") == Self.magic else { throw MLSecError.malformed("not a GGUF file (bad magic)") }
        version = try c.u32("version")
        guard (1...3).contains(version) else { throw MLSecError.malformed("unsupported GGUF version \(version)") }
        let tensorCount = try c.u64("tensor count")
        let kvCount = try c.u64("metadata count")
        // Every tensor info takes at least 8 (name length) + 4 + 4 + 8 bytes, every key-value at least 8 + 4 bytes.
        guard tensorCount <= UInt64(Self.maxTensors), tensorCount <= UInt64(c.remaining / 24) else {
            throw MLSecError.malformed("tensor count \(tensorCount) cannot fit in a \(c.size)-byte file")
        }
        guard kvCount <= UInt64(Self.maxKeyValues), kvCount <= UInt64(c.remaining / 12) else {
            throw MLSecError.malformed("metadata count \(kvCount) cannot fit in a \(c.size)-byte file")
        }
        alignment = 32
        chatTemplates = []
        var keptBytes = 0
        for _ in 0..<Int(kvCount) {
            let key = try Self.string(&c, "metadata key")
            let type = try c.u32("value type of \(key)")
            if key == "general.alignment", type == 4 {
                let a = Int(try c.u32("general.alignment"))
                guard a > 0, a <= 1 << 16, a & (a - 1) == 0 else {
                    throw MLSecError.malformed("general.alignment \(a) is not a power of two")
                }
                alignment = a
                continue
            }
            if type == 8 {
                let n = try c.length("length of \(key)")
                let named = key.hasPrefix("tokenizer.chat_template")
                guard n <= Self.maxTemplateBytes else {
                    try c.skip(n, key)
                    if named { chatTemplates.append((key, nil, n)) }
                    continue
                }
                let bytes = try c.take(n, key)
                guard named || Self.holdsJinjaTags(bytes) else { continue }
                if chatTemplates.count < Self.maxTemplates, keptBytes + n <= Self.maxKeptTemplateBytes {
                    chatTemplates.append((key, String(decoding: bytes, as: UTF8.self), n))
                    keptBytes += n
                } else if chatTemplates.count <= Self.maxTemplates {
                    chatTemplates.append((key, nil, n))
                }
                continue
            }
            try Self.skipValue(&c, type: type, key: key, depth: 0)
        }
        tensors = []
        for _ in 0..<Int(tensorCount) {
            let name = try Self.string(&c, "tensor name")
            let dims = try c.u32("dimensions of \(name)")
            guard dims >= 1, dims <= 8 else { throw MLSecError.malformed("tensor \(name) has \(dims) dimensions") }
            var elements = 1
            var overflow = false
            for _ in 0..<dims {
                let d = try c.u64("dimension of \(name)")
                guard d <= UInt64(Int.max) else { overflow = true; continue }
                let (p, o) = elements.multipliedReportingOverflow(by: Int(d))
                elements = p
                overflow = overflow || o
            }
            guard !overflow else { throw MLSecError.malformed("tensor \(name) has an element count that overflows") }
            let type = try c.u32("type of \(name)")
            let offset = try c.u64("offset of \(name)")
            guard offset <= UInt64(c.size) else { throw MLSecError.malformed("tensor \(name) offset \(offset) is past the end of the file") }
            guard Int(offset) % alignment == 0 else {
                throw MLSecError.malformed("tensor \(name) offset \(offset) is not aligned to \(alignment)")
            }
            var size: Int?
            if let (block, bytes) = Self.blockSizes[type] {
                guard elements % block == 0 else {
                    throw MLSecError.malformed("tensor \(name): \(elements) elements are not a multiple of the type's block of \(block)")
                }
                let (s, o) = (elements / block).multipliedReportingOverflow(by: bytes)
                guard !o else { throw MLSecError.malformed("tensor \(name) size overflows") }
                size = s
            }
            tensors.append(Tensor(name: name, offset: Int(offset), size: size))
        }
        dataStart = (c.position + alignment - 1) / alignment * alignment
        guard dataStart <= c.size else { throw MLSecError.malformed("tensor data starts past the end of the file") }
        let dataSize = c.size - dataStart
        var end = 0
        var previous = ""
        for t in tensors.sorted(by: { $0.offset < $1.offset }) {
            guard t.offset >= end else { throw MLSecError.malformed("tensor \(t.name) overlaps tensor \(previous)") }
            if let size = t.size {
                let (e, o) = t.offset.addingReportingOverflow(size)
                guard !o, e <= dataSize else {
                    throw MLSecError.malformed("tensor \(t.name) (\(size) bytes at \(t.offset)) runs past the end of the data")
                }
                end = e
            }
            previous = t.name
        }
    }

    /// Whether a string holds `{%` or `{{`: Jinja code, which renderers may run.
    static func holdsJinjaTags(_ bytes: [UInt8]) -> Bool {
        guard bytes.count >= 2 else { return false }
        for i in 0..<(bytes.count - 1) where bytes[i] == UInt8(ascii: "{") {
            if bytes[i + 1] == UInt8(ascii: "%") || bytes[i + 1] == UInt8(ascii: "{") { return true }
        }
        return false
    }

    /// A length-prefixed string; one longer than `keep` bytes is skipped and stands as `<n bytes>`.
    private static func string(_ c: inout ByteCursor, _ what: String, keep: Int = 4096) throws -> String {
        let n = try c.length("length of \(what)")
        if n > keep {
            try c.skip(n, what)
            return "<\(n) bytes>"
        }
        return String(decoding: try c.take(n, what), as: UTF8.self)
    }

    private static func skipValue(_ c: inout ByteCursor, type: UInt32, key: String, depth: Int) throws {
        switch type {
        case 0, 1, 7: try c.skip(1, key)
        case 2, 3: try c.skip(2, key)
        case 4, 5, 6: try c.skip(4, key)
        case 10, 11, 12: try c.skip(8, key)
        case 8: try c.skip(try c.length("length of \(key)"), key)
        case 9:
            guard depth < 4 else { throw MLSecError.malformed("\(key): arrays nested too deeply") }
            let elementType = try c.u32("element type of \(key)")
            let fixed: [UInt32: Int] = [0: 1, 1: 1, 7: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 10: 8, 11: 8, 12: 8]
            if let width = fixed[elementType] {
                let count = try c.length("element count of \(key)", unit: width)
                try c.skip(count * width, key)
            } else {
                let count = try c.length("element count of \(key)", unit: 8)
                for _ in 0..<count { try skipValue(&c, type: elementType, key: key, depth: depth + 1) }
            }
        default:
            throw MLSecError.malformed("\(key) has unknown value type \(type)")
        }
    }
}
