// VersionDiff: what changed between two registered versions, file by file and tensor by tensor.

import Crypto
import MLSecCore
import MLSecEncryption
import MLSecEngine
import MLSecFormats

/// The change between two registered versions of a model: which files differ (by their registered digests),
/// and in the weights, which tensors were added, removed, reshaped, retyped or changed, and by how much
/// (largest absolute difference, relative L2 difference ‖b − a‖ / ‖a‖, changed element count). The weights are
/// read once, hashed and compared with the registered digest before they are parsed: a diff never describes
/// files other than the registered ones.
public struct VersionDiff: Sendable {
    public struct FileChange: Sendable, Equatable {
        public var path: String
        /// `added`, `removed`, `changed` or `unchanged`.
        public var status: String
        public var from: String?
        public var to: String?
    }

    public struct TensorChange: Sendable, Equatable {
        public var name: String
        /// `added`, `removed`, `reshaped` (shape or dtype differ), `changed` or `unchanged`.
        public var status: String
        public var fromShape: [Int]?
        public var toShape: [Int]?
        public var fromDType: String?
        public var toDType: String?
        public var maxAbsoluteDifference: Double?
        public var relativeL2Difference: Double?
        public var changedElements: Int?
        public var elements: Int?
    }

    public var name: String
    public var from: String
    public var to: String
    public var files: [FileChange]
    /// Nil when the weights could not be compared (encrypted without an identity); ``note`` says why.
    public var tensors: [TensorChange]?
    public var note: String?

    /// Compares registered versions `a` and `b` of one model.
    /// - Parameter identities: decrypt encrypted weights (without them, encrypted weights are compared by digest only).
    /// - Throws: `verificationFailed` when a weights file no longer has its registered digest; `malformed` for
    ///   weights that do not parse.
    public static func compare(_ a: RegisteredVersion, _ b: RegisteredVersion, identities: [any AgeIdentity] = [],
                               maxBytes: Int = 1 << 30) throws -> VersionDiff {
        var files: [FileChange] = []
        for path in Set(a.files.keys).union(b.files.keys).sorted() {
            let (x, y) = (a.files[path], b.files[path])
            let status = x == nil ? "added" : y == nil ? "removed" : x == y ? "unchanged" : "changed"
            files.append(FileChange(path: path, status: status, from: x, to: y))
        }
        var diff = VersionDiff(name: a.name, from: a.version, to: b.version, files: files)
        let (left, right) = (try weights(of: a, identities: identities, maxBytes: maxBytes),
                             try weights(of: b, identities: identities, maxBytes: maxBytes))
        guard let left, let right else {
            diff.note = "the weights are encrypted: give --identity to compare their tensors (files are compared by digest)"
            return diff
        }
        diff.tensors = try tensorChanges(SafetensorsFile(bytes: left), SafetensorsFile(bytes: right))
        return diff
    }

    /// The plaintext weights of `record`, read once and checked against the registered digest; nil when they are
    /// encrypted and no identity was given.
    static func weights(of record: RegisteredVersion, identities: [any AgeIdentity], maxBytes: Int) throws -> [UInt8]? {
        let plain = ModelStore.weightsFile
        let (file, encrypted) = record.files[plain] != nil ? (plain, false) : ("\(plain).age", true)
        guard let expected = record.files[file] else {
            throw MLSecError.malformed("model \(record.name) version \(record.version): the registry names no \(plain)")
        }
        guard expected.hasPrefix("sha256:") else {
            throw MLSecError.usage("model \(record.name) version \(record.version) was signed with \(expected.prefix { $0 != ":" }) "
                + "digests; the tensor diff compares SHA-256-signed models")
        }
        if encrypted, identities.isEmpty { return nil }
        let path = "\(record.path)/\(file)"
        let bytes = try ReadOnlyFile.readAll(path, maxBytes: maxBytes, what: "weights")
        let digest = "sha256:" + Hex.encode(Array(SHA256.hash(data: bytes)))
        guard ConstantTime.equal(Array(digest.utf8), Array(expected.utf8)) else {
            throw MLSecError.verificationFailed("\(path) is not the file registered as model \(record.name) version \(record.version) "
                + "(its SHA-256 is \(digest), registered \(expected)): the files changed after registration")
        }
        guard encrypted else { return bytes }
        do {
            return try Age.decrypt(bytes: bytes, identities: identities, maxBytes: maxBytes)
        } catch let error as AgeError {
            throw MLSecError(error.asMLSecError.code, "\(path) does not decrypt with the given identities: \(error.message)")
        }
    }

    static func tensorChanges(_ a: SafetensorsFile, _ b: SafetensorsFile) throws -> [TensorChange] {
        let left = Dictionary(a.header.tensors.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        let right = Dictionary(b.header.tensors.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        var changes: [TensorChange] = []
        for name in Set(left.keys).union(right.keys).sorted() {
            var change = TensorChange(name: name, status: "unchanged", fromShape: left[name]?.shape, toShape: right[name]?.shape,
                                      fromDType: left[name]?.dtype.rawValue, toDType: right[name]?.dtype.rawValue)
            guard let x = left[name], let y = right[name] else {
                change.status = left[name] == nil ? "added" : "removed"
                changes.append(change)
                continue
            }
            guard x.shape == y.shape, x.dtype == y.dtype else {
                change.status = "reshaped"
                changes.append(change)
                continue
            }
            let (u, v) = (try a.floats(name), try b.floats(name))
            var maxAbs = 0.0, squaredDiff = 0.0, squaredBase = 0.0, changed = 0
            for i in 0..<min(u.count, v.count) {
                let (p, q) = (Double(u[i]), Double(v[i]))
                if p != q, !(p.isNaN && q.isNaN) {
                    changed += 1
                    let d = abs(q - p)
                    maxAbs = d.isNaN ? .infinity : max(maxAbs, d)
                    squaredDiff += d.isFinite ? d * d : .infinity
                }
                squaredBase += p.isFinite ? p * p : 0
            }
            change.elements = u.count
            change.changedElements = changed
            change.maxAbsoluteDifference = maxAbs
            change.relativeL2Difference = squaredBase > 0 ? (squaredDiff / squaredBase).squareRoot() : (squaredDiff > 0 ? .infinity : 0)
            change.status = changed == 0 ? "unchanged" : "changed"
            changes.append(change)
        }
        return changes
    }
}
