// ReadOnlyFile: an open file read with pread, with size caps for documents and no symlink following.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A file opened for reading. Reads use `pread`, so one instance can serve several threads.
public final class ReadOnlyFile: Sendable {
    public let path: String
    public let descriptor: Int32

    /// Opens `path` for reading.
    /// - Parameter followSymlinks: when `false`, a symlink at `path` is refused (`O_NOFOLLOW`).
    /// - Parameter nonBlocking: open with `O_NONBLOCK`, so that a FIFO swapped in for a file cannot hang the open.
    public init(path: String, followSymlinks: Bool = true, nonBlocking: Bool = false) throws {
        var flags = O_RDONLY | O_CLOEXEC
        if !followSymlinks { flags |= O_NOFOLLOW }
        if nonBlocking { flags |= O_NONBLOCK }
        let fd = open(path, flags)
        guard fd >= 0 else {
            if errno == ELOOP {
                throw MLSecError(.unsafeTree, "\(path) is a symbolic link; it is not followed")
            }
            throw MLSecError.io("cannot open \(path): \(FileStatus.errnoText())")
        }
        self.path = path
        self.descriptor = fd
    }

    deinit { close(descriptor) }

    /// Status of the open file.
    public func status() throws -> FileStatus { try FileStatus.fstat(descriptor, path: path) }

    /// Hints the kernel that the file will be read sequentially (larger readahead).
    public func adviseSequential() {
        #if os(Linux)
        _ = posix_fadvise(descriptor, 0, 0, POSIX_FADV_SEQUENTIAL)
        #endif
    }

    /// Reads up to `buffer.count` bytes at `offset`; returns the number read (0 at end of file).
    public func read(into buffer: UnsafeMutableRawBufferPointer, at offset: Int64) throws -> Int {
        guard let base = buffer.baseAddress, buffer.count > 0 else { return 0 }
        var total = 0
        while total < buffer.count {
            let n = pread(descriptor, base + total, buffer.count - total, off_t(offset) + off_t(total))
            if n < 0 {
                if errno == EINTR { continue }
                throw MLSecError.io("cannot read \(path): \(FileStatus.errnoText())")
            }
            if n == 0 { break }
            total += n
        }
        return total
    }

    /// Reads exactly `buffer.count` bytes at `offset`, or throws when the file is shorter.
    public func readExactly(into buffer: UnsafeMutableRawBufferPointer, at offset: Int64) throws {
        let n = try read(into: buffer, at: offset)
        guard n == buffer.count else {
            throw MLSecError.io("\(path) changed while it was read: expected \(buffer.count) bytes at offset \(offset), got \(n)")
        }
    }

    /// The whole content of a small file, refusing files over `maxBytes`.
    public static func readAll(_ path: String, maxBytes: Int, what: String = "file") throws -> [UInt8] {
        let file = try ReadOnlyFile(path: path)
        let status = try file.status()
        guard status.kind == .regular || status.kind == .fifo || status.kind == .characterDevice else {
            throw MLSecError.io("\(path) is a \(status.kind.description), not a \(what)")
        }
        if status.kind == .regular, status.size > Int64(maxBytes) {
            throw MLSecError.limitExceeded("\(what) \(path) is \(status.size) bytes, over the \(maxBytes)-byte limit")
        }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = try chunk.withUnsafeMutableBytes { raw -> Int in
                while true {
                    let r = Glibc.read(file.descriptor, raw.baseAddress!, raw.count)
                    if r < 0, errno == EINTR { continue }
                    if r < 0 { throw MLSecError.io("cannot read \(path): \(FileStatus.errnoText())") }
                    return r
                }
            }
            if n == 0 { break }
            out.append(contentsOf: chunk[0..<n])
            guard out.count <= maxBytes else {
                throw MLSecError.limitExceeded("\(what) \(path) is over the \(maxBytes)-byte limit")
            }
        }
        return out
    }
}
