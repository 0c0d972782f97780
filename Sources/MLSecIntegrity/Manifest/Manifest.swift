// Manifest: everything a model signature covers: serialization, items, and MLSec's signed extensions.

import Crypto
import MLSecCore

/// Size and modification time of a file when it was signed (used by incremental re-signing).
public struct FileStamp: Sendable, Equatable {
    public var size: Int64
    public var modificationTimeNanoseconds: Int64
    public init(size: Int64, modificationTimeNanoseconds: Int64) {
        self.size = size
        self.modificationTimeNanoseconds = modificationTimeNanoseconds
    }
}

/// The model name and version a signature was made for (an MLSec extension of the predicate, ignored by the
/// reference verifier): a loader that knows which name and version it is installing checks them, so a signed
/// version copied under another version number or model is refused.
public struct SignedModelIdentity: Sendable, Equatable {
    public var name: String
    public var version: String

    public init(name: String, version: String) {
        self.name = name
        self.version = version
    }
}

/// The signed description of a model.
public struct Manifest: Sendable, Equatable {
    /// Informative model name (the last component of the model path).
    public var modelName: String
    public var serialization: Serialization
    /// Items in format order.
    public var items: [ManifestItem]
    /// MLSec extension: the empty files of a shards-serialized model. `nil` when the signature does not
    /// record them (signatures made by the reference implementation), so added empty files cannot be seen.
    public var emptyFiles: [String]?
    /// MLSec extension: size and modification time of each file at signing time.
    public var fileStamps: [String: FileStamp]
    /// MLSec extension: the model name and version the signer named (nil when it named none).
    public var signedModel: SignedModelIdentity?

    public init(modelName: String, serialization: Serialization, items: [ManifestItem], emptyFiles: [String]? = nil,
                fileStamps: [String: FileStamp] = [:]) {
        self.modelName = modelName
        self.serialization = serialization
        self.items = items
        self.emptyFiles = emptyFiles
        self.fileStamps = fileStamps
    }

    /// The root digest: SHA-256 over the raw item digests, in item order.
    public var rootDigest: [UInt8] {
        var hasher = SHA256()
        for item in items { hasher.update(data: item.digest) }
        return Array(hasher.finalize())
    }

    /// Every file path the manifest covers (including recorded empty files in shards mode).
    public var filePaths: Set<String> {
        var paths = Set(items.map(\.path))
        if let emptyFiles { paths.formUnion(emptyFiles) }
        return paths
    }
}
