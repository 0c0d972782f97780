// SecureRandom: a buffered cryptographically secure generator for bulk draws (DP-SGD's noise and sampling).

import CMLSecRandom

/// 64-bit words from BoringSSL's CSPRNG (`RAND_bytes`, via swift-crypto: a per-thread AES-256 CTR-DRBG seeded and
/// reseeded from the operating system's generator), fetched 64 KiB at a time.
///
/// `SystemRandomNumberGenerator` makes one `getrandom` system call per word (0.4-0.6 µs here); DP-SGD on the digits
/// MLP draws about 10 million words per run, so this generator buffers. Each buffered word is handed out once and
/// the buffer is wiped when the generator goes away. A class, so that copies share one stream (a copied value
/// would replay the same words).
public final class SecureRandomGenerator: RandomNumberGenerator {
    static let words = 8192
    private let buffer: UnsafeMutablePointer<UInt64>
    private var index: Int

    public init() {
        buffer = .allocate(capacity: Self.words)
        index = Self.words
    }

    deinit {
        buffer.update(repeating: 0, count: Self.words)
        buffer.deallocate()
    }

    public func next() -> UInt64 {
        if index == Self.words {
            _ = mlsec_random_bytes(UnsafeMutableRawPointer(buffer).assumingMemoryBound(to: UInt8.self), Self.words * 8)
            index = 0
        }
        let word = buffer[index]
        buffer[index] = 0
        index += 1
        return word
    }
}
