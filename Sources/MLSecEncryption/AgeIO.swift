// AgeIO: the byte sources and sinks age encryption streams through (descriptors, memory), with buffering.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import MLSecCore

/// Where encrypted or plain bytes come from.
public protocol AgeSource: AnyObject {
    /// Reads up to `buffer.count` bytes; returns 0 only at the end of the stream.
    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int
}

/// Where encrypted or plain bytes go.
public protocol AgeSink: AnyObject {
    /// Writes all of `bytes`.
    func write(_ bytes: UnsafeRawBufferPointer) throws
}

extension AgeSink {
    func write(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try write($0) }
    }
}

/// Reads a file descriptor (a file, a pipe, standard input).
public final class FileDescriptorSource: AgeSource {
    let descriptor: Int32
    let name: String

    public init(descriptor: Int32, name: String) {
        self.descriptor = descriptor
        self.name = name
    }

    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        guard let base = buffer.baseAddress, buffer.count > 0 else { return 0 }
        while true {
            let n = Glibc.read(descriptor, base, buffer.count)
            if n >= 0 { return n }
            if errno == EINTR { continue }
            throw MLSecError.io("cannot read \(name): \(FileStatus.errnoText())")
        }
    }
}

/// Reads bytes held in memory.
public final class MemorySource: AgeSource {
    let bytes: [UInt8]
    var offset = 0

    public init(_ bytes: [UInt8]) { self.bytes = bytes }

    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        let n = min(buffer.count, bytes.count - offset)
        guard n > 0, let base = buffer.baseAddress else { return 0 }
        bytes.withUnsafeBytes { base.copyMemory(from: $0.baseAddress! + offset, byteCount: n) }
        offset += n
        return n
    }
}

/// Writes to a file descriptor.
public final class FileDescriptorSink: AgeSink {
    let descriptor: Int32
    let name: String

    public init(descriptor: Int32, name: String) {
        self.descriptor = descriptor
        self.name = name
    }

    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard let base = bytes.baseAddress else { return }
        var offset = 0
        while offset < bytes.count {
            let n = Glibc.write(descriptor, base + offset, bytes.count - offset)
            if n < 0 {
                if errno == EINTR { continue }
                throw MLSecError.io("cannot write \(name): \(FileStatus.errnoText())")
            }
            offset += n
        }
    }
}

/// Collects bytes in memory, up to a cap.
public final class MemorySink: AgeSink {
    public private(set) var bytes: [UInt8] = []
    let maxBytes: Int

    public init(maxBytes: Int = Int.max) { self.maxBytes = maxBytes }

    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard self.bytes.count + bytes.count <= maxBytes else {
            throw MLSecError.limitExceeded("the decrypted data is over the \(maxBytes)-byte limit for decryption in memory")
        }
        self.bytes.append(contentsOf: bytes)
    }

    /// Overwrites the collected bytes with zeros and empties the sink.
    public func wipe() {
        for i in bytes.indices { bytes[i] = 0 }
        bytes.removeAll()
    }
}

/// A buffered reader over a source: lines for the header, exact-size blocks for the payload.
final class AgeReader {
    let source: any AgeSource
    private var buffer: [UInt8]
    private var start = 0
    private var end = 0
    private var atEnd = false

    init(_ source: any AgeSource, bufferSize: Int = 64 * 1024) {
        self.source = source
        buffer = [UInt8](repeating: 0, count: bufferSize)
    }

    private func refill() throws {
        if start > 0 {
            buffer.withUnsafeMutableBytes { raw in
                let base = raw.baseAddress!
                (base).copyMemory(from: base + start, byteCount: end - start)
            }
            end -= start
            start = 0
        }
        guard !atEnd, end < buffer.count else { return }
        let n = try buffer.withUnsafeMutableBytes { raw in
            try source.read(into: UnsafeMutableRawBufferPointer(rebasing: raw[end...]))
        }
        if n == 0 { atEnd = true } else { end += n }
    }

    /// The next line without its `\n`; `nil` at the end of the stream or when the stream ends inside a line
    /// (the partial line stays unread).
    /// - Throws: `tooLong` when the line is longer than `max` bytes.
    func readLine(max: Int, tooLong: @autoclosure () -> AgeError) throws -> [UInt8]? {
        var scanned = 0
        while true {
            if let newline = buffer[(start + scanned)..<end].firstIndex(of: 0x0A) {
                let line = Array(buffer[start..<newline])
                start = newline + 1
                return line
            }
            scanned = end - start
            guard scanned <= max else { throw tooLong() }
            if end - start == buffer.count { buffer += [UInt8](repeating: 0, count: buffer.count) }
            let before = end - start
            try refill()
            if end - start == before, atEnd { return nil }
        }
    }

    /// Skips spaces, tabs and line breaks, at most `max` of them; `false` when there were more.
    func skipWhitespace(max: Int) throws -> Bool {
        var skipped = 0
        while true {
            if start == end {
                try refill()
                if start == end { return true }
            }
            while start < end, AgeArmor.isWhitespace(buffer[start]) {
                start += 1
                skipped += 1
                if skipped > max { return false }
            }
            if start < end { return true }
        }
    }

    /// The next `count` bytes without consuming them (fewer at the end of the stream).
    func peek(_ count: Int) throws -> [UInt8] {
        precondition(count <= buffer.count)
        while end - start < count, !atEnd { try refill() }
        return Array(buffer[start..<min(end, start + count)])
    }

    /// Fills `into` as far as the stream allows; returns how many bytes it read (fewer only at the end).
    func readFull(into destination: UnsafeMutableRawBufferPointer) throws -> Int {
        var filled = 0
        while filled < destination.count {
            if start < end {
                let n = min(end - start, destination.count - filled)
                buffer.withUnsafeBytes { raw in
                    (destination.baseAddress! + filled).copyMemory(from: raw.baseAddress! + start, byteCount: n)
                }
                start += n
                filled += n
                continue
            }
            if atEnd { break }
            if destination.count - filled >= buffer.count {
                // Large reads go straight to the destination.
                let n = try source.read(
                    into: UnsafeMutableRawBufferPointer(rebasing: destination[filled...]))
                if n == 0 { atEnd = true } else { filled += n }
            } else {
                try refill()
            }
        }
        return filled
    }
}
