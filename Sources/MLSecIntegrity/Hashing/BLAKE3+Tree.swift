// BLAKE3 multi-lane hashing: several chunks or parent nodes compressed at once in SIMD lanes, and whole subtrees.

extension BLAKE3 {
    /// One 32-bit word from each of `laneCount` independent inputs.
    typealias Lane = SIMD4<UInt32>

    /// Number of inputs compressed together.
    static let laneCount = Lane.scalarCount

    /// The 16-word working state, one input per lane.
    struct LaneState {
        var v0, v1, v2, v3, v4, v5, v6, v7: Lane
        var v8, v9, v10, v11, v12, v13, v14, v15: Lane
    }

    /// Eight chaining-value words, one input per lane.
    struct LaneChainingValue {
        var c0, c1, c2, c3, c4, c5, c6, c7: Lane
    }

    /// Sixteen message words, one input per lane (the transposed message blocks).
    struct LaneMessage {
        var m0, m1, m2, m3, m4, m5, m6, m7: Lane
        var m8, m9, m10, m11, m12, m13, m14, m15: Lane

        /// Loads block bytes `[offset, offset + 64)` of the four inputs `p0`...`p3` and
        /// transposes them so that `m<i>` holds word i of every input.
        @inline(__always)
        init(
            _ input0: UnsafeRawPointer, _ input1: UnsafeRawPointer,
            _ input2: UnsafeRawPointer, _ input3: UnsafeRawPointer, offset: Int
        ) {
            let p0 = input0 + offset
            let p1 = input1 + offset
            let p2 = input2 + offset
            let p3 = input3 + offset
            (m0, m1, m2, m3) = BLAKE3.transpose(
                BLAKE3.loadLane(p0, 0), BLAKE3.loadLane(p1, 0), BLAKE3.loadLane(p2, 0), BLAKE3.loadLane(p3, 0))
            (m4, m5, m6, m7) = BLAKE3.transpose(
                BLAKE3.loadLane(p0, 16), BLAKE3.loadLane(p1, 16), BLAKE3.loadLane(p2, 16), BLAKE3.loadLane(p3, 16))
            (m8, m9, m10, m11) = BLAKE3.transpose(
                BLAKE3.loadLane(p0, 32), BLAKE3.loadLane(p1, 32), BLAKE3.loadLane(p2, 32), BLAKE3.loadLane(p3, 32))
            (m12, m13, m14, m15) = BLAKE3.transpose(
                BLAKE3.loadLane(p0, 48), BLAKE3.loadLane(p1, 48), BLAKE3.loadLane(p2, 48), BLAKE3.loadLane(p3, 48))
        }

        /// The message permutation applied between rounds (see `MessageWords.permute`).
        @inline(__always)
        mutating func permute() {
            (m0, m1, m2, m3, m4, m5, m6, m7, m8, m9, m10, m11, m12, m13, m14, m15) =
                (m2, m6, m3, m10, m7, m0, m4, m13, m1, m11, m12, m5, m9, m14, m15, m8)
        }
    }

    /// Splatted constants used by the lane compression, built once per `hashLanes` call. With
    /// optimization they fold into immediates; unoptimized (debug) builds are spared the generic
    /// scalar-to-vector splat loop that `vector &>> scalar` would run for every shift.
    struct LaneConstants {
        let iv0, iv1, iv2, iv3: Lane
        let fullBlockLength: Lane
        let pow16, pow20, pow24, pow25: Lane

        @inline(__always)
        init() {
            iv0 = Lane(repeating: BLAKE3.iv[0])
            iv1 = Lane(repeating: BLAKE3.iv[1])
            iv2 = Lane(repeating: BLAKE3.iv[2])
            iv3 = Lane(repeating: BLAKE3.iv[3])
            fullBlockLength = Lane(repeating: UInt32(BLAKE3.blockByteCount))
            pow16 = Lane(repeating: 1 << 16)
            pow20 = Lane(repeating: 1 << 20)
            pow24 = Lane(repeating: 1 << 24)
            pow25 = Lane(repeating: 1 << 25)
        }
    }

    /// Four consecutive little-endian words at `pointer + offset`.
    @inline(__always)
    static func loadLane(_ pointer: UnsafeRawPointer, _ offset: Int) -> Lane {
        let words = pointer.loadUnaligned(fromByteOffset: offset, as: Lane.self)
        #if _endian(little)
        return words
        #else
        return Lane(words[0].littleEndian, words[1].littleEndian, words[2].littleEndian, words[3].littleEndian)
        #endif
    }

    /// Transposes the 4x4 word matrix whose rows are `a`, `b`, `c`, `d`.
    @inline(__always)
    static func transpose(_ a: Lane, _ b: Lane, _ c: Lane, _ d: Lane) -> (Lane, Lane, Lane, Lane) {
        let ab01 = Lane(a[0], b[0], a[1], b[1])
        let ab23 = Lane(a[2], b[2], a[3], b[3])
        let cd01 = Lane(c[0], d[0], c[1], d[1])
        let cd23 = Lane(c[2], d[2], c[3], d[3])
        return (
            Lane(ab01[0], ab01[1], cd01[0], cd01[1]),
            Lane(ab01[2], ab01[3], cd01[2], cd01[3]),
            Lane(ab23[0], ab23[1], cd23[0], cd23[1]),
            Lane(ab23[2], ab23[3], cd23[2], cd23[3]))
    }

    /// Compresses one block in every lane, replacing `cv` with the new chaining values.
    @inline(__always)
    static func compressLanes(
        _ cv: inout LaneChainingValue, _ message: LaneMessage, _ k: LaneConstants,
        counterLow: Lane, counterHigh: Lane, flags: Lane
    ) {
        var s = LaneState(
            v0: cv.c0, v1: cv.c1, v2: cv.c2, v3: cv.c3, v4: cv.c4, v5: cv.c5, v6: cv.c6, v7: cv.c7,
            v8: k.iv0, v9: k.iv1, v10: k.iv2, v11: k.iv3,
            v12: counterLow, v13: counterHigh, v14: k.fullBlockLength, v15: flags)
        var m = message
        roundLanes(&s, m, k)
        m.permute()
        roundLanes(&s, m, k)
        m.permute()
        roundLanes(&s, m, k)
        m.permute()
        roundLanes(&s, m, k)
        m.permute()
        roundLanes(&s, m, k)
        m.permute()
        roundLanes(&s, m, k)
        m.permute()
        roundLanes(&s, m, k)
        cv.c0 = s.v0 ^ s.v8
        cv.c1 = s.v1 ^ s.v9
        cv.c2 = s.v2 ^ s.v10
        cv.c3 = s.v3 ^ s.v11
        cv.c4 = s.v4 ^ s.v12
        cv.c5 = s.v5 ^ s.v13
        cv.c6 = s.v6 ^ s.v14
        cv.c7 = s.v7 ^ s.v15
    }

    @inline(__always)
    private static func roundLanes(_ s: inout LaneState, _ m: LaneMessage, _ k: LaneConstants) {
        mixLanes(&s.v0, &s.v4, &s.v8, &s.v12, m.m0, m.m1, k)
        mixLanes(&s.v1, &s.v5, &s.v9, &s.v13, m.m2, m.m3, k)
        mixLanes(&s.v2, &s.v6, &s.v10, &s.v14, m.m4, m.m5, k)
        mixLanes(&s.v3, &s.v7, &s.v11, &s.v15, m.m6, m.m7, k)
        mixLanes(&s.v0, &s.v5, &s.v10, &s.v15, m.m8, m.m9, k)
        mixLanes(&s.v1, &s.v6, &s.v11, &s.v12, m.m10, m.m11, k)
        mixLanes(&s.v2, &s.v7, &s.v8, &s.v13, m.m12, m.m13, k)
        mixLanes(&s.v3, &s.v4, &s.v9, &s.v14, m.m14, m.m15, k)
    }

    /// G applied lane-wise.
    @inline(__always)
    private static func mixLanes(
        _ a: inout Lane, _ b: inout Lane, _ c: inout Lane, _ d: inout Lane,
        _ x: Lane, _ y: Lane, _ k: LaneConstants
    ) {
        a = a &+ b &+ x
        d = rotateRight(xor(d, a), 16, k.pow16)
        c = c &+ d
        b = rotateRight(xor(b, c), 12, k.pow20)
        a = a &+ b &+ y
        d = rotateRight(xor(d, a), 8, k.pow24)
        c = c &+ d
        b = rotateRight(xor(b, c), 7, k.pow25)
    }

    /// Lane-wise exclusive or, written per element. With optimization LLVM emits one `pxor`;
    /// unoptimized builds avoid the generic SIMD `^`, which runs a checked loop over lanes.
    @inline(__always)
    private static func xor(_ a: Lane, _ b: Lane) -> Lane {
        Lane(a[0] ^ b[0], a[1] ^ b[1], a[2] ^ b[2], a[3] ^ b[3])
    }

    /// Lane-wise rotation right by `n`, where `leftMultiplier` is 2^(32-n).
    ///
    /// SSE2 has no vector rotate, so this is a right shift plus a left shift (a wrapping
    /// multiply by a power of two, which LLVM turns into `pslld`) joined with `&+` (the bits are
    /// disjoint). Joined with `|`, LLVM fuses the pair into a rotate that it then scalarizes.
    @inline(__always)
    private static func rotateRight(_ x: Lane, _ n: UInt32, _ leftMultiplier: Lane) -> Lane {
        Lane(x[0] &>> n, x[1] &>> n, x[2] &>> n, x[3] &>> n) &+ (x &* leftMultiplier)
    }

    /// Hashes `inputCount` (1...`laneCount`, default all) inputs at `input + k * stride` in
    /// parallel, each `blockCount` blocks long (16 for chunks, 1 for parent nodes), and stores
    /// their chaining values consecutively (32 bytes each, little-endian words) at `output`.
    /// Spare lanes recompute the last input; `output` must have room for `laneCount` values.
    ///
    /// Lane k uses counter `counter + k * counterStep`. `startFlags` is added on the first
    /// block, `endFlags` on the last.
    static func hashLanes(
        _ input: UnsafeRawPointer, stride: Int, inputCount: Int = laneCount, blockCount: Int,
        key: ChainingValue, counter: UInt64, counterStep: UInt64,
        flags: UInt32, startFlags: UInt32, endFlags: UInt32,
        output: UnsafeMutableRawPointer
    ) {
        precondition((1...laneCount).contains(inputCount))
        let input0 = input
        let input1 = input + min(1, inputCount - 1) * stride
        let input2 = input + min(2, inputCount - 1) * stride
        let input3 = input + min(3, inputCount - 1) * stride
        var cv = LaneChainingValue(
            c0: Lane(repeating: key[0]), c1: Lane(repeating: key[1]),
            c2: Lane(repeating: key[2]), c3: Lane(repeating: key[3]),
            c4: Lane(repeating: key[4]), c5: Lane(repeating: key[5]),
            c6: Lane(repeating: key[6]), c7: Lane(repeating: key[7]))
        let counters = SIMD4<UInt64>(
            counter, counter &+ counterStep, counter &+ 2 &* counterStep, counter &+ 3 &* counterStep)
        let counterLow = Lane(truncatingIfNeeded: counters)
        let counterHigh = Lane(truncatingIfNeeded: counters &>> 32)
        let constants = LaneConstants()
        for block in 0..<blockCount {
            var blockFlags = flags
            if block == 0 { blockFlags |= startFlags }
            if block == blockCount - 1 { blockFlags |= endFlags }
            let message = LaneMessage(input0, input1, input2, input3, offset: block &* blockByteCount)
            compressLanes(
                &cv, message, constants, counterLow: counterLow, counterHigh: counterHigh,
                flags: Lane(repeating: blockFlags))
        }
        let (a0, a1, a2, a3) = transpose(cv.c0, cv.c1, cv.c2, cv.c3)
        let (b0, b1, b2, b3) = transpose(cv.c4, cv.c5, cv.c6, cv.c7)
        storeLane(a0, output, 0)
        storeLane(b0, output, 16)
        storeLane(a1, output, 32)
        storeLane(b1, output, 48)
        storeLane(a2, output, 64)
        storeLane(b2, output, 80)
        storeLane(a3, output, 96)
        storeLane(b3, output, 112)
    }

    /// Stores four words little-endian at `pointer + offset`.
    @inline(__always)
    static func storeLane(_ words: Lane, _ pointer: UnsafeMutableRawPointer, _ offset: Int) {
        #if _endian(little)
        pointer.storeBytes(of: words, toByteOffset: offset, as: Lane.self)
        #else
        let swapped = Lane(words[0].littleEndian, words[1].littleEndian, words[2].littleEndian, words[3].littleEndian)
        pointer.storeBytes(of: swapped, toByteOffset: offset, as: Lane.self)
        #endif
    }

    /// Chaining value of the complete, non-root subtree over `chunkCount` whole chunks at
    /// `input`, whose first chunk has counter `firstChunk`.
    ///
    /// `chunkCount` must be a power of two no larger than `chunksPerSegment`; the subtree is
    /// then a single BLAKE3 tree node (its left and right halves are again such subtrees).
    static func subtreeCV(
        _ input: UnsafeRawPointer, chunkCount: Int, firstChunk: UInt64,
        key: ChainingValue, flags: UInt32
    ) -> ChainingValue {
        precondition(chunkCount > 0 && chunkCount & (chunkCount - 1) == 0 && chunkCount <= chunksPerSegment)
        if chunkCount == 1 {
            return chunkCV(input, counter: firstChunk, key: key, flags: flags)
        }
        let cvByteCount = MemoryLayout<ChainingValue>.size
        // Room for at least `laneCount` values: `hashLanes` always stores a full set of lanes.
        let slotCount = max(chunkCount, laneCount)
        return withUnsafeTemporaryAllocation(byteCount: slotCount * cvByteCount, alignment: 16) { buffer in
            let cvs = buffer.baseAddress.unsafelyUnwrapped
            // Leaves: chaining values of every chunk, up to laneCount chunks at a time.
            var chunk = 0
            while chunk < chunkCount {
                let count = min(laneCount, chunkCount - chunk)
                hashLanes(
                    input + chunk * chunkByteCount, stride: chunkByteCount, inputCount: count, blockCount: 16,
                    key: key, counter: firstChunk &+ UInt64(chunk), counterStep: 1,
                    flags: flags, startFlags: Flag.chunkStart, endFlags: Flag.chunkEnd,
                    output: cvs + chunk * cvByteCount)
                chunk += count
            }
            // Parents, one level at a time, in place: parent p reads slots 2p and 2p+1 (which
            // are adjacent, forming its 64-byte block) and overwrites slot p. A batch loads all
            // of its inputs before storing, and later batches only read slots beyond it.
            var nodeCount = chunkCount
            while nodeCount > 1 {
                let parentCount = nodeCount / 2
                var parent = 0
                while parent < parentCount {
                    let count = min(laneCount, parentCount - parent)
                    if count == 1 {
                        // A single node: the scalar path is faster than one busy lane.
                        let cv = compressCV(
                            key, cvs + parent * 2 * cvByteCount,
                            counter: 0, blockLength: UInt32(blockByteCount), flags: flags | Flag.parent)
                        cvs.storeBytes(of: littleEndianWords(cv), toByteOffset: parent * cvByteCount, as: ChainingValue.self)
                    } else {
                        hashLanes(
                            cvs + parent * 2 * cvByteCount, stride: 2 * cvByteCount, inputCount: count, blockCount: 1,
                            key: key, counter: 0, counterStep: 0,
                            flags: flags | Flag.parent, startFlags: 0, endFlags: 0,
                            output: cvs + parent * cvByteCount)
                    }
                    parent += count
                }
                nodeCount = parentCount
            }
            return littleEndianWords(cvs.load(as: ChainingValue.self))
        }
    }
}
