// DirectoryListing: the names in a directory, refusing names that are not valid UTF-8.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Lists directories for tree walks.
public enum DirectoryListing {
    /// Names in `path` (without `.` and `..`), unsorted.
    /// - Throws: `io` when the directory cannot be read, `unsafeTree` for a name that is not UTF-8.
    public static func entries(_ path: String) throws -> [String] {
        guard let dir = opendir(path) else {
            throw MLSecError.io("cannot list directory \(path): \(FileStatus.errnoText())")
        }
        defer { closedir(dir) }
        var names: [String] = []
        while true {
            errno = 0
            guard let entry = readdir(dir) else {
                if errno != 0 { throw MLSecError.io("cannot list directory \(path): \(FileStatus.errnoText())") }
                break
            }
            let name: String? = withUnsafePointer(to: entry.pointee.d_name) { pointer in
                pointer.withMemoryRebound(to: CChar.self, capacity: Int(NAME_MAX) + 1) {
                    String(validatingCString: $0)
                }
            }
            guard let name else { throw MLSecError(.unsafeTree, "\(path) holds a file name that is not valid UTF-8") }
            if name == "." || name == ".." { continue }
            names.append(name)
        }
        return names
    }
}
