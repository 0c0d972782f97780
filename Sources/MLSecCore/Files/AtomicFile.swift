// AtomicFile: writes a file so that readers see either the old file or the complete new one.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

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
        if !overwrite, FileStatus.exists(path) {
            throw MLSecError(.alreadyExists, "\(path) already exists; pass --force to overwrite it")
        }
        let directory = FilePath.directory(of: path)
        let base = FilePath.lastComponent(of: path)
        var template = Array("\(directory)/.\(base).tmp-XXXXXX".utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else {
            throw MLSecError.io("cannot create a temporary file next to \(path): \(FileStatus.errnoText())")
        }
        let temporary = String(cString: template.withUnsafeBufferPointer { $0.baseAddress! })
        var committed = false
        defer {
            if !committed { unlink(temporary) }
        }
        do {
            defer { close(fd) }
            guard fchmod(fd, mode) == 0 else {
                throw MLSecError.io("cannot set permissions on \(temporary): \(FileStatus.errnoText())")
            }
            try bytes.withUnsafeBytes { raw in
                var offset = 0
                while offset < raw.count {
                    let n = Glibc.write(fd, raw.baseAddress! + offset, raw.count - offset)
                    if n < 0 {
                        if errno == EINTR { continue }
                        throw MLSecError.io("cannot write \(temporary): \(FileStatus.errnoText())")
                    }
                    offset += n
                }
            }
            guard fsync(fd) == 0 else { throw MLSecError.io("cannot fsync \(temporary): \(FileStatus.errnoText())") }
        }
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
            committed = true
        }
        syncDirectory(directory)
    }

    /// Writes UTF-8 `text` to `path`.
    public static func write(_ text: String, to path: String, mode: mode_t = 0o644, overwrite: Bool = true) throws {
        try write(Array(text.utf8), to: path, mode: mode, overwrite: overwrite)
    }

    private static func syncDirectory(_ directory: String) {
        let dfd = open(directory, O_RDONLY | O_DIRECTORY)
        if dfd >= 0 {
            _ = fsync(dfd)
            close(dfd)
        }
    }
}
