// AtomicFile: writes a file so that readers see either the old file or the complete new one.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import CMLSecSys

/// Writes whole files atomically: a temporary file in the same directory, `fsync`, `rename`, then
/// `fsync` of the directory. A failure at any step removes the temporary file and leaves the
/// destination untouched, so no half-written file is ever visible under the final name.
public enum AtomicFile {
    /// Writes `bytes` to `path`.
    /// - Parameters:
    ///   - mode: permission bits of the new file (for example `0o600` for key files).
    ///   - overwrite: replace an existing file; when `false` an existing file is an `alreadyExists` error.
    public static func write(_ bytes: [UInt8], to path: String, mode: mode_t = 0o644, overwrite: Bool = true)
        throws
    {
        let writer = try AtomicFileWriter(path: path, mode: mode, overwrite: overwrite)
        try bytes.withUnsafeBytes { try writer.write($0) }
        try writer.commit()
    }

    /// Writes UTF-8 `text` to `path`.
    public static func write(_ text: String, to path: String, mode: mode_t = 0o644, overwrite: Bool = true) throws {
        try write(Array(text.utf8), to: path, mode: mode, overwrite: overwrite)
    }
}

/// Streams a new file into place atomically: bytes go to a temporary file next to `path`, which
/// ``commit()`` syncs and renames; without a commit (an error, a crash) the temporary file is removed and
/// `path` is untouched.
public final class AtomicFileWriter {
    public let path: String
    private let temporary: String
    private let overwrite: Bool
    private var descriptor: Int32
    private var finished = false
    /// Bytes written so far, and how far writeback was started (see ``write(_:)``).
    private var written: Int64 = 0
    private var writebackStarted: Int64 = 0
    /// Writeback is started every this many bytes, so that the disk works while the writer produces more and
    /// the final fsync has little left; the window before the previous one is waited for, which bounds the
    /// dirty pages a large file leaves for the fsync.
    static let writebackWindow: Int64 = 8 << 20

    /// Creates the temporary file with permission bits `mode` (set before any byte is written).
    public init(path: String, mode: mode_t = 0o644, overwrite: Bool = true) throws {
        if !overwrite, FileStatus.exists(path) {
            throw MLSecError(.alreadyExists, "\(path) already exists; pass --force to overwrite it")
        }
        var path = path
        if let link = try? FileStatus.lstatus(path), link.kind == .symlink {
            // Replace the file the link points to, not the link: write next to the real target.
            guard let target = Self.resolve(path) else {
                throw MLSecError.io("\(path) is a symbolic link that cannot be resolved")
            }
            path = target
        }
        if let existing = try? FileStatus.status(path), existing.kind != .regular {
            throw MLSecError.io("\(path) is a \(existing.kind.description), not a regular file; cannot replace it")
        }
        self.path = path
        self.overwrite = overwrite
        let directory = FilePath.directory(of: path)
        let base = FilePath.lastComponent(of: path)
        var template = Array("\(directory)/.\(base).tmp-XXXXXX".utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else {
            throw MLSecError.io("cannot create a temporary file next to \(path): \(FileStatus.errnoText())")
        }
        descriptor = fd
        temporary = String(cString: template.withUnsafeBufferPointer { $0.baseAddress! })
        guard fchmod(fd, mode) == 0 else {
            let message = "cannot set permissions on \(temporary): \(FileStatus.errnoText())"
            discard()
            throw MLSecError.io(message)
        }
    }

    deinit { discard() }

    /// Appends `bytes` to the temporary file.
    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard !finished else { throw MLSecError.io("\(path): write after the file was finished") }
        guard let base = bytes.baseAddress else { return }
        var offset = 0
        while offset < bytes.count {
            let n = Glibc.write(descriptor, base + offset, bytes.count - offset)
            if n < 0 {
                if errno == EINTR { continue }
                throw MLSecError.io("cannot write \(temporary): \(FileStatus.errnoText())")
            }
            offset += n
        }
        written += Int64(bytes.count)
        while written - writebackStarted >= Self.writebackWindow {
            _ = mlsec_start_writeback(descriptor, writebackStarted, Self.writebackWindow)
            if writebackStarted >= 2 * Self.writebackWindow {
                _ = mlsec_wait_writeback(descriptor, writebackStarted - 2 * Self.writebackWindow, Self.writebackWindow)
            }
            writebackStarted += Self.writebackWindow
        }
    }

    /// Syncs the temporary file and moves it to `path`.
    public func commit() throws {
        guard !finished else { return }
        guard fsync(descriptor) == 0 else {
            let message = "cannot fsync \(temporary): \(FileStatus.errnoText())"
            discard()
            throw MLSecError.io(message)
        }
        close(descriptor)
        descriptor = -1
        defer { discard() }
        if !overwrite {
            // link() fails if the destination appeared meanwhile, so a concurrent writer is never clobbered.
            guard link(temporary, path) == 0 else {
                if errno == EEXIST {
                    throw MLSecError(.alreadyExists, "\(path) already exists; pass --force to overwrite it")
                }
                throw MLSecError.io("cannot create \(path): \(FileStatus.errnoText())")
            }
        } else {
            guard rename(temporary, path) == 0 else {
                throw MLSecError.io("cannot move the new file into place at \(path): \(FileStatus.errnoText())")
            }
        }
        finished = true
        Self.syncDirectory(FilePath.directory(of: path))
    }

    /// Removes the temporary file (nothing happens to `path`). Safe to call more than once.
    public func discard() {
        if descriptor >= 0 {
            close(descriptor)
            descriptor = -1
        }
        if !finished || !overwrite {
            // After a rename the temporary name no longer exists; after link() it must be removed.
            unlink(temporary)
        }
        finished = true
    }

    private static func resolve(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    private static func syncDirectory(_ directory: String) {
        let dfd = open(directory, O_RDONLY | O_DIRECTORY)
        if dfd >= 0 {
            _ = fsync(dfd)
            close(dfd)
        }
    }
}
