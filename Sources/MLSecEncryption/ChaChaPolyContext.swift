// ChaChaPolyContext: ChaCha20-Poly1305 on caller-owned buffers, shared by threads, for the age payload.

import CMLSecAEAD
import Crypto
import MLSecCore

/// A ChaCha20-Poly1305 key ready to seal and open chunks in place, through swift-crypto's BoringSSL.
/// Safe to use from several threads at once (sealing and opening only read the key schedule).
final class ChaChaPolyContext: @unchecked Sendable {
    private let context: OpaquePointer

    init(key: SymmetricKey) throws {
        guard key.bitCount == 256,
            let context = key.withUnsafeBytes({ raw in
                mlsec_chacha20poly1305_new(raw.bindMemory(to: UInt8.self).baseAddress, raw.count)
            })
        else { throw MLSecError.io("cannot create a ChaCha20-Poly1305 context") }
        self.context = context
    }

    deinit { mlsec_aead_free(context) }

    /// Seals `length` bytes at `input` into `output` (ciphertext then 16-byte tag); the two may be equal.
    func seal(_ input: UnsafeRawPointer, length: Int, into output: UnsafeMutableRawPointer, nonce: [UInt8]) -> Bool {
        var written = 0
        return nonce.withUnsafeBufferPointer { n in
            mlsec_aead_seal(
                context, output.assumingMemoryBound(to: UInt8.self), &written, length + 16, n.baseAddress, n.count,
                input.assumingMemoryBound(to: UInt8.self), length) == 1
        }
    }

    /// Opens `length` bytes (ciphertext and tag) at `input` into `output`; `false` when the tag is wrong.
    func open(_ input: UnsafeRawPointer, length: Int, into output: UnsafeMutableRawPointer, nonce: [UInt8]) -> Bool {
        guard length >= 16 else { return false }
        var written = 0
        return nonce.withUnsafeBufferPointer { n in
            mlsec_aead_open(
                context, output.assumingMemoryBound(to: UInt8.self), &written, length - 16, n.baseAddress, n.count,
                input.assumingMemoryBound(to: UInt8.self), length) == 1
        }
    }
}
