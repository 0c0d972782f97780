// ParameterDigest: a digest of a model's parameters as the engine holds them, which binds a detector, a fingerprint
// (or any artefact calibrated on a model) to those exact weights, however the files were stored or encrypted.

import Crypto
import MLSecCore


extension Model {
    /// "sha256:" and the hex SHA-256 of each parameter's name, shape and little-endian float values, in order.
    public var parameterDigest: String {
        var hash = SHA256()
        for (name, tensor) in zip(parameterNames, parameters) {
            hash.update(data: Array(name.utf8) + [0])
            for d in tensor.shape { withUnsafeBytes(of: UInt64(d).littleEndian) { hash.update(bufferPointer: $0) } }
            // Float bytes as stored: little-endian on every platform MLSec builds for (x86-64, arm64).
            tensor.data.withUnsafeBytes { hash.update(bufferPointer: $0) }
        }
        return "sha256:" + Hex.encode(hash.finalize())
    }
}
