// GEMM: single-precision matrix multiply on the packed, register-blocked C kernel, split across threads.

import CMLSecKernels
import Dispatch
import Foundation

/// Single-precision general matrix multiply (SGEMM) for row-major matrices.
///
/// The arithmetic runs in the `CMLSecKernels` C target: operands are packed into cache-sized panels and
/// multiplied by a register-tiled micro-kernel, AVX2+FMA where the CPU has it (chosen at run time) and
/// portable C elsewhere. Large products are split across threads: into bands of rows that share one packed
/// copy of op(B), handed out a few per thread so that a thread that starts late (waking a thread can take
/// 100 us or more on a cloud VM) still finds work, or, when C has too few rows, into blocks of columns.
/// Results do not depend on the number of threads: every element of C is summed in the same order
/// whatever the split.
public enum GEMM {
    /// Multiply-adds (m * n * k) each thread must get before a product is split (about 50-100 us of
    /// work): below this, waking a worker thread (measured at about 100 us on a 2-vCPU cloud VM) costs more
    /// than the second core saves. 256^3 is split; 128^3 is not.
    static let minimumWorkPerThread = 1 << 22

    /// Multiply-adds each band of rows should get (about 25 us of work) beyond the first two bands per thread.
    static let minimumWorkPerBand = 1 << 20

    /// The most bands each thread gets: more bands balance better, but each band streams the whole packed B
    /// from the last-level cache again.
    static let bandsPerThread = 4

    /// The largest op(B), in floats, packed once and shared (64 MiB); larger ones are split by blocks.
    static let maximumSharedB = 1 << 24

    /// C[m x n] = alpha * op(A)[m x k] * op(B)[k x n] + beta * C, row-major with leading dimensions.
    ///
    /// op(A) is A, stored m x k with row stride `lda` >= k, or (`transposeA`) A^T with A stored k x m and
    /// `lda` >= m. op(B) is B, stored k x n with `ldb` >= n, or (`transposeB`) B^T with B stored n x k and
    /// `ldb` >= k. C is m x n with `ldc` >= n. When `beta` is 0, C is only written, so NaN or garbage in C
    /// is ignored; when `k` is 0 or `alpha` is 0, C becomes beta * C.
    ///
    /// Nothing happens when `m` or `n` is 0, or when a dimension is negative or a leading dimension is
    /// too small (the call returns without touching C). Callers pass valid pointers for the extents above.
    ///
    /// - Parameters:
    ///   - threads: The most threads to use; nil means every active core (as counted when the process first
    ///     needed it). Small products (fewer than about four million multiply-adds per thread, e.g.
    ///     128 x 128 x 128) run on the calling thread.
    ///   - forcePortable: Runs the portable C kernel even where the AVX2+FMA kernel could, for tests and
    ///     comparisons. Results agree with the default kernel up to float rounding.
    public static func sgemm(transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Float,
                             a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                             beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int, threads: Int? = nil,
                             forcePortable: Bool = false) {
        guard m > 0, n > 0, k >= 0 else { return }
        guard lda >= max(1, transposeA ? m : k), ldb >= max(1, transposeB ? k : n), ldc >= n else { return }

        let operands = Operands(transposeA: transposeA, transposeB: transposeB, n: n, k: k, alpha: alpha, a: a,
                                lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc,
                                forcePortable: forcePortable)
        switch plan(m: m, n: n, k: k, threads: threads) {
        case .single:
            operands.multiply(rows: 0..<m, columns: 0..<n)
        case .rowBands(let bands):
            let count = mlsec_sgemm_packed_b_count(n, k)
            let buffer = UnsafeMutableRawPointer.allocate(byteCount: count * MemoryLayout<Float>.stride,
                                                          alignment: 64)
            defer { buffer.deallocate() }
            let packed = buffer.bindMemory(to: Float.self, capacity: count)
            mlsec_sgemm_pack_b(transposeB ? 1 : 0, n, k, b, ldb, packed, forcePortable ? 1 : 0)
            let shared = PackedB(pointer: packed)
            DispatchQueue.concurrentPerform(iterations: bands) { index in
                operands.multiply(rows: part(index, of: bands, extent: m, unit: tileRows), packedB: shared)
            }
        case .blocks(let rowChunks, let columnChunks):
            DispatchQueue.concurrentPerform(iterations: rowChunks * columnChunks) { index in
                let rows = part(index / columnChunks, of: rowChunks, extent: m, unit: tileRows)
                let columns = part(index % columnChunks, of: columnChunks, extent: n, unit: tileColumns)
                operands.multiply(rows: rows, columns: columns)
            }
        }
    }

    /// Which kernel runs on this CPU ("avx2+fma" or "portable"), for benchmarks and diagnostics.
    public static var kernelName: String {
        String(cString: mlsec_sgemm_kernel_name(0))
    }

    // MARK: - Splitting work

    /// Rows of C one micro-kernel call computes; bands and blocks start on multiples of it.
    static let tileRows = mlsec_sgemm_tile_rows()

    /// Columns of C one micro-kernel call computes; blocks start on multiples of it.
    static let tileColumns = mlsec_sgemm_tile_cols()

    /// Active cores, read once: ProcessInfo reads cgroup files on Linux (about 20 us a call).
    static let activeCores = max(1, ProcessInfo.processInfo.activeProcessorCount)

    /// How one product runs.
    enum Plan: Equatable {
        /// On the calling thread.
        case single
        /// op(B) packed once, then this many bands of rows of C, handed out to threads as they come free.
        case rowBands(Int)
        /// rowChunks x columnChunks blocks of C, one per thread, each packing its own operands.
        case blocks(rowChunks: Int, columnChunks: Int)
    }

    /// Chooses how to run a product on up to `threads` threads (nil: every active core).
    static func plan(m: Int, n: Int, k: Int, threads: Int?) -> Plan {
        let work = Double(m) * Double(n) * Double(max(k, 1))
        let byWork = Int(min(work / Double(minimumWorkPerThread), 1024))
        guard byWork > 1 else { return .single }
        let rowTiles = (m + tileRows - 1) / tileRows
        let columnTiles = (n + tileColumns - 1) / tileColumns
        let count = max(1, min(threads ?? activeCores, byWork, rowTiles * columnTiles))
        guard count > 1 else { return .single }

        let packedB = Double(k) * Double(columnTiles * tileColumns)
        if k > 0, rowTiles >= 2 * count, packedB <= Double(maximumSharedB) {
            let byBandWork = Int(min(work / Double(minimumWorkPerBand), 1024))
            return .rowBands(min(rowTiles, bandsPerThread * count, max(2 * count, byBandWork)))
        }
        return blocks(rowTiles: rowTiles, columnTiles: columnTiles, count: count)
    }

    /// The block grid for at most `count` threads: the most blocks that both dimensions allow, shaped so that
    /// the largest block is smallest and, among equals, packs the least (height + width).
    static func blocks(rowTiles: Int, columnTiles: Int, count: Int) -> Plan {
        var count = count
        while count > 1 {
            var best = Plan.single
            var bestCost = Double.infinity
            for rowChunks in 1...count where count % rowChunks == 0 {
                let columnChunks = count / rowChunks
                guard rowChunks <= rowTiles, columnChunks <= columnTiles else { continue }
                let height = Double((rowTiles + rowChunks - 1) / rowChunks * tileRows)
                let width = Double((columnTiles + columnChunks - 1) / columnChunks * tileColumns)
                let cost = height * width + height + width
                if cost < bestCost {
                    bestCost = cost
                    best = .blocks(rowChunks: rowChunks, columnChunks: columnChunks)
                }
            }
            if best != .single { return best }
            count -= 1
        }
        return .single
    }

    /// The part of 0..<extent that part `index` of `parts` covers, in whole units (tiles), as even as can be.
    static func part(_ index: Int, of parts: Int, extent: Int, unit: Int) -> Range<Int> {
        let units = (extent + unit - 1) / unit
        let lower = min(extent, units * index / parts * unit)
        let upper = min(extent, units * (index + 1) / parts * unit)
        return lower..<upper
    }

    /// A packed op(B) that threads read concurrently. Unchecked-Sendable: nobody writes it while they run.
    struct PackedB: @unchecked Sendable {
        var pointer: UnsafePointer<Float>

        init(pointer: UnsafeMutablePointer<Float>) {
            self.pointer = UnsafePointer(pointer)
        }
    }

    /// The operands of one product, shared read-only by the threads that compute its blocks.
    ///
    /// Unchecked-Sendable: the pointers are only read, except C, and each thread writes a disjoint block.
    struct Operands: @unchecked Sendable {
        var transposeA: Bool
        var transposeB: Bool
        var n: Int
        var k: Int
        var alpha: Float
        var a: UnsafePointer<Float>
        var lda: Int
        var b: UnsafePointer<Float>
        var ldb: Int
        var beta: Float
        var c: UnsafeMutablePointer<Float>
        var ldc: Int
        var forcePortable: Bool

        /// The start of rows `i...` of op(A).
        func rowsOfA(from i: Int) -> UnsafePointer<Float> {
            transposeA ? a + i : a + i * lda
        }

        /// Computes the block rows x columns of C on the calling thread.
        func multiply(rows: Range<Int>, columns: Range<Int>) {
            guard !rows.isEmpty, !columns.isEmpty else { return }
            let i = rows.lowerBound
            let j = columns.lowerBound
            let bBlock = transposeB ? b + j * ldb : b + j
            mlsec_sgemm(transposeA ? 1 : 0, transposeB ? 1 : 0, rows.count, columns.count, k, alpha, rowsOfA(from: i),
                        lda, bBlock, ldb, beta, c + i * ldc + j, ldc, forcePortable ? 1 : 0)
        }

        /// Computes the band `rows` of C (all columns) from op(B) packed whole, on the calling thread.
        func multiply(rows: Range<Int>, packedB: PackedB) {
            guard !rows.isEmpty else { return }
            let i = rows.lowerBound
            mlsec_sgemm_packed(transposeA ? 1 : 0, rows.count, n, k, alpha, rowsOfA(from: i), lda,
                               packedB.pointer, beta, c + i * ldc, ldc, forcePortable ? 1 : 0)
        }
    }
}

