// BLAKE2b (RFC 7693): incremental and one-shot hashing, unkeyed or keyed, with 1...64-byte digests.

/// BLAKE2b (RFC 7693), unkeyed or keyed, digest length 1...64 bytes (default 64 = "BLAKE2b-512").
///
/// The hasher is a value type: copying it forks the running state, and `finalize()` does not
/// consume it, so more input may be absorbed after taking an intermediate digest.
public struct BLAKE2b: Sendable {
    /// The eight 64-bit words of the chaining state `h`.
    private var state: Words

    /// The pending (not yet compressed) block. BLAKE2b must hold back the last block until
    /// `finalize()`, because only the final compression sets the finalization flag.
    private var block: Block = Block()

    /// Number of valid bytes in `block` (0...128).
    private var blockFill: Int = 0

    /// Low and high words of the 128-bit byte counter `t` (bytes compressed so far).
    private var counterLow: UInt64 = 0
    private var counterHigh: UInt64 = 0

    /// Digest length in bytes (1...64).
    private let outputByteCount: Int

    /// Creates an unkeyed hasher producing `outputByteCount` bytes (1...64; default 64).
    public init(outputByteCount: Int = 64) {
        precondition((1...64).contains(outputByteCount), "BLAKE2b digest length must be 1...64 bytes")
        self.outputByteCount = outputByteCount
        self.state = BLAKE2b.initialState(outputByteCount: outputByteCount, keyByteCount: 0)
    }

    /// Creates a keyed hasher (BLAKE2b MAC mode) with a 1...64-byte key, producing
    /// `outputByteCount` bytes (1...64; default 64).
    public init(key: [UInt8], outputByteCount: Int = 64) {
        precondition((1...64).contains(outputByteCount), "BLAKE2b digest length must be 1...64 bytes")
        precondition((1...64).contains(key.count), "BLAKE2b key length must be 1...64 bytes")
        self.outputByteCount = outputByteCount
        self.state = BLAKE2b.initialState(outputByteCount: outputByteCount, keyByteCount: key.count)
        // The key, zero-padded to a full block, is processed as the first message block.
        withUnsafeMutableBytes(of: &block) { dst in
            key.withUnsafeBytes { src in dst.copyMemory(from: src) }
        }
        blockFill = Self.blockByteCount
    }

    /// Absorbs the bytes of `buffer`.
    public mutating func update(_ buffer: UnsafeRawBufferPointer) {
        guard var input = buffer.baseAddress, buffer.count > 0 else { return }
        var remaining = buffer.count

        if blockFill > 0 {
            let take = min(Self.blockByteCount - blockFill, remaining)
            let fill = blockFill
            withUnsafeMutableBytes(of: &block) { dst in
                guard let base = dst.baseAddress else { return }
                (base + fill).copyMemory(from: input, byteCount: take)
            }
            blockFill += take
            input += take
            remaining -= take
            // Keep a full block pending when no more input follows: it may be the last one.
            if remaining == 0 { return }
            withUnsafeBytes(of: block) { src in
                guard let base = src.baseAddress else { return }
                Self.compressBlocks(
                    &state, base, blockCount: 1,
                    counterLow: &counterLow, counterHigh: &counterHigh)
            }
            blockFill = 0
        }

        if remaining > Self.blockByteCount {
            // Compress every full block that is certainly followed by more input.
            let blockCount = (remaining - 1) / Self.blockByteCount
            Self.compressBlocks(
                &state, input, blockCount: blockCount,
                counterLow: &counterLow, counterHigh: &counterHigh)
            input += blockCount * Self.blockByteCount
            remaining -= blockCount * Self.blockByteCount
        }

        withUnsafeMutableBytes(of: &block) { dst in
            dst.baseAddress?.copyMemory(from: input, byteCount: remaining)
        }
        blockFill = remaining
    }

    /// Absorbs `bytes`.
    public mutating func update(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { update($0) }
    }

    /// Returns the digest of everything absorbed so far; the hasher itself is left unchanged.
    public func finalize() -> [UInt8] {
        var h = state
        var last = block
        let fill = blockFill
        withUnsafeMutableBytes(of: &last) { bytes in
            // Zero-pad the final block.
            for index in fill..<Self.blockByteCount { bytes[index] = 0 }
        }
        let low = counterLow &+ UInt64(fill)
        let high = counterHigh &+ (low < UInt64(fill) ? 1 : 0)
        withUnsafeBytes(of: last) { src in
            guard let base = src.baseAddress else { return }
            Self.compress(&h, base, counterLow: low, counterHigh: high, isLast: true)
        }
        var digest = [UInt8](repeating: 0, count: outputByteCount)
        let words = [h.w0, h.w1, h.w2, h.w3, h.w4, h.w5, h.w6, h.w7]
        for index in 0..<outputByteCount {
            digest[index] = UInt8(truncatingIfNeeded: words[index >> 3] >> (UInt64(index & 7) * 8))
        }
        return digest
    }

    /// One-shot unkeyed BLAKE2b of `bytes` with an `outputByteCount`-byte digest (default 64).
    public static func hash(_ bytes: [UInt8], outputByteCount: Int = 64) -> [UInt8] {
        var hasher = BLAKE2b(outputByteCount: outputByteCount)
        hasher.update(bytes)
        return hasher.finalize()
    }
}

// MARK: - Compression

extension BLAKE2b {
    /// Bytes per message block.
    static let blockByteCount = 128

    /// Eight 64-bit words (the chaining state).
    struct Words: Sendable {
        var w0, w1, w2, w3, w4, w5, w6, w7: UInt64
    }

    /// Storage for one 128-byte message block, kept inline (no heap allocation).
    struct Block: Sendable {
        var storage: (
            UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64,
            UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64
        ) = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
    }

    /// The 16-word working vector `v` of the compression function F.
    struct WorkingVector {
        var v0, v1, v2, v3, v4, v5, v6, v7: UInt64
        var v8, v9, v10, v11, v12, v13, v14, v15: UInt64
    }

    /// The initialization vector (identical to the SHA-512 initial hash value).
    static let iv = Words(
        w0: 0x6a09_e667_f3bc_c908, w1: 0xbb67_ae85_84ca_a73b,
        w2: 0x3c6e_f372_fe94_f82b, w3: 0xa54f_f53a_5f1d_36f1,
        w4: 0x510e_527f_ade6_82d1, w5: 0x9b05_688c_2b3e_6c1f,
        w6: 0x1f83_d9ab_fb41_bd6b, w7: 0x5be0_cd19_137e_2179)

    /// h = IV, with parameter block word 0 (digest length, key length, fanout 1, depth 1) mixed in.
    static func initialState(outputByteCount: Int, keyByteCount: Int) -> Words {
        var h = iv
        h.w0 ^= 0x0101_0000 ^ (UInt64(keyByteCount) << 8) ^ UInt64(outputByteCount)
        return h
    }

    /// Compresses `blockCount` consecutive non-final blocks starting at `input`, advancing the
    /// byte counter by 128 before each block.
    static func compressBlocks(
        _ h: inout Words, _ input: UnsafeRawPointer, blockCount: Int,
        counterLow: inout UInt64, counterHigh: inout UInt64
    ) {
        var state = h
        var low = counterLow
        var high = counterHigh
        var block = input
        for _ in 0..<blockCount {
            low &+= UInt64(blockByteCount)
            if low < UInt64(blockByteCount) { high &+= 1 }
            compress(&state, block, counterLow: low, counterHigh: high, isLast: false)
            block += blockByteCount
        }
        h = state
        counterLow = low
        counterHigh = high
    }

    /// The compression function F of RFC 7693 section 3.2, fully unrolled over 12 rounds.
    @inline(__always)
    static func compress(
        _ h: inout Words, _ m: UnsafeRawPointer,
        counterLow: UInt64, counterHigh: UInt64, isLast: Bool
    ) {
        var v = WorkingVector(
            v0: h.w0, v1: h.w1, v2: h.w2, v3: h.w3, v4: h.w4, v5: h.w5, v6: h.w6, v7: h.w7,
            v8: iv.w0, v9: iv.w1, v10: iv.w2, v11: iv.w3,
            v12: iv.w4 ^ counterLow, v13: iv.w5 ^ counterHigh,
            v14: isLast ? ~iv.w6 : iv.w6, v15: iv.w7)

        // Message schedule SIGMA: rounds 10 and 11 reuse the permutations of rounds 0 and 1.
        round(&v, m, (0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15))
        round(&v, m, (14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3))
        round(&v, m, (11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4))
        round(&v, m, (7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8))
        round(&v, m, (9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13))
        round(&v, m, (2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9))
        round(&v, m, (12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11))
        round(&v, m, (13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10))
        round(&v, m, (6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5))
        round(&v, m, (10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0))
        round(&v, m, (0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15))
        round(&v, m, (14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3))

        h.w0 ^= v.v0 ^ v.v8
        h.w1 ^= v.v1 ^ v.v9
        h.w2 ^= v.v2 ^ v.v10
        h.w3 ^= v.v3 ^ v.v11
        h.w4 ^= v.v4 ^ v.v12
        h.w5 ^= v.v5 ^ v.v13
        h.w6 ^= v.v6 ^ v.v14
        h.w7 ^= v.v7 ^ v.v15
    }

    /// One round: G on the four columns, then on the four diagonals, with message words
    /// selected by the round's permutation `s`.
    @inline(__always)
    private static func round(
        _ v: inout WorkingVector, _ m: UnsafeRawPointer,
        _ s: (Int, Int, Int, Int, Int, Int, Int, Int, Int, Int, Int, Int, Int, Int, Int, Int)
    ) {
        mix(&v.v0, &v.v4, &v.v8, &v.v12, word(m, s.0), word(m, s.1))
        mix(&v.v1, &v.v5, &v.v9, &v.v13, word(m, s.2), word(m, s.3))
        mix(&v.v2, &v.v6, &v.v10, &v.v14, word(m, s.4), word(m, s.5))
        mix(&v.v3, &v.v7, &v.v11, &v.v15, word(m, s.6), word(m, s.7))
        mix(&v.v0, &v.v5, &v.v10, &v.v15, word(m, s.8), word(m, s.9))
        mix(&v.v1, &v.v6, &v.v11, &v.v12, word(m, s.10), word(m, s.11))
        mix(&v.v2, &v.v7, &v.v8, &v.v13, word(m, s.12), word(m, s.13))
        mix(&v.v3, &v.v4, &v.v9, &v.v14, word(m, s.14), word(m, s.15))
    }

    /// Little-endian message word `index` of the block at `m`.
    @inline(__always)
    private static func word(_ m: UnsafeRawPointer, _ index: Int) -> UInt64 {
        UInt64(littleEndian: m.loadUnaligned(fromByteOffset: index &* 8, as: UInt64.self))
    }

    /// The mixing function G with rotation constants (32, 24, 16, 63).
    @inline(__always)
    private static func mix(
        _ a: inout UInt64, _ b: inout UInt64, _ c: inout UInt64, _ d: inout UInt64,
        _ x: UInt64, _ y: UInt64
    ) {
        a = a &+ b &+ x
        d = rotateRight(d ^ a, 32)
        c = c &+ d
        b = rotateRight(b ^ c, 24)
        a = a &+ b &+ y
        d = rotateRight(d ^ a, 16)
        c = c &+ d
        b = rotateRight(b ^ c, 63)
    }

    @inline(__always)
    private static func rotateRight(_ x: UInt64, _ n: UInt64) -> UInt64 {
        (x &>> n) | (x &<< (64 &- n))
    }
}
