// InflateDecoder: deflate (RFC 1951), zlib (RFC 1950) and gzip (RFC 1952) decoding through the system zlib.

import CZlib
import MLSecCore

/// A zlib `inflate` stream. The `z_stream` lives on the heap because zlib checks that it never moves.
final class InflateDecoder: StreamingDecoder {
    /// The wrapper around the deflate data.
    enum Wrapper {
        /// Bare deflate, as in zip entries.
        case raw
        /// zlib header and Adler-32 trailer.
        case zlib
        /// gzip header and CRC-32/size trailer (one member; the driver restarts for further members).
        case gzip
    }

    private let stream: UnsafeMutablePointer<z_stream>
    private let context: String

    init(_ wrapper: Wrapper, context: String) throws {
        self.context = context
        stream = .allocate(capacity: 1)
        stream.initialize(to: z_stream())
        let windowBits: Int32
        switch wrapper {
        case .raw: windowBits = -15
        case .zlib: windowBits = 15
        case .gzip: windowBits = 15 + 16
        }
        let rc = inflateInit2_(stream, windowBits, zlibVersion(), Int32(MemoryLayout<z_stream>.size))
        guard rc == Z_OK else {
            stream.deinitialize(count: 1)
            stream.deallocate()
            throw MLSecError.io("\(context): cannot start zlib (error \(rc))")
        }
    }

    deinit {
        inflateEnd(stream)
        stream.deinitialize(count: 1)
        stream.deallocate()
    }

    func decode(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer, inputEnded: Bool) throws
        -> DecodeStep
    {
        let inCount = min(input.count, Int(UInt32.max))
        let outCount = min(output.count, Int(UInt32.max))
        stream.pointee.next_in = UnsafeMutablePointer(mutating: input.baseAddress?.assumingMemoryBound(to: Bytef.self))
        stream.pointee.avail_in = UInt32(inCount)
        stream.pointee.next_out = output.baseAddress?.assumingMemoryBound(to: Bytef.self)
        stream.pointee.avail_out = UInt32(outCount)
        let rc = inflate(stream, Z_NO_FLUSH)
        let consumed = inCount - Int(stream.pointee.avail_in)
        let produced = outCount - Int(stream.pointee.avail_out)
        stream.pointee.next_in = nil
        stream.pointee.next_out = nil
        switch rc {
        case Z_OK, Z_BUF_ERROR:
            return DecodeStep(consumed: consumed, produced: produced, finished: false)
        case Z_STREAM_END:
            return DecodeStep(consumed: consumed, produced: produced, finished: true)
        case Z_NEED_DICT:
            throw MLSecError.unsupported("\(context): the deflate data needs a preset dictionary")
        case Z_MEM_ERROR:
            throw MLSecError.io("\(context): out of memory while inflating")
        default:
            throw MLSecError.malformed("\(context): corrupt compressed data (\(message(rc)))")
        }
    }

    func restart() throws {
        guard inflateReset(stream) == Z_OK else { throw MLSecError.io("\(context): cannot reset zlib") }
    }

    private func message(_ rc: Int32) -> String {
        if let text = stream.pointee.msg { return String(cString: text) }
        return "zlib error \(rc)"
    }
}

/// CRC-32 (ISO 3309, as zip and gzip use it) through zlib.
enum CRC32 {
    /// `crc` updated with `bytes`; start from 0.
    static func update(_ crc: UInt32, _ bytes: UnsafeRawBufferPointer) -> UInt32 {
        var value = UInt(crc)
        var remaining = bytes
        while let base = remaining.baseAddress, remaining.count > 0 {
            let n = min(remaining.count, Int(UInt32.max))
            value = crc32(value, base.assumingMemoryBound(to: Bytef.self), UInt32(n))
            remaining = UnsafeRawBufferPointer(rebasing: remaining[n...])
        }
        return UInt32(truncatingIfNeeded: value)
    }

    /// CRC-32 of `bytes`.
    static func checksum(_ bytes: [UInt8]) -> UInt32 {
        bytes.withUnsafeBytes { update(0, $0) }
    }
}
