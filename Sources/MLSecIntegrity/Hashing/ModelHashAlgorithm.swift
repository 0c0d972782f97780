// ModelHashAlgorithm: the per-file hash functions of the OpenSSF Model Signing format.

import Crypto
import MLSecCore

/// A hash function that the model-signing format names in `hash_type` and in resource algorithms.
public enum ModelHashAlgorithm: String, Sendable, CaseIterable {
    case sha256
    /// BLAKE2b with its default 64-byte output.
    case blake2b
    /// BLAKE3 with a 32-byte output.
    case blake3

    /// Parses the name a signature records. Accepts `blake2` as the Python API spells it in configs.
    public init?(formatName: String) {
        switch formatName {
        case "sha256": self = .sha256
        case "blake2b", "blake2": self = .blake2b
        case "blake3": self = .blake3
        default: return nil
        }
    }

    /// Length of a digest in bytes.
    public var digestByteCount: Int {
        switch self {
        case .sha256, .blake3: 32
        case .blake2b: 64
        }
    }

    /// A fresh incremental hasher.
    public func makeHasher() -> StreamingHasher {
        switch self {
        case .sha256: .sha256(SHA256())
        case .blake2b: .blake2b(BLAKE2b())
        case .blake3: .blake3(BLAKE3())
        }
    }

    /// Digest of `bytes` in one call.
    public func hash(_ bytes: [UInt8]) -> [UInt8] {
        var hasher = makeHasher()
        bytes.withUnsafeBytes { hasher.update($0) }
        return hasher.finalize()
    }
}

/// An incremental hasher for one of the ``ModelHashAlgorithm`` functions.
public enum StreamingHasher: Sendable {
    case sha256(SHA256)
    case blake2b(BLAKE2b)
    case blake3(BLAKE3)

    public mutating func update(_ buffer: UnsafeRawBufferPointer) {
        switch self {
        case .sha256(var h):
            h.update(bufferPointer: buffer)
            self = .sha256(h)
        case .blake2b(var h):
            h.update(buffer)
            self = .blake2b(h)
        case .blake3(var h):
            h.update(buffer)
            self = .blake3(h)
        }
    }

    public func finalize() -> [UInt8] {
        switch self {
        case .sha256(let h): Array(h.finalize())
        case .blake2b(let h): h.finalize()
        case .blake3(let h): h.finalize()
        }
    }
}
