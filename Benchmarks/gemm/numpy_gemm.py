#!/usr/bin/env python3
"""NumPy float32 matmul GFLOP/s on square matrices, as JSON, for comparison with MLSec's GEMM.

Measures numpy.matmul(a, b, out=c) the way GEMM.benchmark measures GEMM.sgemm: one untimed warm-up, then
--repeats rounds that each repeat the product for about 50 ms; a size's result is the median round, counting
2 * n^3 floating-point operations per product. Each --threads value caps BLAS threads with threadpoolctl.

Usage: numpy_gemm.py [--sizes 64,128,256,512,1024] [--repeats 5] [--threads 1,2]
Prints {"numpy": version, "threadpools": threadpoolctl.threadpool_info(),
        "results": [{"threads": t, "size": n, "gflops": g}, ...]}.
Unset OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE for this command if the environment sets them: they pin
OpenBLAS to a slower kernel (`env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python3 numpy_gemm.py`).
"""
import argparse
import json
import statistics
import time

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits


def measure(size, repeats):
    rng = np.random.default_rng(size)
    a = rng.standard_normal((size, size), dtype=np.float32)
    b = rng.standard_normal((size, size), dtype=np.float32)
    c = np.empty((size, size), dtype=np.float32)

    def run(times):
        start = time.perf_counter()
        for _ in range(times):
            np.matmul(a, b, out=c)
        return time.perf_counter() - start

    once = max(run(1), 1e-7)
    times = max(1, int(0.05 / once))
    rates = [2.0 * size**3 * times / max(run(times), 1e-9) / 1e9 for _ in range(max(1, repeats))]
    return statistics.median(rates)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="64,128,256,512,1024")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", default="1,2", help="comma-separated BLAS thread caps")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s]
    results = []
    for threads in [int(t) for t in args.threads.split(",") if t]:
        with threadpool_limits(limits=threads, user_api="blas"):
            for size in sizes:
                results.append({"threads": threads, "size": size, "gflops": measure(size, args.repeats)})
    print(json.dumps({"numpy": np.__version__, "threadpools": threadpool_info(), "results": results}, indent=2))


if __name__ == "__main__":
    main()
