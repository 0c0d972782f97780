// BLAKE3 constants and the single-block (scalar) compression function, with chunk and parent helpers.

extension BLAKE3 {
    /// Bytes per compression block.
    static let blockByteCount = 64

    /// Bytes per chunk (16 blocks), the leaves of the BLAKE3 tree.
    static let chunkByteCount = 1024

    /// Chunks per segment (a complete subtree of 2^10 chunks).
    static let chunksPerSegment = 1024

    /// Domain-separation flags (BLAKE3 specification, table 3).
    enum Flag {
        static let chunkStart: UInt32 = 1 << 0
        static let chunkEnd: UInt32 = 1 << 1
        static let parent: UInt32 = 1 << 2
        static let root: UInt32 = 1 << 3
        static let keyedHash: UInt32 = 1 << 4
    }

    /// The initialization vector (identical to the SHA-256 initial hash value).
    static let iv = ChainingValue(
        0x6A09_E667, 0xBB67_AE85, 0x3C6E_F372, 0xA54F_F53A,
        0x510E_527F, 0x9B05_688C, 0x1F83_D9AB, 0x5BE0_CD19)

    /// The sixteen 32-bit words of a message block.
    struct MessageWords {
        var m0, m1, m2, m3, m4, m5, m6, m7: UInt32
        var m8, m9, m10, m11, m12, m13, m14, m15: UInt32

        /// Loads the 16 little-endian words of the 64-byte block at `block`.
        @inline(__always)
        init(_ block: UnsafeRawPointer) {
            m0 = BLAKE3.loadWord(block, 0)
            m1 = BLAKE3.loadWord(block, 1)
            m2 = BLAKE3.loadWord(block, 2)
            m3 = BLAKE3.loadWord(block, 3)
            m4 = BLAKE3.loadWord(block, 4)
            m5 = BLAKE3.loadWord(block, 5)
            m6 = BLAKE3.loadWord(block, 6)
            m7 = BLAKE3.loadWord(block, 7)
            m8 = BLAKE3.loadWord(block, 8)
            m9 = BLAKE3.loadWord(block, 9)
            m10 = BLAKE3.loadWord(block, 10)
            m11 = BLAKE3.loadWord(block, 11)
            m12 = BLAKE3.loadWord(block, 12)
            m13 = BLAKE3.loadWord(block, 13)
            m14 = BLAKE3.loadWord(block, 14)
            m15 = BLAKE3.loadWord(block, 15)
        }

        /// Applies the fixed message permutation used between rounds:
        /// word i of the next round is word P[i] of this one, P = (2,6,3,10,7,0,4,13,1,11,12,5,9,14,15,8).
        @inline(__always)
        mutating func permute() {
            (m0, m1, m2, m3, m4, m5, m6, m7, m8, m9, m10, m11, m12, m13, m14, m15) =
                (m2, m6, m3, m10, m7, m0, m4, m13, m1, m11, m12, m5, m9, m14, m15, m8)
        }
    }

    /// The 16-word working state of one compression.
    struct WorkingState {
        var v0, v1, v2, v3, v4, v5, v6, v7: UInt32
        var v8, v9, v10, v11, v12, v13, v14, v15: UInt32
    }

    /// Little-endian 32-bit word `index` of the bytes at `pointer`.
    @inline(__always)
    static func loadWord(_ pointer: UnsafeRawPointer, _ index: Int) -> UInt32 {
        UInt32(littleEndian: pointer.loadUnaligned(fromByteOffset: index &* 4, as: UInt32.self))
    }

    /// The compression function: returns the full 16-word output, split into the first eight
    /// words (the new chaining value) and the last eight (the extended-output half).
    @inline(__always)
    static func compress(
        _ cv: ChainingValue, _ block: UnsafeRawPointer,
        counter: UInt64, blockLength: UInt32, flags: UInt32
    ) -> (low: ChainingValue, high: ChainingValue) {
        var s = WorkingState(
            v0: cv[0], v1: cv[1], v2: cv[2], v3: cv[3], v4: cv[4], v5: cv[5], v6: cv[6], v7: cv[7],
            v8: iv[0], v9: iv[1], v10: iv[2], v11: iv[3],
            v12: UInt32(truncatingIfNeeded: counter), v13: UInt32(truncatingIfNeeded: counter >> 32),
            v14: blockLength, v15: flags)
        var m = MessageWords(block)
        round(&s, m)
        m.permute()
        round(&s, m)
        m.permute()
        round(&s, m)
        m.permute()
        round(&s, m)
        m.permute()
        round(&s, m)
        m.permute()
        round(&s, m)
        m.permute()
        round(&s, m)
        let low = ChainingValue(
            s.v0 ^ s.v8, s.v1 ^ s.v9, s.v2 ^ s.v10, s.v3 ^ s.v11,
            s.v4 ^ s.v12, s.v5 ^ s.v13, s.v6 ^ s.v14, s.v7 ^ s.v15)
        let high = ChainingValue(s.v8, s.v9, s.v10, s.v11, s.v12, s.v13, s.v14, s.v15) ^ cv
        return (low, high)
    }

    /// Chaining value produced by compressing one block.
    @inline(__always)
    static func compressCV(
        _ cv: ChainingValue, _ block: UnsafeRawPointer,
        counter: UInt64, blockLength: UInt32, flags: UInt32
    ) -> ChainingValue {
        compress(cv, block, counter: counter, blockLength: blockLength, flags: flags).low
    }

    /// One round: G on the four columns, then on the four diagonals.
    @inline(__always)
    private static func round(_ s: inout WorkingState, _ m: MessageWords) {
        mix(&s.v0, &s.v4, &s.v8, &s.v12, m.m0, m.m1)
        mix(&s.v1, &s.v5, &s.v9, &s.v13, m.m2, m.m3)
        mix(&s.v2, &s.v6, &s.v10, &s.v14, m.m4, m.m5)
        mix(&s.v3, &s.v7, &s.v11, &s.v15, m.m6, m.m7)
        mix(&s.v0, &s.v5, &s.v10, &s.v15, m.m8, m.m9)
        mix(&s.v1, &s.v6, &s.v11, &s.v12, m.m10, m.m11)
        mix(&s.v2, &s.v7, &s.v8, &s.v13, m.m12, m.m13)
        mix(&s.v3, &s.v4, &s.v9, &s.v14, m.m14, m.m15)
    }

    /// The quarter-round G with rotation constants (16, 12, 8, 7).
    @inline(__always)
    private static func mix(
        _ a: inout UInt32, _ b: inout UInt32, _ c: inout UInt32, _ d: inout UInt32,
        _ x: UInt32, _ y: UInt32
    ) {
        a = a &+ b &+ x
        d = rotateRight(d ^ a, 16)
        c = c &+ d
        b = rotateRight(b ^ c, 12)
        a = a &+ b &+ y
        d = rotateRight(d ^ a, 8)
        c = c &+ d
        b = rotateRight(b ^ c, 7)
    }

    @inline(__always)
    private static func rotateRight(_ x: UInt32, _ n: UInt32) -> UInt32 {
        (x &>> n) | (x &<< (32 &- n))
    }

    /// Chaining value of one complete (1024-byte), non-root chunk.
    static func chunkCV(
        _ chunk: UnsafeRawPointer, counter: UInt64, key: ChainingValue, flags: UInt32
    ) -> ChainingValue {
        var cv = key
        var block = chunk
        for index in 0..<(chunkByteCount / blockByteCount) {
            var blockFlags = flags
            if index == 0 { blockFlags |= Flag.chunkStart }
            if index == chunkByteCount / blockByteCount - 1 { blockFlags |= Flag.chunkEnd }
            cv = compressCV(cv, block, counter: counter, blockLength: 64, flags: blockFlags)
            block += blockByteCount
        }
        return cv
    }

    /// Chaining value of a non-root parent node with children `left` and `right`.
    static func parentCV(
        _ left: ChainingValue, _ right: ChainingValue, key: ChainingValue, flags: UInt32
    ) -> ChainingValue {
        withUnsafeBytes(of: PendingBlock(left: left, right: right)) { block in
            compressCV(
                key, block.baseAddress.unsafelyUnwrapped,
                counter: 0, blockLength: UInt32(blockByteCount), flags: flags | Flag.parent)
        }
    }

    /// `words` with each lane stored little-endian (a no-op on little-endian hosts), so that
    /// its in-memory bytes are the canonical serialization.
    @inline(__always)
    static func littleEndianWords(_ words: ChainingValue) -> ChainingValue {
        #if _endian(little)
        return words
        #else
        var swapped = words
        for index in swapped.indices { swapped[index] = words[index].littleEndian }
        return swapped
        #endif
    }
}
