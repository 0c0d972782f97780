#!/usr/bin/env python3
"""Profile and validate speed: `mlsec data profile` and `mlsec data validate` on a large CSV against `wc -l` and
`cat` reading the same file, in one run.

The file (written once to --dir, default /tmp/mlsec-bench-data, and reused): --gib GiB (default 1) of rows with a
row id, 20 Gaussian features printed with six decimals, a three-value category and an integer label, the shape of a
tabular training set. The features repeat every 20,000 rows (generating 1 GiB of Gaussians in Python takes
minutes), the id makes every row distinct, so the duplicate check holds one fingerprint per row as with real data.
Every tool reads it from the page cache (one warm-up read first). Times are medians of --runs (3);
the table gives each tool's throughput in MiB/s, its ratio to `wc -l`, and the peak resident memory of mlsec (the
goal: bounded memory whatever the file's size, and at least 0.5 of `wc -l`'s throughput).

When the interpreter running this script has them (the bench-only venv: `pip install polars duckdb pandas`), the
same file is also summarised by the data tools users know, as yardsticks of what the whole task costs: polars
(`read_csv(...).describe()`), pandas (`read_csv(...).describe(include="all")`, C engine) and DuckDB (`SUMMARIZE`).
Each runs in a process of its own and times its work after its imports.

Usage: Benchmarks/data/bench_profile.py [--mlsec .build/release/mlsec] [--gib 1] [--runs 3] [--dir DIR] [--no-peers]
"""
import argparse
import os
import pathlib
import random
import resource
import statistics
import importlib.util
import subprocess
import sys
import time

# Summaries by the data tools users know: each snippet prints the seconds its work took after its imports.
PEERS = {
    "polars describe": ("polars", "import polars as pl\nstart = time.perf_counter()\npl.read_csv(PATH).describe()"),
    "pandas describe": ("pandas", "import pandas as pd\nstart = time.perf_counter()\n"
                                  "pd.read_csv(PATH, engine='c').describe(include='all')"),
    "duckdb SUMMARIZE": ("duckdb", "import duckdb\nstart = time.perf_counter()\n"
                                   "duckdb.sql(f\"SUMMARIZE SELECT * FROM read_csv('{PATH}')\").fetchall()"),
}


def timed_peer(code, path):
    """Seconds a peer's snippet reports for its work on `path`."""
    program = f"import sys, time\nPATH = sys.argv[1]\n{code}\nprint(time.perf_counter() - start)"
    proc = subprocess.run([sys.executable, "-c", program, str(path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if proc.returncode != 0:
        raise SystemExit(f"peer failed: {proc.stderr.decode()[-400:]}")
    return float(proc.stdout.decode().split()[-1])


def make_file(path, gib):
    size = int(gib * (1 << 30))
    if path.exists() and path.stat().st_size >= size:
        return
    rng = random.Random(1)
    lines = []
    for _ in range(20000):
        values = [f"{rng.gauss(0, 1):.6f}" for _ in range(20)]
        lines.append("," + ",".join(values + [rng.choice(["a", "b", "c"]), str(rng.randrange(10))]) + "\n")
    tmp = path.with_suffix(".tmp")
    with open(tmp, "wb") as f:
        f.write((",".join(["id"] + [f"f{i}" for i in range(20)] + ["cat", "label"]) + "\n").encode())
        written = 0
        row = 0
        while written < size:
            block = "".join(f"{row + i}{line}" for i, line in enumerate(lines)).encode()
            f.write(block)
            written += len(block)
            row += len(lines)
    os.replace(tmp, path)


def timed(argv):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    wall = time.perf_counter() - start
    if proc.returncode not in (0, 1):
        raise SystemExit(f"{argv[0]} failed ({proc.returncode}): {proc.stderr.decode()[-400:]}")
    return wall, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, before


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--mlsec", default=str(pathlib.Path(__file__).resolve().parents[2] / ".build/release/mlsec"))
    parser.add_argument("--gib", type=float, default=1.0)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--dir", default="/tmp/mlsec-bench-data")
    parser.add_argument("--no-peers", action="store_true", help="skip polars, pandas and DuckDB even where installed")
    args = parser.parse_args()
    directory = pathlib.Path(args.dir)
    directory.mkdir(parents=True, exist_ok=True)
    data = directory / f"rows-{args.gib:g}gib-distinct.csv"
    make_file(data, args.gib)
    mib = data.stat().st_size / (1 << 20)
    schema = directory / "schema.json"
    subprocess.run(["cat", str(data)], stdout=subprocess.DEVNULL, check=True)   # into the page cache
    tools = {
        "wc -l": ["wc", "-l", str(data)],
        "cat > /dev/null": ["sh", "-c", f"cat '{data}' > /dev/null"],
        "mlsec data profile": [args.mlsec, "data", "profile", str(data), "--label-column", "label", "--out", str(schema),
                               "--force"],
        "mlsec data validate": [args.mlsec, "data", "validate", str(data), "--schema", str(schema)],
    }
    results = {}
    for name, argv in tools.items():
        walls, peaks = [], []
        for _ in range(args.runs):
            wall, peak, _ = timed(argv)
            walls.append(wall)
            peaks.append(peak)
        results[name] = (statistics.median(walls), max(peaks))
    for name, (module, code) in PEERS.items():
        if args.no_peers or importlib.util.find_spec(module) is None:
            continue
        results[name] = (statistics.median(timed_peer(code, data) for _ in range(args.runs)), 0)
    base = results["wc -l"][0]
    print(f"file: {data} ({mib:,.0f} MiB), median of {args.runs} runs, {os.cpu_count()} CPUs")
    print(f"{'tool':22} {'seconds':>8} {'MiB/s':>9} {'of wc -l':>9}")
    for name, (wall, _) in results.items():
        print(f"{name:22} {wall:8.3f} {mib / wall:9,.0f} {base / wall:9.3f}")
    print(f"peak resident memory of the mlsec runs: {max(results['mlsec data profile'][1], results['mlsec data validate'][1]) / 1024:.0f} MiB"
          " (ru_maxrss over all children so far)")


if __name__ == "__main__":
    main()
