// VerifiedContents: a model's files read once, hashed while read, and matched against an authenticated manifest.

import MLSecCore

/// The bytes of a model's files, each read once and hashed as it was read, that matched a signed manifest:
/// what was verified is exactly what the caller goes on to decrypt, scan and load.
public struct VerifiedContents: Sendable {
    /// The authenticated manifest the bytes match.
    public let manifest: Manifest
    /// Each file's bytes, by model-relative name (`.` for a single-file model).
    public let files: [String: [UInt8]]
    /// Notes that do not change the verdict.
    public let warnings: [String]

    public subscript(name: String) -> [UInt8]? { files[name] }

    /// `sha256:<hex>` of the manifest's root digest (the model's identity in receipts and logs).
    public var digest: String { "sha256:" + Hex.encode(manifest.rootDigest) }
}

extension ModelVerifier {
    /// Authenticates `bundle`, then reads the model at `modelPath` once into memory (at most `maxBytes` in
    /// all), hashing every file as it is read, and checks the hashes against the signed manifest.
    /// - Throws: `verificationFailed` naming what changed, or the errors of ``authenticate(_:)``.
    public func readVerified(modelPath: String, bundle: SignatureBundle, maxBytes: Int,
                             options: VerificationOptions = VerificationOptions()) async throws -> VerifiedContents {
        let manifest = try await authenticate(bundle)
        return try Self.readVerified(modelPath: modelPath, manifest: manifest, maxBytes: maxBytes, options: options)
    }

    /// Reads the model once and checks it against `manifest`, which the caller has authenticated.
    public static func readVerified(modelPath: String, manifest: Manifest, maxBytes: Int,
                                    options: VerificationOptions = VerificationOptions()) throws -> VerifiedContents {
        let serialization = manifest.serialization
        if case .shards = serialization.method, serialization.hash == .blake3 {
            throw MLSecError.unsupported("the shards method does not support BLAKE3")
        }
        let plan = try plan(modelPath: modelPath, manifest: manifest, options: options)
        var remaining = maxBytes
        var files: [String: [UInt8]] = [:]
        var items: [ManifestItem] = []
        var emptyFiles: [String] = []
        for file in plan.files {
            let (bytes, fileItems) = try HashingReader.read(file, serialization: serialization, maxBytes: remaining)
            remaining -= bytes.count
            if case .shards = serialization.method, bytes.isEmpty { emptyFiles.append(file.name) }
            items.append(contentsOf: fileItems)
            files[file.name] = bytes
        }
        items.sort(by: ManifestItem.precedes)
        var actual = Manifest(modelName: manifest.modelName, serialization: serialization, items: items)
        if case .shards = serialization.method { actual.emptyFiles = emptyFiles }
        let changes = ManifestComparison(expected: plan.expected, actual: actual)
        guard changes.isEmpty else {
            throw MLSecError.verificationFailed("signature check failed: \(changes.summary)")
        }
        return VerifiedContents(manifest: manifest, files: files, warnings: plan.warnings)
    }
}

extension ManifestComparison {
    /// The changes as one sentence, e.g. "weights.safetensors was modified; notes.txt was added".
    public var summary: String {
        func list(_ paths: [String]) -> String {
            paths.count <= 5 ? paths.joined(separator: ", ") : paths.prefix(5).joined(separator: ", ") + " and \(paths.count - 5) more"
        }
        var parts: [String] = []
        if !modified.isEmpty { parts.append("\(list(modified)) \(modified.count == 1 ? "was" : "were") modified") }
        if !added.isEmpty { parts.append("\(list(added)) \(added.count == 1 ? "is" : "are") not covered by the signature") }
        if !removed.isEmpty { parts.append("\(list(removed)) \(removed.count == 1 ? "is" : "are") missing") }
        if !renamed.isEmpty { parts.append(list(renamed.map { "\($0.from) was renamed to \($0.to)" })) }
        return parts.isEmpty ? "no changes" : parts.joined(separator: "; ")
    }
}
