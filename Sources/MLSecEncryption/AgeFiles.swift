// AgeFiles: age encryption between files and standard streams, never leaving a partial output file behind.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import MLSecCore

extension AtomicFileWriter: AgeSink {}

extension Age {
    /// Opens `path` for reading as a source, or standard input for `nil` or `-`.
    static func withSource<R>(_ path: String?, _ body: (any AgeSource) throws -> R) throws -> R {
        guard let path, path != "-" else { return try body(FileDescriptorSource(descriptor: 0, name: "standard input")) }
        let file = try ReadOnlyFile(path: path, nonBlocking: true)
        let kind = try file.status().kind
        guard kind == .regular else { throw MLSecError.io("\(path) is a \(kind.description), not a regular file") }
        file.adviseSequential()
        return try body(FileDescriptorSource(descriptor: file.descriptor, name: path))
    }

    /// Runs `body` with a sink for `path`: a temporary file renamed into place only when `body` succeeds
    /// (mode 0600 unless `mode` says otherwise), or standard output for `nil` or `-`.
    static func withSink(_ path: String?, mode: mode_t, overwrite: Bool, _ body: (any AgeSink) throws -> Void) throws {
        guard let path, path != "-" else {
            try body(FileDescriptorSink(descriptor: 1, name: "standard output"))
            return
        }
        if let existing = try? FileStatus.status(path), existing.kind != .regular {
            // A device or FIFO (such as /dev/stdout or /dev/null) cannot be replaced: write to it directly.
            guard existing.kind == .characterDevice || existing.kind == .fifo || existing.kind == .socket else {
                throw MLSecError.io("\(path) is a \(existing.kind.description), not a file to write to")
            }
            let fd = open(path, O_WRONLY | O_CLOEXEC)
            guard fd >= 0 else { throw MLSecError.io("cannot open \(path): \(FileStatus.errnoText())") }
            defer { close(fd) }
            try body(FileDescriptorSink(descriptor: fd, name: path))
            return
        }
        let writer = try AtomicFileWriter(path: path, mode: mode, overwrite: overwrite)
        do {
            try body(writer)
            try writer.commit()
        } catch {
            writer.discard()
            throw error
        }
    }

    /// Encrypts the file at `input` (standard input for `nil`) to `output` (standard output for `nil`).
    public static func encryptFile(
        at input: String?, to output: String?, recipients: [any AgeRecipient], armor: Bool = false,
        overwrite: Bool = true
    ) throws {
        try withSource(input) { source in
            try withSink(output, mode: 0o644, overwrite: overwrite) { sink in
                try encrypt(from: source, to: sink, recipients: recipients, armor: armor)
            }
        }
    }

    /// Decrypts the file at `input` (standard input for `nil`) to `output`.
    ///
    /// A file output is written to a temporary file with mode 0600 and renamed only after the whole stream
    /// authenticated: on any failure nothing is left behind. Standard output receives each chunk once it
    /// authenticated, as `age` does, and a failure after some output makes the call throw (the caller must
    /// discard what it read).
    public static func decryptFile(
        at input: String?, to output: String?, identities: [any AgeIdentity], overwrite: Bool = true
    ) throws {
        try withSource(input) { source in
            try withSink(output, mode: 0o600, overwrite: overwrite) { sink in
                try decrypt(from: source, to: sink, identities: identities)
            }
        }
    }

    /// Re-wraps the age file at `path` in place for `recipients` (atomically; the payload bytes are copied).
    public static func rewrapFile(at path: String, identities: [any AgeIdentity], recipients: [any AgeRecipient]) throws {
        let mode = (try? FileStatus.status(path).mode) ?? 0o644
        try withSource(path) { source in
            try withSink(path, mode: mode & 0o7777, overwrite: true) { sink in
                try rewrap(from: source, to: sink, identities: identities, recipients: recipients)
            }
        }
    }
}
