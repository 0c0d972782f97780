// FileStatus: what kind of thing a path names, read without following symlinks unless asked.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The result of `lstat`/`stat`/`fstat` in a Swift shape.
public struct FileStatus: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        case regular, directory, symlink, fifo, socket, characterDevice, blockDevice, unknown

        public var description: String {
            switch self {
            case .regular: "regular file"
            case .directory: "directory"
            case .symlink: "symbolic link"
            case .fifo: "FIFO"
            case .socket: "socket"
            case .characterDevice: "character device"
            case .blockDevice: "block device"
            case .unknown: "special file"
            }
        }
    }

    public var kind: Kind
    public var size: Int64
    /// Modification time in nanoseconds since the epoch.
    public var modificationTimeNanoseconds: Int64
    /// Status-change time in nanoseconds since the epoch.
    public var changeTimeNanoseconds: Int64
    public var inode: UInt64
    public var device: UInt64
    public var mode: UInt32

    init(_ s: stat) {
        switch s.st_mode & S_IFMT {
        case S_IFREG: kind = .regular
        case S_IFDIR: kind = .directory
        case S_IFLNK: kind = .symlink
        case S_IFIFO: kind = .fifo
        case S_IFSOCK: kind = .socket
        case S_IFCHR: kind = .characterDevice
        case S_IFBLK: kind = .blockDevice
        default: kind = .unknown
        }
        size = Int64(s.st_size)
        modificationTimeNanoseconds = Int64(s.st_mtim.tv_sec) * 1_000_000_000 + Int64(s.st_mtim.tv_nsec)
        changeTimeNanoseconds = Int64(s.st_ctim.tv_sec) * 1_000_000_000 + Int64(s.st_ctim.tv_nsec)
        inode = UInt64(s.st_ino)
        device = UInt64(s.st_dev)
        mode = UInt32(s.st_mode)
    }

    /// Status of `path` itself (a symlink is reported as a symlink).
    public static func lstatus(_ path: String) throws -> FileStatus {
        var s = stat()
        guard posixLstat(path, &s) == 0 else { throw MLSecError.io("cannot read \(path): \(errnoText())") }
        return FileStatus(s)
    }

    /// Status of what `path` resolves to.
    public static func status(_ path: String) throws -> FileStatus {
        var s = stat()
        guard posixStat(path, &s) == 0 else { throw MLSecError.io("cannot read \(path): \(errnoText())") }
        return FileStatus(s)
    }

    /// Status of an open descriptor.
    public static func fstat(_ fd: Int32, path: String) throws -> FileStatus {
        var s = stat()
        guard posixFstat(fd, &s) == 0 else { throw MLSecError.io("cannot read \(path): \(errnoText())") }
        return FileStatus(s)
    }

    /// `true` when something (even a broken link) exists at `path`.
    public static func exists(_ path: String) -> Bool {
        var s = stat()
        return posixLstat(path, &s) == 0
    }

    /// The current `errno` as text.
    public static func errnoText() -> String {
        String(cString: strerror(errno))
    }
}

private func posixLstat(_ path: String, _ s: inout stat) -> Int32 { lstat(path, &s) }
private func posixStat(_ path: String, _ s: inout stat) -> Int32 { stat(path, &s) }
private func posixFstat(_ fd: Int32, _ s: inout stat) -> Int32 { fstat(fd, &s) }
