// ModelTree: the list of files that make up a model, walked without trusting the tree.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import MLSecCore

/// One regular file of a model.
public struct ModelFile: Sendable, Equatable {
    /// Path relative to the model root, `/`-separated; `"."` for a single-file model.
    public var name: String
    /// Path to open.
    public var path: String
    /// Status taken during the walk (of the link target when symlinks are followed).
    public var status: FileStatus
    /// `true` when `path` is a symbolic link that was followed.
    public var isSymlink: Bool
}

/// How the walk treats the tree.
public struct ModelTreeOptions: Sendable {
    /// Follow symbolic links to regular files (hashed under the link's name). Links to directories are not
    /// entered. When `false`, any symbolic link is an error.
    public var allowSymlinks: Bool
    /// Model-relative paths left out, with everything below them.
    public var ignorePaths: [String]
    /// Most files accepted in one model.
    public var maxFiles: Int
    /// Deepest directory nesting accepted.
    public var maxDepth: Int

    public init(allowSymlinks: Bool = false, ignorePaths: [String] = [], maxFiles: Int = 1_000_000, maxDepth: Int = 256) {
        self.allowSymlinks = allowSymlinks
        self.ignorePaths = ignorePaths
        self.maxFiles = maxFiles
        self.maxDepth = maxDepth
    }
}

/// Walks a model directory (or takes a single-file model) and lists its regular files in the
/// format's order. Sockets, FIFOs, devices, unreadable directories, names that are not UTF-8, and
/// symbolic links that are not allowed are errors that name the offending path.
public struct ModelTree: Sendable {
    /// Absolute, normalised model path.
    public let root: String
    /// `true` when the model is a single file.
    public let isSingleFile: Bool
    /// The files, sorted by ``ResourcePath/precedes(_:_:)``.
    public let files: [ModelFile]
    /// Symlinked directories that were left out (they are never entered).
    public let skippedDirectoryLinks: [String]

    public init(path: String, options: ModelTreeOptions = ModelTreeOptions()) throws {
        let root = FilePath.absolute(path)
        self.root = root
        let top = try FileStatus.lstatus(root)
        var rootStatus = top
        if top.kind == .symlink {
            // The model path itself may be a link (for example a Hugging Face snapshot); resolve it once.
            rootStatus = try FileStatus.status(root)
        }
        switch rootStatus.kind {
        case .regular:
            isSingleFile = true
            files = [ModelFile(name: ".", path: root, status: rootStatus, isSymlink: false)]
            skippedDirectoryLinks = []
        case .directory:
            isSingleFile = false
            var walker = Walker(root: root, options: options)
            try walker.walk(directory: root, relative: "", depth: 0)
            files = walker.files.sorted { ResourcePath.precedes($0.name, $1.name) }
            skippedDirectoryLinks = walker.skippedDirectoryLinks
        default:
            throw MLSecError(.unsafeTree, "\(path) is a \(rootStatus.kind.description), not a model file or directory")
        }
    }

    private struct Walker {
        let root: String
        let options: ModelTreeOptions
        var files: [ModelFile] = []
        var skippedDirectoryLinks: [String] = []

        func isIgnored(_ relative: String) -> Bool {
            options.ignorePaths.contains { ResourcePath.isWithin(relative, $0) }
        }

        mutating func walk(directory: String, relative: String, depth: Int) throws {
            guard depth <= options.maxDepth else {
                throw MLSecError.limitExceeded("\(directory) is nested deeper than \(options.maxDepth) directories")
            }
            for entry in try listDirectory(directory) {
                let childRelative = relative.isEmpty ? entry : relative + "/" + entry
                if isIgnored(childRelative) { continue }
                let childPath = directory + "/" + entry
                let status = try FileStatus.lstatus(childPath)
                switch status.kind {
                case .directory:
                    try walk(directory: childPath, relative: childRelative, depth: depth + 1)
                case .regular:
                    try add(ModelFile(name: childRelative, path: childPath, status: status, isSymlink: false))
                case .symlink:
                    let escapes = !linkStaysInside(childPath)
                    guard options.allowSymlinks else {
                        throw MLSecError(
                            .unsafeTree,
                            "\(childPath) is a symbolic link\(escapes ? " that points outside the model" : ""); "
                                + "symbolic links are refused unless --allow-symlinks is given")
                    }
                    let target: FileStatus
                    do {
                        target = try FileStatus.status(childPath)
                    } catch {
                        throw MLSecError(.unsafeTree, "\(childPath) is a broken symbolic link")
                    }
                    switch target.kind {
                    case .regular:
                        try add(ModelFile(name: childRelative, path: childPath, status: target, isSymlink: true))
                    case .directory:
                        skippedDirectoryLinks.append(childRelative)
                    default:
                        throw MLSecError(
                            .unsafeTree, "\(childPath) links to a \(target.kind.description), which cannot be signed")
                    }
                default:
                    throw MLSecError(
                        .unsafeTree,
                        "\(childPath) is a \(status.kind.description); only regular files and directories can be signed")
                }
            }
        }

        mutating func add(_ file: ModelFile) throws {
            files.append(file)
            guard files.count <= options.maxFiles else {
                throw MLSecError.limitExceeded("the model has more than \(options.maxFiles) files")
            }
        }

        func linkStaysInside(_ path: String) -> Bool {
            var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
            guard realpath(path, &buffer) != nil else { return false }
            var rootBuffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
            guard realpath(root, &rootBuffer) != nil else { return false }
            let resolved = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            let resolvedRoot = String(decoding: rootBuffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            return FilePath.relative(resolved, to: resolvedRoot) != nil
        }

        func listDirectory(_ path: String) throws -> [String] {
            let names = try DirectoryListing.entries(path)
            if let bad = names.first(where: { $0.contains("\\") }) {
                throw MLSecError(.unsafeTree, "\(path)/\(bad): file names with a backslash are refused")
            }
            return names
        }
    }
}
