// BZip2Decoder: bzip2 decoding through the system libbz2.

import CBZip2
import MLSecCore

/// A libbz2 decompression stream. The `bz_stream` lives on the heap because libbz2 checks that it never moves.
final class BZip2Decoder: StreamingDecoder {
    private let stream: UnsafeMutablePointer<bz_stream>
    private let context: String
    private var active = false

    init(context: String) throws {
        self.context = context
        stream = .allocate(capacity: 1)
        stream.initialize(to: bz_stream())
        do {
            try start()
        } catch {
            stream.deinitialize(count: 1)
            stream.deallocate()
            throw error
        }
    }

    deinit {
        if active { BZ2_bzDecompressEnd(stream) }
        stream.deinitialize(count: 1)
        stream.deallocate()
    }

    private func start() throws {
        stream.pointee = bz_stream()
        let rc = BZ2_bzDecompressInit(stream, 0, 0)
        guard rc == BZ_OK else { throw MLSecError.io("\(context): cannot start bzip2 (error \(rc))") }
        active = true
    }

    func decode(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer, inputEnded: Bool) throws
        -> DecodeStep
    {
        let inCount = min(input.count, Int(UInt32.max))
        let outCount = min(output.count, Int(UInt32.max))
        stream.pointee.next_in = UnsafeMutablePointer(mutating: input.baseAddress?.assumingMemoryBound(to: CChar.self))
        stream.pointee.avail_in = UInt32(inCount)
        stream.pointee.next_out = output.baseAddress?.assumingMemoryBound(to: CChar.self)
        stream.pointee.avail_out = UInt32(outCount)
        let rc = BZ2_bzDecompress(stream)
        let consumed = inCount - Int(stream.pointee.avail_in)
        let produced = outCount - Int(stream.pointee.avail_out)
        stream.pointee.next_in = nil
        stream.pointee.next_out = nil
        switch rc {
        case BZ_OK:
            return DecodeStep(consumed: consumed, produced: produced, finished: false)
        case BZ_STREAM_END:
            return DecodeStep(consumed: consumed, produced: produced, finished: true)
        case BZ_MEM_ERROR:
            throw MLSecError.io("\(context): out of memory while decoding bzip2")
        case BZ_DATA_ERROR_MAGIC:
            throw MLSecError.malformed("\(context): not bzip2 data (bad magic)")
        default:
            throw MLSecError.malformed("\(context): corrupt bzip2 data (libbz2 error \(rc))")
        }
    }

    func restart() throws {
        if active {
            BZ2_bzDecompressEnd(stream)
            active = false
        }
        try start()
    }
}
