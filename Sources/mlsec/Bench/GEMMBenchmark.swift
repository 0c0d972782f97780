// GEMMBenchmark: GFLOP/s of GEMM.sgemm on square matrices, for `mlsec bench` and kernel tuning.

import MLSecEngine

extension GEMM {
    /// Measures `sgemm` (no transposes, alpha 1, beta 0) on square n x n matrices, one size at a time.
    ///
    /// Each size gets one untimed warm-up call, then `repeats` timed rounds; a round repeats the product
    /// enough times to last about 50 ms so that small sizes are timed reliably. The result for a size is
    /// the median round, in GFLOP/s counting 2 * n^3 floating-point operations per product.
    ///
    /// - Parameters:
    ///   - sizes: Matrix orders to measure; sizes below 1 are skipped.
    ///   - repeats: Timed rounds per size (at least 1 is run).
    ///   - threads: As for `sgemm`: the most threads to use, nil for every active core.
    ///   - forcePortable: Measures the portable kernel instead of the fastest one this CPU supports.
    /// - Returns: One entry per measured size, in the order given.
    static func benchmark(sizes: [Int], repeats: Int, threads: Int? = nil,
                                 forcePortable: Bool = false) -> [(size: Int, gflops: Double)] {
        var results: [(size: Int, gflops: Double)] = []
        let clock = ContinuousClock()
        for size in sizes where size > 0 {
            let count = size * size
            let a = UnsafeMutablePointer<Float>.allocate(capacity: count)
            let b = UnsafeMutablePointer<Float>.allocate(capacity: count)
            let c = UnsafeMutablePointer<Float>.allocate(capacity: count)
            defer {
                a.deallocate()
                b.deallocate()
                c.deallocate()
            }
            for index in 0..<count {
                a[index] = Float(index % 17) * 0.125 - 1
                b[index] = Float(index % 13) * 0.25 - 1.5
                c[index] = 0
            }
            func run(_ times: Int) -> Double {
                let elapsed = clock.measure {
                    for _ in 0..<times {
                        sgemm(transposeA: false, transposeB: false, m: size, n: size, k: size, alpha: 1, a: a,
                              lda: size, b: b, ldb: size, beta: 0, c: c, ldc: size, threads: threads,
                              forcePortable: forcePortable)
                    }
                }
                let parts = elapsed.components
                return Double(parts.seconds) + Double(parts.attoseconds) * 1e-18
            }
            let once = max(run(1), 1e-7)
            let times = max(1, Int(0.05 / once))
            var rates: [Double] = []
            for _ in 0..<max(1, repeats) {
                let seconds = max(run(times), 1e-9)
                rates.append(2 * Double(size) * Double(size) * Double(size) * Double(times) / seconds / 1e9)
            }
            rates.sort()
            let middle = rates.count / 2
            let median = rates.count % 2 == 1 ? rates[middle] : (rates[middle - 1] + rates[middle]) / 2
            results.append((size: size, gflops: median))
        }
        return results
    }
}

