// PickleByteSource: the forward-only byte streams the pickle emulator reads: buffered files and memory.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import MLSecCore

/// A forward-only stream of bytes for ``PickleEmulator``.
///
/// Reads never throw: when the underlying storage fails, the source behaves as if the stream ended there and
/// keeps the error in ``readError``, which the emulator reports. Payloads that cannot contain code are passed
/// over with ``skip(_:)``, which a source implements without reading them when it can.
public protocol PickleByteSource {
    /// Offset of the next byte, counted from the start of the stream.
    var position: Int { get }
    /// How many bytes are left, when the source knows its length; `nil` when it does not.
    var remainingCount: Int? { get }
    /// The error that ended the stream early, if reading failed.
    var readError: MLSecError? { get }
    /// The next byte, or `nil` at the end of the stream.
    mutating func readByte() -> UInt8?
    /// Fills `buffer` with the next `buffer.count` bytes. Returns `false` when the stream ends first; the
    /// source is then at its end.
    mutating func read(into buffer: UnsafeMutableRawBufferPointer) -> Bool
    /// The next `byteCount` (1 to 8) bytes as a little-endian unsigned integer, or `nil` when the stream ends
    /// first.
    mutating func readLittleEndian(byteCount: Int) -> UInt64?
    /// Moves past the next `count` bytes without reading them. Returns `false` when the stream ends first; the
    /// source is then at its end.
    mutating func skip(_ count: Int) -> Bool
    /// Reads through the next newline. Copies the start of the line (without the newline) into `buffer`, as
    /// much as fits, and returns how many bytes it copied and the full length of the line without the newline;
    /// `nil` when the stream ends before a newline.
    mutating func readLine(into buffer: UnsafeMutableRawBufferPointer) -> (kept: Int, length: Int)?
}

extension PickleByteSource {
    /// Default: assembles the value from ``readByte()``.
    public mutating func readLittleEndian(byteCount: Int) -> UInt64? {
        var value: UInt64 = 0
        var shift: UInt64 = 0
        for _ in 0..<max(0, min(byteCount, 8)) {
            guard let byte = readByte() else { return nil }
            value |= UInt64(byte) << shift
            shift += 8
        }
        return value
    }
}

// MARK: - Memory

/// A pickle held in memory as an array of bytes.
public struct PickleMemorySource: PickleByteSource, Sendable {
    private let bytes: [UInt8]
    private var index = 0

    /// A source over `bytes`, starting at the first byte.
    public init(_ bytes: [UInt8]) { self.bytes = bytes }

    public var position: Int { index }
    public var remainingCount: Int? { bytes.count - index }
    public var readError: MLSecError? { nil }

    @inline(__always)
    public mutating func readByte() -> UInt8? {
        guard index < bytes.count else { return nil }
        let byte = bytes[index]
        index += 1
        return byte
    }

    public mutating func read(into buffer: UnsafeMutableRawBufferPointer) -> Bool {
        let available = bytes.count - index
        let n = min(available, buffer.count)
        if n > 0 {
            let from = index
            bytes.withUnsafeBytes { raw in
                guard let source = raw.baseAddress, let destination = buffer.baseAddress else { return }
                destination.copyMemory(from: source + from, byteCount: n)
            }
        }
        index += n
        return n == buffer.count
    }

    public mutating func readLittleEndian(byteCount: Int) -> UInt64? {
        guard byteCount >= 0, byteCount <= 8, bytes.count - index >= byteCount else {
            index = bytes.count
            return nil
        }
        var value: UInt64 = 0
        for i in 0..<byteCount { value |= UInt64(bytes[index + i]) << UInt64(8 * i) }
        index += byteCount
        return value
    }

    public mutating func skip(_ count: Int) -> Bool {
        guard count >= 0, count <= bytes.count - index else {
            index = bytes.count
            return false
        }
        index += count
        return true
    }

    public mutating func readLine(into buffer: UnsafeMutableRawBufferPointer) -> (kept: Int, length: Int)? {
        let start = index
        let line: (kept: Int, length: Int)? = bytes.withUnsafeBytes { raw in
            copyLine(raw, from: start, into: buffer)
        }
        guard let line else {
            index = bytes.count
            return nil
        }
        index = start + line.length + 1
        return line
    }
}

/// A pickle in memory the caller owns, such as a decompressed archive member. The memory must stay valid and
/// unchanged while the source is used.
public struct PickleUnsafeMemorySource: PickleByteSource {
    private let bytes: UnsafeRawBufferPointer
    private var index = 0

    /// A source over `bytes`, starting at the first byte.
    public init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    public var position: Int { index }
    public var remainingCount: Int? { bytes.count - index }
    public var readError: MLSecError? { nil }

    @inline(__always)
    public mutating func readByte() -> UInt8? {
        guard index < bytes.count else { return nil }
        let byte = bytes[index]
        index += 1
        return byte
    }

    public mutating func read(into buffer: UnsafeMutableRawBufferPointer) -> Bool {
        let n = min(bytes.count - index, buffer.count)
        if n > 0, let base = bytes.baseAddress {
            buffer.baseAddress?.copyMemory(from: base + index, byteCount: n)
        }
        index += n
        return n == buffer.count
    }

    public mutating func readLittleEndian(byteCount: Int) -> UInt64? {
        guard byteCount >= 0, byteCount <= 8, bytes.count - index >= byteCount else {
            index = bytes.count
            return nil
        }
        var value: UInt64 = 0
        for i in 0..<byteCount { value |= UInt64(bytes[index + i]) << UInt64(8 * i) }
        index += byteCount
        return value
    }

    public mutating func skip(_ count: Int) -> Bool {
        guard count >= 0, count <= bytes.count - index else {
            index = bytes.count
            return false
        }
        index += count
        return true
    }

    public mutating func readLine(into buffer: UnsafeMutableRawBufferPointer) -> (kept: Int, length: Int)? {
        let start = index
        guard let line = copyLine(bytes, from: start, into: buffer) else {
            index = bytes.count
            return nil
        }
        index = start + line.length + 1
        return line
    }
}

/// Index of the first `\n` in `raw` at or after `start`, or `nil`.
@inline(__always)
private func scanNewline(_ raw: UnsafeRawBufferPointer, from start: Int) -> Int? {
    guard let base = raw.baseAddress, start < raw.count, start >= 0 else { return nil }
    guard let hit = memchr(base + start, 0x0A, raw.count - start) else { return nil }
    return UnsafeRawPointer(hit) - base
}

/// Finds the line starting at `start` in `raw` and copies as much of it as fits into `buffer`.
@inline(__always)
private func copyLine(_ raw: UnsafeRawBufferPointer, from start: Int, into buffer: UnsafeMutableRawBufferPointer)
    -> (kept: Int, length: Int)?
{
    guard let newline = scanNewline(raw, from: start), let base = raw.baseAddress else { return nil }
    let length = newline - start
    let kept = min(length, buffer.count)
    if kept > 0, let destination = buffer.baseAddress {
        destination.copyMemory(from: base + start, byteCount: kept)
    }
    return (kept, length)
}

// MARK: - File

/// A pickle read from a file (or a byte range of one) in 256 KiB blocks with `pread`.
///
/// Skipped payloads are never read: the next block is read from past them. The length is taken when the
/// source is made; bytes the file gains later are not read, and a file that shrinks reads as truncated.
public struct PickleFileSource: PickleByteSource {
    /// The default block size: 256 KiB.
    public static let defaultBlockSize = 256 * 1024

    private let file: ReadOnlyFile
    /// File offset of stream byte 0.
    private let base: Int
    /// Stream length in bytes.
    private let length: Int
    private var buffer: [UInt8]
    /// Stream offset of `buffer[0]`.
    private var bufferStart = 0
    /// Next byte in `buffer`.
    private var index = 0
    /// Valid bytes in `buffer`.
    private var filled = 0
    public private(set) var readError: MLSecError?

    /// A source over `length` bytes of `file` starting at `offset` (to the end of the file when `length` is
    /// `nil`), read in blocks of `blockSize` bytes (at least 16).
    /// - Throws: `MLSecError` with code `io` when the file's size cannot be read, or `usage` when the range
    ///   is not inside the file.
    public init(file: ReadOnlyFile, offset: Int = 0, length: Int? = nil, blockSize: Int = defaultBlockSize) throws {
        let size = try file.status().size
        guard offset >= 0, Int64(offset) <= size else {
            throw MLSecError.usage("pickle range starts at \(offset), outside \(file.path) (\(size) bytes)")
        }
        let available = Int(size) - offset
        if let length {
            guard length >= 0, length <= available else {
                throw MLSecError.usage("pickle range of \(length) bytes at \(offset) is outside \(file.path)")
            }
        }
        self.file = file
        self.base = offset
        self.length = length ?? available
        self.buffer = [UInt8](repeating: 0, count: max(16, blockSize))
    }

    public var position: Int {
        @inline(__always) get { bufferStart &+ index }
    }
    public var remainingCount: Int? { length - position }

    /// Reads the next block at the current position. Returns `false` at the end or on error.
    private mutating func refill() -> Bool {
        let start = bufferStart + index
        bufferStart = start
        index = 0
        filled = 0
        let want = min(buffer.count, length - start)
        guard want > 0, readError == nil else { return false }
        let file = self.file
        let at = Int64(base + start)
        do {
            let n = try buffer.withUnsafeMutableBytes { raw in
                try file.read(into: UnsafeMutableRawBufferPointer(rebasing: raw[0..<want]), at: at)
            }
            filled = n
            if n < want {
                readError = MLSecError.io(
                    "\(file.path) is shorter than when it was opened (read ended at \(start + n))")
            }
        } catch let error as MLSecError {
            readError = error
        } catch {
            readError = MLSecError.io("cannot read \(file.path): \(error)")
        }
        return filled > 0
    }

    @inline(__always)
    public mutating func readByte() -> UInt8? {
        if index >= filled {
            guard refill() else { return nil }
        }
        let byte = buffer[index]
        index += 1
        return byte
    }

    public mutating func read(into destination: UnsafeMutableRawBufferPointer) -> Bool {
        var done = 0
        while done < destination.count {
            if index >= filled {
                guard refill() else { return false }
            }
            let n = min(filled - index, destination.count - done)
            let from = index
            let to = done
            buffer.withUnsafeBytes { raw in
                guard let source = raw.baseAddress, let base = destination.baseAddress else { return }
                (base + to).copyMemory(from: source + from, byteCount: n)
            }
            index += n
            done += n
        }
        return true
    }

    @inline(__always)
    public mutating func readLittleEndian(byteCount: Int) -> UInt64? {
        guard byteCount >= 0, byteCount <= 8 else { return nil }
        if filled - index >= byteCount {
            var value: UInt64 = 0
            for i in 0..<byteCount { value |= UInt64(buffer[index + i]) << UInt64(8 * i) }
            index += byteCount
            return value
        }
        var value: UInt64 = 0
        for i in 0..<byteCount {
            guard let byte = readByte() else { return nil }
            value |= UInt64(byte) << UInt64(8 * i)
        }
        return value
    }

    public mutating func skip(_ count: Int) -> Bool {
        guard count >= 0 else { return false }
        if count <= filled - index {
            index += count
            return true
        }
        let target = position.addingReportingOverflow(count)
        guard !target.overflow, target.partialValue <= length else {
            bufferStart = length
            index = 0
            filled = 0
            return false
        }
        bufferStart = target.partialValue
        index = 0
        filled = 0
        return true
    }

    public mutating func readLine(into destination: UnsafeMutableRawBufferPointer) -> (kept: Int, length: Int)? {
        var kept = 0
        var total = 0
        while true {
            if index >= filled {
                guard refill() else { return nil }
            }
            let from = index
            let end = filled
            let found: (newline: Int?, copied: Int) = buffer.withUnsafeBytes { raw in
                let window = UnsafeRawBufferPointer(rebasing: raw[0..<end])
                let newline = scanNewline(window, from: from)
                let chunk = (newline ?? end) - from
                let take = min(chunk, destination.count - kept)
                if take > 0, let to = destination.baseAddress, let base = window.baseAddress {
                    (to + kept).copyMemory(from: base + from, byteCount: take)
                }
                return (newline, max(0, take))
            }
            kept += found.copied
            if let newline = found.newline {
                total += newline - from
                index = newline + 1
                return (kept, total)
            }
            total += end - from
            index = end
        }
    }
}
