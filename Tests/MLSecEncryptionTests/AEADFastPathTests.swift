// The direct BoringSSL ChaCha20-Poly1305 path against swift-crypto's public API, on every test run.

import Crypto
import Foundation
import MLSecCore
import MLSecEncryption
import Testing

@Suite("ChaCha20-Poly1305 fast path")
struct AEADFastPathTests {
    @Test("the fast path seals and opens exactly as swift-crypto's ChaChaPoly (0, 1, 64 KiB - 1, 64 KiB, 64 KiB + 1, 5 MiB)")
    func knownAnswers() throws {
        #expect(ChaChaPolyContext.fastPathAgrees(sizes: [0, 1, 65535, 65536, 65537, 5 << 20]))
        #expect(ChaChaPolyContext.fastPathAgrees, "the start-up check failed: every context falls back to the public API")
        #expect(try ChaChaPolyContext(key: SymmetricKey(size: .bits256)).usesFastPath)
    }

    @Test("the public-API fallback seals the same bytes and refuses forged tags")
    func fallback() throws {
        let key = SymmetricKey(size: .bits256)
        let fast = try ChaChaPolyContext(key: key)
        let slow = ChaChaPolyContext(publicAPIWith: key)
        #expect(!slow.usesFastPath)
        let nonce = [UInt8](repeating: 9, count: 12)
        for size in [0, 1, 65536] {
            let message = (0..<size).map { UInt8(truncatingIfNeeded: $0) }
            var a = [UInt8](repeating: 0, count: size + 16)
            var b = [UInt8](repeating: 0, count: size + 16)
            let sealedA = message.withUnsafeBytes { m in a.withUnsafeMutableBytes { fast.seal(m.baseAddress ?? UnsafeRawPointer($0.baseAddress!), length: size, into: $0.baseAddress!, nonce: nonce) } }
            let sealedB = message.withUnsafeBytes { m in b.withUnsafeMutableBytes { slow.seal(m.baseAddress ?? UnsafeRawPointer($0.baseAddress!), length: size, into: $0.baseAddress!, nonce: nonce) } }
            #expect(sealedA && sealedB && a == b)
            var opened = [UInt8](repeating: 0, count: max(1, size))
            #expect(a.withUnsafeBytes { c in opened.withUnsafeMutableBytes { slow.open(c.baseAddress!, length: size + 16, into: $0.baseAddress!, nonce: nonce) } })
            #expect(Array(opened.prefix(size)) == message)
            a[size] ^= 1
            #expect(!a.withUnsafeBytes { c in opened.withUnsafeMutableBytes { slow.open(c.baseAddress!, length: size + 16, into: $0.baseAddress!, nonce: nonce) } })
        }
    }
}
