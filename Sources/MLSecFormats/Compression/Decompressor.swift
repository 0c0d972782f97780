// Decompressor: format detection and bounded, streaming decompression of gzip, zlib, bzip2, xz and legacy lzma data.

import MLSecCore

/// A compression container format the ``Decompressor`` reads.
public enum CompressionFormat: String, Sendable, CaseIterable {
    /// gzip (RFC 1952), including concatenated members.
    case gzip
    /// zlib (RFC 1950) around a deflate stream (RFC 1951).
    case zlib
    /// bzip2, including concatenated streams.
    case bzip2
    /// xz (.xz container with LZMA2), including concatenated streams and padding.
    case xz
    /// Legacy LZMA "alone" (.lzma) files.
    case lzma
}

/// Bounded decompression for untrusted input. Output is capped: as soon as it passes `maxOutput`, decoding stops
/// with ``MLSecError/Code/limitExceeded`` (decompression bombs never allocate more than the cap). Corrupt or
/// truncated input is ``MLSecError/Code/malformed``; data after the end of the compressed stream (other than
/// further gzip members, bzip2 streams or xz streams and padding) is malformed too.
public enum Decompressor {
    /// Memory that the xz and lzma decoders may use for their dictionaries (xz -9 needs 65 MiB).
    public static let lzmaMemoryLimit: UInt64 = 512 << 20

    /// The format whose magic number starts `prefix`, or `nil`.
    ///
    /// gzip: `1F 8B 08`. zlib: `78` then `01`, `5E`, `9C` or `DA` (the four second bytes that pass the header
    /// checksum of RFC 1950 section 2.2 with no preset dictionary). bzip2: `BZh` and a block-size digit.
    /// xz: `FD 37 7A 58 5A 00`. lzma: `5D 00 00` (lc=3, lp=0, pb=2, the settings every encoder uses by
    /// default) with a plausible dictionary size and, when at least 13 bytes are given, a plausible
    /// uncompressed size; this last one is a heuristic, since .lzma files have no magic number.
    public static func detect(_ prefix: [UInt8]) -> CompressionFormat? {
        if prefix.starts(with: [0x1f, 0x8b, 0x08]) { return .gzip }
        if prefix.starts(with: [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]) { return .xz }
        if prefix.count >= 4, prefix.starts(with: Array("BZh".utf8)),
            (UInt8(ascii: "1")...UInt8(ascii: "9")).contains(prefix[3])
        {
            return .bzip2
        }
        if prefix.count >= 2, prefix[0] == 0x78 {
            let check = (UInt16(prefix[0]) << 8 | UInt16(prefix[1])) % 31
            let presetDictionary = prefix[1] & 0x20 != 0
            if check == 0, !presetDictionary { return .zlib }
        }
        if isLikelyLZMAAlone(prefix) { return .lzma }
        return nil
    }

    /// `true` when `prefix` looks like the 13-byte header of a legacy .lzma file.
    static func isLikelyLZMAAlone(_ prefix: [UInt8]) -> Bool {
        guard prefix.count >= 5, prefix[0] == 0x5d, prefix[1] == 0, prefix[2] == 0 else { return false }
        let dictionary = UInt32(prefix[3]) << 16 | UInt32(prefix[4]) << 24
        // xz-utils writes 2^n or 2^n + 2^(n-1); anything else is almost certainly not an .lzma header.
        guard dictionary != 0 else { return false }
        let top = UInt32(1) << UInt32(31 - dictionary.leadingZeroBitCount)
        let rest = dictionary - top
        guard rest == 0 || rest == top >> 1 else { return false }
        if prefix.count >= 13 {
            let size = prefix[5..<13]
            let unknown = size.allSatisfy { $0 == 0xff }
            // A known size must be below 2^48 (256 TiB): the two top bytes are zero.
            if !unknown, prefix[11] != 0 || prefix[12] != 0 { return false }
        }
        return true
    }

    /// The decompressed content of `input`, refusing more than `maxOutput` bytes.
    public static func decompress(_ input: [UInt8], format: CompressionFormat, maxOutput: Int) throws -> [UInt8] {
        guard maxOutput >= 0 else { throw MLSecError.usage("maxOutput must not be negative") }
        var output: [UInt8] = []
        var offset = 0
        _ = try run(
            format: format, context: "\(format.rawValue) data", maxOutput: maxOutput, chunkSize: 1 << 16,
            input: { buffer in
                let n = min(buffer.count, input.count - offset)
                guard n > 0 else { return 0 }
                input.withUnsafeBytes { raw in
                    buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: raw[offset..<(offset + n)]))
                }
                offset += n
                return n
            },
            body: { output.append(contentsOf: $0) })
        return output
    }

    /// Decompresses the file at `path` (read with `pread`, never whole), passing the output to `body` in chunks
    /// of at most `chunkSize` bytes; returns the total output size. Stops with `limitExceeded` before any byte
    /// past `maxOutput` is passed on.
    @discardableResult
    public static func decompress(
        path: String, format: CompressionFormat, maxOutput: Int, chunkSize: Int = 1 << 20,
        _ body: (UnsafeRawBufferPointer) throws -> Void
    ) throws -> Int {
        guard maxOutput >= 0 else { throw MLSecError.usage("maxOutput must not be negative") }
        guard chunkSize > 0 else { throw MLSecError.usage("chunkSize must be positive") }
        let source = try ArchiveByteSource(path: path)
        var offset = 0
        return try run(
            format: format, context: path, maxOutput: maxOutput, chunkSize: chunkSize,
            input: { buffer in
                let n = try source.read(into: buffer, at: offset)
                offset += n
                return n
            },
            body: body)
    }

    private static func run(
        format: CompressionFormat, context: String, maxOutput: Int, chunkSize: Int,
        input: (UnsafeMutableRawBufferPointer) throws -> Int, body: (UnsafeRawBufferPointer) throws -> Void
    ) throws -> Int {
        let decoder: any StreamingDecoder
        let trailing: TrailingDataPolicy
        switch format {
        case .gzip:
            decoder = try InflateDecoder(.gzip, context: context)
            trailing = .concatenated(magic: [0x1f, 0x8b])
        case .zlib:
            decoder = try InflateDecoder(.zlib, context: context)
            trailing = .reject
        case .bzip2:
            decoder = try BZip2Decoder(context: context)
            trailing = .concatenated(magic: Array("BZh".utf8))
        case .xz:
            decoder = try LZMADecoder(.xz, memoryLimit: lzmaMemoryLimit, context: context)
            trailing = .reject
        case .lzma:
            decoder = try LZMADecoder(.alone, memoryLimit: lzmaMemoryLimit, context: context)
            trailing = .reject
        }
        return try DecompressionDriver.run(
            decoder: decoder, context: context, trailing: trailing, maxOutput: maxOutput,
            overLimit: { MLSecError.limitExceeded("\(context): decompressed size exceeds the \($0)-byte limit") },
            chunkSize: chunkSize, input: input, body: body)
    }
}

/// One call's worth of progress of a ``StreamingDecoder``.
struct DecodeStep {
    var consumed: Int
    var produced: Int
    var finished: Bool
}

/// A decompressor over a C library stream, fed and drained by ``DecompressionDriver``.
protocol StreamingDecoder: AnyObject {
    /// Decodes from `input` into `output`. `inputEnded` is `true` when `input` holds the last input bytes.
    func decode(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer, inputEnded: Bool) throws
        -> DecodeStep
    /// Prepares to decode a further concatenated stream.
    func restart() throws
}

/// What to do with input that follows the end of the compressed stream.
enum TrailingDataPolicy {
    /// Any further byte is malformed.
    case reject
    /// Further bytes are not read (zip entries: the stored size bounds the input anyway).
    case ignore
    /// A further stream may follow when it starts with `magic`; anything else is malformed.
    case concatenated(magic: [UInt8])
}

/// Feeds a ``StreamingDecoder`` from an input callback and hands its output on in bounded chunks.
enum DecompressionDriver {
    /// Runs `decoder` to the end of its stream; returns the number of bytes passed to `body`.
    /// - Parameters:
    ///   - maxOutput: the most output bytes allowed; one more stops decoding with `overLimit(maxOutput)`.
    ///   - input: fills the buffer it is given and returns the count, 0 at the end of the input.
    static func run(
        decoder: any StreamingDecoder, context: String, trailing: TrailingDataPolicy, maxOutput: Int,
        overLimit: (Int) -> MLSecError, chunkSize: Int,
        input: (UnsafeMutableRawBufferPointer) throws -> Int, body: (UnsafeRawBufferPointer) throws -> Void
    ) throws -> Int {
        var inBuffer = [UInt8](repeating: 0, count: 1 << 16)
        var outBuffer = [UInt8](repeating: 0, count: max(1, min(chunkSize, 1 << 24)))
        var inStart = 0
        var inEnd = 0
        var endOfInput = false
        var total = 0
        var finished = false
        var sawAnyInput = false

        func refill() throws {
            if inStart > 0 {
                let pending = inEnd - inStart
                if pending > 0 {
                    inBuffer.withUnsafeMutableBytes { raw in
                        guard let base = raw.baseAddress else { return }
                        base.copyMemory(from: base + inStart, byteCount: pending)
                    }
                }
                inEnd = pending
                inStart = 0
            }
            guard !endOfInput, inEnd < inBuffer.count else { return }
            let n = try inBuffer.withUnsafeMutableBytes { raw in
                try input(UnsafeMutableRawBufferPointer(rebasing: raw[inEnd...]))
            }
            if n <= 0 {
                endOfInput = true
            } else {
                inEnd += min(n, inBuffer.count - inEnd)
                sawAnyInput = true
            }
        }

        while true {
            if inStart == inEnd, !endOfInput { try refill() }
            if finished {
                if inStart == inEnd {
                    if endOfInput { break }
                    continue
                }
                switch trailing {
                case .ignore:
                    return total
                case .reject:
                    throw MLSecError.malformed("\(context): unexpected data after the end of the compressed stream")
                case .concatenated(let magic):
                    while inEnd - inStart < magic.count, !endOfInput { try refill() }
                    let available = inEnd - inStart
                    let head = Array(inBuffer[inStart..<(inStart + min(available, magic.count))])
                    guard head == magic else {
                        throw MLSecError.malformed(
                            "\(context): unexpected data after the end of the compressed stream")
                    }
                    try decoder.restart()
                    finished = false
                    continue
                }
            }
            let inputEnded = endOfInput
            let step = try inBuffer.withUnsafeBytes { inRaw in
                try outBuffer.withUnsafeMutableBytes { outRaw in
                    try decoder.decode(
                        UnsafeRawBufferPointer(rebasing: inRaw[inStart..<inEnd]), into: outRaw, inputEnded: inputEnded)
                }
            }
            let consumed = min(max(step.consumed, 0), inEnd - inStart)
            let produced = min(max(step.produced, 0), outBuffer.count)
            inStart += consumed
            if produced > 0 {
                guard let newTotal = Checked.add(total, produced), newTotal <= maxOutput else {
                    throw overLimit(maxOutput)
                }
                total = newTotal
                try outBuffer.withUnsafeBytes { try body(UnsafeRawBufferPointer(rebasing: $0[0..<produced])) }
            }
            if step.finished {
                finished = true
                continue
            }
            if consumed == 0, produced == 0 {
                if endOfInput {
                    if !sawAnyInput { throw MLSecError.malformed("\(context): no compressed data (empty input)") }
                    throw MLSecError.malformed("\(context): the compressed data is truncated")
                }
                let pendingBefore = inEnd - inStart
                try refill()
                if inEnd - inStart == pendingBefore, !endOfInput {
                    throw MLSecError.malformed("\(context): the decoder made no progress on corrupt input")
                }
            }
        }
        return total
    }
}
