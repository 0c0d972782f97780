// LZMADecoder: xz and legacy .lzma decoding through the system liblzma.

import CLZMA
import MLSecCore

/// A liblzma decoding stream for the .xz container or the legacy .lzma ("alone") format.
final class LZMADecoder: StreamingDecoder {
    /// The container to decode.
    enum Container {
        /// .xz, with concatenated streams and stream padding accepted.
        case xz
        /// Legacy .lzma: 13-byte header (properties, dictionary size, uncompressed size) and raw LZMA1 data.
        case alone
    }

    private let stream: UnsafeMutablePointer<lzma_stream>
    private let context: String
    private let memoryLimit: UInt64

    init(_ container: Container, memoryLimit: UInt64, context: String) throws {
        self.context = context
        self.memoryLimit = memoryLimit
        stream = .allocate(capacity: 1)
        stream.initialize(to: lzma_stream())
        let rc: lzma_ret
        switch container {
        case .xz:
            // 0x08 is LZMA_CONCATENATED (a macro Swift does not import): decode every concatenated stream.
            rc = lzma_stream_decoder(stream, memoryLimit, 0x08)
        case .alone:
            rc = lzma_alone_decoder(stream, memoryLimit)
        }
        guard rc == LZMA_OK else {
            lzma_end(stream)
            stream.deinitialize(count: 1)
            stream.deallocate()
            throw MLSecError.io("\(context): cannot start liblzma (error \(rc.rawValue))")
        }
    }

    deinit {
        lzma_end(stream)
        stream.deinitialize(count: 1)
        stream.deallocate()
    }

    func decode(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer, inputEnded: Bool) throws
        -> DecodeStep
    {
        stream.pointee.next_in = input.baseAddress?.assumingMemoryBound(to: UInt8.self)
        stream.pointee.avail_in = input.count
        stream.pointee.next_out = output.baseAddress?.assumingMemoryBound(to: UInt8.self)
        stream.pointee.avail_out = output.count
        let rc = lzma_code(stream, inputEnded ? LZMA_FINISH : LZMA_RUN)
        let consumed = input.count - stream.pointee.avail_in
        let produced = output.count - stream.pointee.avail_out
        stream.pointee.next_in = nil
        stream.pointee.next_out = nil
        switch rc {
        case LZMA_OK, LZMA_BUF_ERROR:
            return DecodeStep(consumed: consumed, produced: produced, finished: false)
        case LZMA_STREAM_END:
            return DecodeStep(consumed: consumed, produced: produced, finished: true)
        case LZMA_MEMLIMIT_ERROR:
            throw MLSecError.limitExceeded(
                "\(context): decoding needs more than the \(memoryLimit)-byte memory limit for its dictionary")
        case LZMA_MEM_ERROR:
            throw MLSecError.io("\(context): out of memory while decoding")
        case LZMA_FORMAT_ERROR:
            throw MLSecError.malformed("\(context): not in the expected xz/lzma format")
        case LZMA_OPTIONS_ERROR:
            throw MLSecError.unsupported("\(context): uses compression options liblzma does not support")
        case LZMA_DATA_ERROR:
            throw MLSecError.malformed("\(context): corrupt compressed data")
        default:
            throw MLSecError.malformed("\(context): liblzma error \(rc.rawValue)")
        }
    }

    func restart() throws {
        throw MLSecError.malformed("\(context): unexpected data after the end of the compressed stream")
    }
}
