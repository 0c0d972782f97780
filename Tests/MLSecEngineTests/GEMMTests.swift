// Tests of GEMM.sgemm against a naive double-precision product: shapes, transposes, scalars, strides, kernels.
// Built only once Package.swift declares the CMLSecKernels target (they test GEMM.swift's kernel).

import MLSecEngine
import Testing

/// A row-major matrix with a leading dimension, stored with sentinel-filled padding columns.
private struct Matrix {
    var rows: Int
    var columns: Int
    var ld: Int
    var data: [Float]

    static let padding: Float = 12345

    /// A matrix of values in [-1, 1) from a small deterministic generator, padded to `ld` columns.
    init(rows: Int, columns: Int, ld: Int, seed: inout UInt64) {
        self.rows = rows
        self.columns = columns
        self.ld = ld
        data = [Float](repeating: Matrix.padding, count: max(rows * ld, 1))
        for i in 0..<rows {
            for j in 0..<columns {
                seed = seed &* 6364136223846793005 &+ 1442695040888963407
                data[i * ld + j] = Float(Int(truncatingIfNeeded: seed >> 40) % 2048) / 1024 - 1
            }
        }
    }

    subscript(i: Int, j: Int) -> Float {
        get { data[i * ld + j] }
        set { data[i * ld + j] = newValue }
    }
}

/// One product to check: shape, transposes, scalars and how many padding columns each operand gets.
private struct Case: CustomStringConvertible {
    var m: Int
    var n: Int
    var k: Int
    var transposeA = false
    var transposeB = false
    var alpha: Float = 1
    var beta: Float = 0
    var pad = 0
    var nanC = false

    var description: String {
        "\(m)x\(n)x\(k) tA=\(transposeA) tB=\(transposeB) alpha=\(alpha) beta=\(beta) pad=\(pad) nanC=\(nanC)"
    }
}

/// Runs `sgemm` on random operands for `test` and returns the result next to the reference and its error bound
/// (both empty unless `withReference`).
private func run(_ test: Case, threads: Int?, forcePortable: Bool, withReference: Bool = true)
    -> (c: Matrix, reference: [Double], bound: [Double]) {
    var seed = UInt64(test.m * 1_000_003 + test.n * 1009 + test.k)
    let a = test.transposeA
        ? Matrix(rows: test.k, columns: test.m, ld: test.m + test.pad, seed: &seed)
        : Matrix(rows: test.m, columns: test.k, ld: test.k + test.pad, seed: &seed)
    let b = test.transposeB
        ? Matrix(rows: test.n, columns: test.k, ld: test.k + test.pad, seed: &seed)
        : Matrix(rows: test.k, columns: test.n, ld: test.n + test.pad, seed: &seed)
    var c = Matrix(rows: test.m, columns: test.n, ld: test.n + 2 * test.pad, seed: &seed)
    if test.nanC {
        for i in 0..<test.m {
            for j in 0..<test.n { c[i, j] = .nan }
        }
    }

    var reference = [Double](repeating: 0, count: withReference ? test.m * test.n : 0)
    var bound = reference
    let epsilon = Double(Float.ulpOfOne)
    for i in 0..<(withReference ? test.m : 0) {
        for j in 0..<test.n {
            var sum = 0.0
            var magnitude = 0.0
            for p in 0..<test.k {
                let x = Double(test.transposeA ? a[p, i] : a[i, p])
                let y = Double(test.transposeB ? b[j, p] : b[p, j])
                sum += x * y
                magnitude += abs(x * y)
            }
            let alpha = Double(test.alpha)
            let beta = Double(test.beta)
            let old = test.beta == 0 ? 0 : Double(c[i, j])
            reference[i * test.n + j] = alpha * sum + beta * old
            bound[i * test.n + j] = Double(test.k + 4) * epsilon * (abs(alpha) * magnitude + abs(beta * old)) + 1e-30
        }
    }

    a.data.withUnsafeBufferPointer { aBuffer in
        b.data.withUnsafeBufferPointer { bBuffer in
            c.data.withUnsafeMutableBufferPointer { cBuffer in
                GEMM.sgemm(transposeA: test.transposeA, transposeB: test.transposeB, m: test.m, n: test.n, k: test.k,
                           alpha: test.alpha, a: aBuffer.baseAddress!, lda: a.ld, b: bBuffer.baseAddress!, ldb: b.ld,
                           beta: test.beta, c: cBuffer.baseAddress!, ldc: c.ld, threads: threads,
                           forcePortable: forcePortable)
            }
        }
    }
    return (c, reference, bound)
}

/// Checks every element of C against the reference and that the padding columns of C were not written.
private func check(_ test: Case, threads: Int? = nil, forcePortable: Bool) {
    let (c, reference, bound) = run(test, threads: threads, forcePortable: forcePortable)
    var bad = 0
    for i in 0..<test.m {
        for j in 0..<test.n {
            let got = Double(c[i, j])
            let want = reference[i * test.n + j]
            if !(abs(got - want) <= bound[i * test.n + j]) {
                if bad < 3 {
                    let setting = "portable=\(forcePortable) threads=\(threads.map(String.init) ?? "all")"
                    Issue.record("\(test) \(setting): C[\(i),\(j)] = \(got), want \(want)")
                }
                bad += 1
            }
        }
        for j in test.n..<c.ld where c[i, j] != Matrix.padding {
            Issue.record("\(test): padding C[\(i),\(j)] was overwritten")
        }
    }
    #expect(bad == 0, "\(test): \(bad) wrong elements")
}

/// Shapes around the kernel's 6x16 register tile and its 144 x 256 cache blocks, plus the engine's own.
private let shapes: [(Int, Int, Int)] = [
    (1, 1, 1), (1, 17, 1), (17, 1, 3), (2, 3, 1), (5, 7, 2), (6, 16, 8), (7, 13, 17), (12, 32, 9), (13, 31, 300),
    (6, 16, 256), (11, 17, 257), (64, 64, 64), (64, 128, 64), (32, 128, 784), (145, 33, 513), (257, 129, 65),
]

@Suite struct GEMMTests {
    @Test func kernelNameIsKnown() {
        #expect(["avx2+fma", "portable"].contains(GEMM.kernelName))
    }

    @Test(arguments: [false, true])
    func matchesNaiveProductForAllTransposes(forcePortable: Bool) {
        for (m, n, k) in shapes {
            for transposeA in [false, true] {
                for transposeB in [false, true] {
                    check(Case(m: m, n: n, k: k, transposeA: transposeA, transposeB: transposeB),
                          forcePortable: forcePortable)
                }
            }
        }
    }

    @Test(arguments: [false, true])
    func appliesAlphaBetaAndStrides(forcePortable: Bool) {
        let scalars: [(Float, Float)] = [(1, 1), (0.5, 1), (-1.5, 0.25), (2, -1), (1, 0), (0, 0.5), (0, 0)]
        for (m, n, k) in [(7, 13, 17), (1, 1, 1), (19, 40, 270), (70, 35, 9)] {
            for (alpha, beta) in scalars {
                for (transposeA, transposeB) in [(false, false), (true, false), (false, true), (true, true)] {
                    for pad in [0, 3] {
                        check(Case(m: m, n: n, k: k, transposeA: transposeA, transposeB: transposeB, alpha: alpha,
                                   beta: beta, pad: pad), forcePortable: forcePortable)
                    }
                }
            }
        }
    }

    @Test(arguments: [false, true])
    func betaZeroIgnoresNaNInC(forcePortable: Bool) {
        for (m, n, k) in [(7, 13, 17), (64, 128, 64), (257, 129, 65), (3, 5, 0)] {
            for alpha: Float in [1, 0] {
                let test = Case(m: m, n: n, k: k, transposeA: true, alpha: alpha, beta: 0, pad: 2, nanC: true)
                let (c, _, _) = run(test, threads: nil, forcePortable: forcePortable, withReference: false)
                #expect(!c.data.contains { $0.isNaN }, "\(test)")
                check(test, forcePortable: forcePortable)
            }
        }
    }

    @Test func zeroDepthScalesC() {
        for beta: Float in [0, 1, -2] {
            check(Case(m: 9, n: 21, k: 0, alpha: 3, beta: beta, pad: 1), forcePortable: false)
            check(Case(m: 9, n: 21, k: 0, alpha: 3, beta: beta, pad: 1), forcePortable: true)
        }
    }

    @Test func emptyAndInvalidShapesLeaveCUntouched() {
        var c: [Float] = [1, 2, 3, 4]
        let a: [Float] = [1, 2, 3, 4]
        let b: [Float] = [1, 2, 3, 4]
        let calls: [(m: Int, n: Int, k: Int, lda: Int, ldb: Int, ldc: Int)] = [
            (0, 2, 2, 2, 2, 2), (2, 0, 2, 2, 2, 2), (-1, 2, 2, 2, 2, 2), (2, 2, -1, 2, 2, 2),
            (2, 2, 2, 1, 2, 2), (2, 2, 2, 2, 1, 2), (2, 2, 2, 2, 2, 1),
        ]
        for call in calls {
            a.withUnsafeBufferPointer { aBuffer in
                b.withUnsafeBufferPointer { bBuffer in
                    c.withUnsafeMutableBufferPointer { cBuffer in
                        GEMM.sgemm(transposeA: false, transposeB: false, m: call.m, n: call.n, k: call.k, alpha: 1,
                                   a: aBuffer.baseAddress!, lda: call.lda, b: bBuffer.baseAddress!, ldb: call.ldb,
                                   beta: 0, c: cBuffer.baseAddress!, ldc: call.ldc)
                    }
                }
            }
            #expect(c == [1, 2, 3, 4], "\(call)")
        }
    }

    @Test(arguments: [false, true])
    func threadedResultsMatchSingleThreadBitForBit(forcePortable: Bool) {
        // Each shape has enough work (over 8 million multiply-adds) to be split across threads: into bands
        // of rows sharing a packed B, or (too few rows for the threads) into blocks of columns, or of both
        // rows and columns (36 x 20 on 4 or 8 threads).
        let shapes = [(400, 300, 160), (64, 1200, 120), (1500, 40, 150), (257, 129, 257), (16, 32, 16384),
                      (36, 20, 23000)]
        for (m, n, k) in shapes {
            for (transposeA, transposeB) in [(false, false), (true, true)] {
                let test = Case(m: m, n: n, k: k, transposeA: transposeA, transposeB: transposeB, alpha: 0.75,
                                beta: 0.5, pad: 1)
                let single = run(test, threads: 1, forcePortable: forcePortable, withReference: false).c
                for threads in [2, 3, 4, 8] {
                    let split = run(test, threads: threads, forcePortable: forcePortable, withReference: false).c
                    #expect(split.data == single.data, "\(test) threads=\(threads)")
                }
                check(test, threads: nil, forcePortable: forcePortable)
            }
        }
    }

    @Test func portableAndDefaultKernelsAgree() {
        let test = Case(m: 150, n: 90, k: 300, transposeB: true, alpha: 1.25, beta: -0.5, pad: 5)
        let fast = run(test, threads: nil, forcePortable: false)
        let portable = run(test, threads: nil, forcePortable: true)
        for index in 0..<fast.reference.count {
            let i = index / test.n
            let j = index % test.n
            #expect(abs(Double(fast.c[i, j]) - Double(portable.c[i, j])) <= 2 * fast.bound[index])
        }
    }
}

