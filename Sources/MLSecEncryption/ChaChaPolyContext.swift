// ChaChaPolyContext: ChaCha20-Poly1305 on caller-owned buffers, shared by threads, for the age payload.

import CMLSecAEAD
import Crypto
import Foundation
import MLSecCore

/// A ChaCha20-Poly1305 key ready to seal and open chunks in place. The fast path calls swift-crypto's
/// BoringSSL directly (`CMLSecAEAD`, declared by hand against the pinned swift-crypto); before a process first
/// uses it, ``fastPathAgrees`` checks it against swift-crypto's public `ChaChaPoly` (a known-answer comparison of
/// sealed bytes and tags, opening both ways, a forged tag refused), and when they disagree every context uses
/// the public API instead. Safe to use from several threads at once (sealing and opening only read the key).
package final class ChaChaPolyContext: @unchecked Sendable {
    private let context: OpaquePointer?
    private let key: SymmetricKey

    package init(key: SymmetricKey) throws {
        guard key.bitCount == 256 else { throw MLSecError.io("a ChaCha20-Poly1305 key is 256 bits") }
        self.key = key
        guard Self.fastPathAgrees else {
            context = nil
            return
        }
        guard let context = Self.makeFastContext(key) else { throw MLSecError.io("cannot create a ChaCha20-Poly1305 context") }
        self.context = context
    }

    /// Forces the public API (for tests of the fallback).
    package init(publicAPIWith key: SymmetricKey) {
        self.key = key
        context = nil
    }

    deinit { if let context { mlsec_aead_free(context) } }

    /// Whether this context uses the direct BoringSSL path.
    package var usesFastPath: Bool { context != nil }

    private static func makeFastContext(_ key: SymmetricKey) -> OpaquePointer? {
        key.withUnsafeBytes { raw in mlsec_chacha20poly1305_new(raw.bindMemory(to: UInt8.self).baseAddress, raw.count) }
    }

    /// Seals `length` bytes at `input` into `output` (ciphertext then 16-byte tag); the two may be equal.
    package func seal(_ input: UnsafeRawPointer, length: Int, into output: UnsafeMutableRawPointer, nonce: [UInt8]) -> Bool {
        guard let context else {
            guard let chachaNonce = try? ChaChaPoly.Nonce(data: nonce),
                let box = try? ChaChaPoly.seal(UnsafeRawBufferPointer(start: input, count: length), using: key, nonce: chachaNonce)
            else { return false }
            box.ciphertext.copyBytes(to: UnsafeMutableRawBufferPointer(start: output, count: length))
            box.tag.copyBytes(to: UnsafeMutableRawBufferPointer(start: output + length, count: 16))
            return true
        }
        var written = 0
        return nonce.withUnsafeBufferPointer { n in
            mlsec_aead_seal(
                context, output.assumingMemoryBound(to: UInt8.self), &written, length + 16, n.baseAddress, n.count,
                input.assumingMemoryBound(to: UInt8.self), length) == 1
        }
    }

    /// Opens `length` bytes (ciphertext and tag) at `input` into `output`; `false` when the tag is wrong.
    package func open(_ input: UnsafeRawPointer, length: Int, into output: UnsafeMutableRawPointer, nonce: [UInt8]) -> Bool {
        guard length >= 16 else { return false }
        guard let context else {
            let ciphertext = UnsafeRawBufferPointer(start: input, count: length - 16)
            let tag = UnsafeRawBufferPointer(start: input + (length - 16), count: 16)
            guard let chachaNonce = try? ChaChaPoly.Nonce(data: nonce),
                let box = try? ChaChaPoly.SealedBox(nonce: chachaNonce, ciphertext: ciphertext, tag: tag),
                let plain = try? ChaChaPoly.open(box, using: key)
            else { return false }
            plain.copyBytes(to: UnsafeMutableRawBufferPointer(start: output, count: length - 16))
            return true
        }
        var written = 0
        return nonce.withUnsafeBufferPointer { n in
            mlsec_aead_open(
                context, output.assumingMemoryBound(to: UInt8.self), &written, length - 16, n.baseAddress, n.count,
                input.assumingMemoryBound(to: UInt8.self), length) == 1
        }
    }

    /// The message sizes the start-up check compares (the age payload's chunk sizes and their neighbours).
    package static let startupCheckSizes = [0, 1, 65535, 65536, 65537]

    /// Whether the fast path agrees with swift-crypto's public API, checked once per process.
    package static let fastPathAgrees: Bool = fastPathAgrees(sizes: startupCheckSizes)

    /// Seals messages of each size (deterministic content, key and nonce) with both paths and compares the bytes;
    /// opens each path's output with the other; a flipped tag bit must be refused by the fast path.
    package static func fastPathAgrees(sizes: [Int]) -> Bool {
        let key = SymmetricKey(data: (0..<32).map { UInt8($0 &* 7 &+ 1) })
        let nonce = (0..<12).map { UInt8($0 &* 13 &+ 5) }
        guard let fast = makeFastContext(key) else { return false }
        defer { mlsec_aead_free(fast) }
        let reference = ChaChaPolyContext(publicAPIWith: key)
        for size in sizes {
            let message = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ size) }
            var viaFast = [UInt8](repeating: 0, count: size + 16)
            var viaPublic = [UInt8](repeating: 0, count: size + 16)
            var written = 0
            let sealed = message.withUnsafeBufferPointer { m in
                nonce.withUnsafeBufferPointer { n in
                    viaFast.withUnsafeMutableBufferPointer { out in
                        mlsec_aead_seal(fast, out.baseAddress, &written, size + 16, n.baseAddress, n.count, m.baseAddress, size)
                    }
                }
            }
            guard sealed == 1, written == size + 16 else { return false }
            guard message.withUnsafeBytes({ m in viaPublic.withUnsafeMutableBytes { out in
                reference.seal(m.baseAddress ?? UnsafeRawPointer(out.baseAddress!), length: size, into: out.baseAddress!, nonce: nonce)
            } }) else { return false }
            guard viaFast == viaPublic else { return false }
            var opened = [UInt8](repeating: 0, count: size)
            let openedByFast = viaPublic.withUnsafeBufferPointer { c in
                nonce.withUnsafeBufferPointer { n in
                    opened.withUnsafeMutableBufferPointer { out in
                        mlsec_aead_open(fast, out.baseAddress ?? UnsafeMutablePointer(mutating: c.baseAddress!), &written, size,
                                        n.baseAddress, n.count, c.baseAddress, size + 16)
                    }
                }
            }
            guard openedByFast == 1, written == size, opened == message else { return false }
            var forged = viaFast
            forged[size + 15] ^= 1
            let refused = forged.withUnsafeBufferPointer { c in
                nonce.withUnsafeBufferPointer { n in
                    opened.withUnsafeMutableBufferPointer { out in
                        mlsec_aead_open(fast, out.baseAddress ?? UnsafeMutablePointer(mutating: c.baseAddress!), &written, size,
                                        n.baseAddress, n.count, c.baseAddress, size + 16)
                    }
                }
            }
            guard refused == 0 else { return false }
        }
        return true
    }
}
