// Keyring: named age keys with ids, creation times and rotation, stored in a directory with 0600 secrets.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Crypto
import Foundation
import MLSecCore

/// A local keyring: each named key has versions; the newest is active (new files are encrypted to it), older
/// ones still decrypt until retired. Metadata lives in `keyring.json`, each secret in
/// `identities/<id>.key` (mode 0600, age-keygen format). Secrets are never written to the metadata or logs.
public final class Keyring {
    /// The state of one key version.
    public enum Status: String, Sendable {
        /// New files are encrypted to it.
        case active
        /// Superseded by a rotation; still decrypts.
        case previous
        /// Its secret was destroyed; it decrypts nothing.
        case retired
    }

    public struct Entry: Sendable, Equatable {
        public var id: String
        public var name: String
        public var recipient: String
        public var created: String
        public var status: Status
        public var retired: String?
    }

    public let directory: String
    public private(set) var entries: [Entry]

    private var metadataPath: String { "\(directory)/keyring.json" }
    private func identityPath(_ id: String) -> String { "\(directory)/identities/\(id).key" }

    /// Opens the keyring in `directory`, creating it (mode 0700) when `create` is set.
    public init(directory: String, create: Bool = false) throws {
        self.directory = directory
        let metadata = "\(directory)/keyring.json"
        if !FileStatus.exists(metadata) {
            guard create else {
                throw MLSecError.io(
                    "no keyring at \(directory) (no keyring.json there); create a key first with `mlsec keys create NAME`, "
                        + "or point --keyring or $MLSEC_KEYRING at an existing keyring")
            }
            try Self.makeDirectories("\(directory)/identities")
            entries = []
            return
        }
        let document = try JSONParser().parse(
            try ReadOnlyFile.readAll(metadata, maxBytes: 16 << 20, what: "keyring"), context: metadata)
        guard let keys = document["keys"]?.arrayValue else { throw MLSecError.malformed("\(metadata): no \"keys\" array") }
        entries = try keys.enumerated().map { index, key in
            guard let id = key["id"]?.stringValue, let name = key["name"]?.stringValue,
                let recipient = key["recipient"]?.stringValue, let created = key["created"]?.stringValue,
                let statusText = key["status"]?.stringValue, let status = Status(rawValue: statusText),
                Self.isValidID(id)
            else { throw MLSecError.malformed("\(metadata): key \(index) is incomplete or invalid") }
            return Entry(id: id, name: name, recipient: recipient, created: created, status: status,
                         retired: key["retired"]?.stringValue)
        }
    }

    /// Creates `path` and every missing folder above it with mode 0700 (a fresh machine has no `~/.mlsec`).
    /// Folders that already exist keep their mode.
    static func makeDirectories(_ path: String) throws {
        var missing: [String] = []
        var current = path
        while !current.isEmpty, current != "/", current != ".", !FileStatus.exists(current) {
            missing.append(current)
            guard let slash = current.lastIndex(of: "/") else { break }
            current = String(current[..<slash])
        }
        for dir in missing.reversed() {
            guard mkdir(dir, 0o700) == 0 || errno == EEXIST else {
                throw MLSecError.io("cannot create the keyring folder \(dir): \(FileStatus.errnoText())")
            }
        }
    }

    static func isValidID(_ id: String) -> Bool {
        id.utf8.count == 16 && id.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) }
    }

    static func isValidName(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.count <= 64
            && name.utf8.allSatisfy { c in
                (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || c == 0x2D || c == 0x5F || c == 0x2E
            }
    }

    private func save() throws {
        let keys: [JSONValue] = entries.map { e in
            var members: [(String, JSONValue)] = [
                ("id", .string(e.id)), ("name", .string(e.name)), ("recipient", .string(e.recipient)),
                ("created", .string(e.created)), ("status", .string(e.status.rawValue)),
            ]
            if let retired = e.retired { members.append(("retired", .string(retired))) }
            return .object(members)
        }
        let document = JSONValue.object([("version", .int(1)), ("keys", .array(keys))])
        try AtomicFile.write(JSONWriter.bytes(document, options: .init(pretty: true)) + [0x0A], to: metadataPath, mode: 0o600)
    }

    private static func now() -> String { RFC3339.now() }

    private func newVersion(of name: String) throws -> Entry {
        let identity = AgeX25519Identity.generate()
        let recipient = identity.recipient.description
        let id = Hex.encode(SHA256.hash(data: Array(recipient.utf8))).prefix(16)
        let entry = Entry(id: String(id), name: name, recipient: recipient, created: Self.now(), status: .active)
        try AgeKeyFiles.writeIdentity(identity, to: identityPath(entry.id))
        return entry
    }

    /// The active version of `name`, if any.
    public func active(_ name: String) -> Entry? {
        entries.last { $0.name == name && $0.status == .active }
    }

    /// Creates the key `name`.
    /// - Throws: `alreadyExists` when `name` already has an active key (rotate it instead).
    @discardableResult
    public func create(name: String) throws -> Entry {
        guard Self.isValidName(name) else {
            throw MLSecError.usage("key names use letters, digits, '.', '-' and '_' (at most 64)")
        }
        guard active(name) == nil else {
            throw MLSecError(.alreadyExists, "key \(name) already exists; use `mlsec keys rotate \(name)` for a new version")
        }
        let entry = try newVersion(of: name)
        entries.append(entry)
        try save()
        return entry
    }

    /// The recipient new files for `name` are encrypted to.
    public func recipient(for name: String) throws -> AgeX25519Recipient {
        guard let entry = active(name) else { throw MLSecError.usage("no active key named \(name) in \(directory)") }
        return try AgeX25519Recipient(entry.recipient)
    }

    /// The identities that still decrypt: every non-retired version (of `name` only, when given).
    public func identities(for name: String? = nil) throws -> [AgeX25519Identity] {
        try entries.filter { $0.status != .retired && (name == nil || $0.name == name) }.flatMap {
            try AgeKeyFiles.readIdentities(identityPath($0.id))
        }
    }

    /// Makes a new version of `name` active (the old one stays able to decrypt) and re-wraps the age files
    /// at `paths` (files, or directories searched recursively for age files) for the new key: only their
    /// headers change, the payload is copied, no plaintext is produced. Returns the new entry and the files
    /// re-wrapped.
    public func rotate(name: String, rewrapping paths: [String] = []) throws -> (Entry, [String]) {
        guard let old = active(name) else { throw MLSecError.usage("no active key named \(name) to rotate") }
        let oldIdentities = try identities(for: name)
        let entry = try newVersion(of: name)
        for i in entries.indices where entries[i].id == old.id { entries[i].status = .previous }
        entries.append(entry)
        try save()
        let recipient = try AgeX25519Recipient(entry.recipient)
        var rewrapped: [String] = []
        for file in try Self.ageFiles(in: paths) {
            try Age.rewrapFile(at: file, identities: oldIdentities, recipients: [recipient])
            rewrapped.append(file)
        }
        return (entry, rewrapped)
    }

    /// Retires a non-active version: its secret file is overwritten and deleted, and it decrypts nothing more.
    public func retire(id: String) throws -> Entry {
        guard let index = entries.firstIndex(where: { $0.id == id }) else {
            throw MLSecError.usage("no key with id \(id) in \(directory)")
        }
        guard entries[index].status != .active else {
            throw MLSecError.usage("key \(id) is the active version of \(entries[index].name); rotate it first")
        }
        guard entries[index].status != .retired else { return entries[index] }
        let path = identityPath(id)
        if let size = try? FileStatus.status(path).size, size > 0 {
            // Overwrite before unlinking, so the secret does not linger in the file's old blocks on simple filesystems.
            try? AtomicFileOverwrite.zero(path, size: Int(size))
        }
        unlink(path)
        entries[index].status = .retired
        entries[index].retired = Self.now()
        try save()
        return entries[index]
    }

    /// The age files among `paths` (binary or armored), directories searched recursively.
    static func ageFiles(in paths: [String]) throws -> [String] {
        var found: [String] = []
        for path in paths {
            let status = try FileStatus.lstatus(path)
            if status.kind == .directory {
                for name in try DirectoryListing.entries(path).sorted() where name.first != "." {
                    found += try ageFiles(in: ["\(path)/\(name)"])
                }
            } else if status.kind == .regular, try isAgeFile(path) {
                found.append(path)
            }
        }
        return found
    }

    static func isAgeFile(_ path: String) throws -> Bool {
        let file = try ReadOnlyFile(path: path, nonBlocking: true)
        var head = [UInt8](repeating: 0, count: 34)
        let n = try head.withUnsafeMutableBytes { try file.read(into: $0, at: 0) }
        let prefix = head[..<n]
        return prefix.starts(with: AgeHeader.versionLine + [0x0A]) || prefix.starts(with: AgeArmor.begin)
    }
}

/// Overwrites a file's bytes with zeros in place.
enum AtomicFileOverwrite {
    static func zero(_ path: String, size: Int) throws {
        let fd = open(path, O_WRONLY)
        guard fd >= 0 else { throw MLSecError.io("cannot open \(path): \(FileStatus.errnoText())") }
        defer { close(fd) }
        let zeros = [UInt8](repeating: 0, count: min(size, 1 << 16))
        var written = 0
        while written < size {
            let n = zeros.withUnsafeBytes { pwrite(fd, $0.baseAddress!, min(zeros.count, size - written), off_t(written)) }
            guard n > 0 else { throw MLSecError.io("cannot overwrite \(path): \(FileStatus.errnoText())") }
            written += n
        }
        _ = fsync(fd)
    }
}
