#!/usr/bin/env python3
"""Signing benchmark: `mlsec sign` vs `model_signing sign key` vs one-core `openssl dgst -sha256`.

Data sets (made once under bench-data/, page cache warmed before timing):
  big:   4 files x 256 MiB
  small: 500 files x 1 MiB
Each round runs every command once per set, interleaved; the report gives medians and the ratios
  speedup      = model_signing wall time / mlsec wall time           (goal >= 2)
  core-ratio   = mlsec SHA-256 rate / (openssl one-core rate x cores) (goal >= 0.85)
Usage: Benchmarks/signing/bench.py [--rounds N] [--mlsec PATH] [--json OUT]
"""
import argparse
import json
import os
import pathlib
import shutil
import statistics
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[2]
DATA = ROOT / "bench-data" / "signing"
SETS = {"big": (4, 256 << 20), "small": (500, 1 << 20)}


def make_sets():
    for name, (count, size) in SETS.items():
        d = DATA / name
        if d.is_dir() and len(list(d.iterdir())) == count and all(f.stat().st_size == size for f in d.iterdir()):
            continue
        shutil.rmtree(d, ignore_errors=True)
        d.mkdir(parents=True)
        block = os.urandom(1 << 20)
        for i in range(count):
            with open(d / f"file{i:04d}.bin", "wb") as f:
                for j in range(size >> 20):
                    f.write(bytes([i & 0xff, j & 0xff]) + block[2:])


def warm(d):
    for f in sorted(d.iterdir()):
        with open(f, "rb") as fh:
            while fh.read(8 << 20):
                pass


def timed(cmd):
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--mlsec", default=str(ROOT / ".build" / "release" / "mlsec"))
    ap.add_argument("--json")
    args = ap.parse_args()
    venv_bin = pathlib.Path(sys.executable).parent
    model_signing = str(venv_bin / "model_signing")
    work = DATA / "work"
    work.mkdir(parents=True, exist_ok=True)
    key = work / "key.pem"
    if not key.exists():
        subprocess.run([args.mlsec, "keygen", "--private-key", key, "--force"], check=True, stdout=subprocess.DEVNULL)
    make_sets()
    cores = os.cpu_count() or 1
    results = {}
    for name, (count, size) in SETS.items():
        d = DATA / name
        total = count * size
        warm(d)
        files = sorted(str(f) for f in d.iterdir())
        cmds = {
            "mlsec sign": [args.mlsec, "sign", d, "--private-key", key, "--signature", work / f"{name}.mlsec.sig"],
            "model_signing sign key": [model_signing, "sign", "key", d, "--private_key", key,
                                       "--signature", work / f"{name}.ms.sig"],
            "openssl dgst -sha256 (1 core)": ["openssl", "dgst", "-sha256", *files],
        }
        times = {k: [] for k in cmds}
        for _ in range(args.rounds):
            for label, cmd in cmds.items():
                times[label].append(timed([str(c) for c in cmd]))
        med = {k: statistics.median(v) for k, v in times.items()}
        openssl_rate = total / med["openssl dgst -sha256 (1 core)"]
        mlsec_rate = total / med["mlsec sign"]
        results[name] = {
            "files": count, "bytes": total, "median_seconds": med, "all_seconds": times,
            "speedup_vs_model_signing": med["model_signing sign key"] / med["mlsec sign"],
            "openssl_one_core_GBps": openssl_rate / 1e9,
            "mlsec_GBps": mlsec_rate / 1e9,
            "fraction_of_all_core_sha256": mlsec_rate / (openssl_rate * cores),
        }
    print(f"cores: {cores}, rounds: {args.rounds} (medians; warm page cache)")
    print(f"{'set':6} {'mlsec s':>8} {'model_signing s':>16} {'openssl 1-core s':>17} {'speedup':>8} {'vs all-core SHA-256':>20}")
    for name, r in results.items():
        m = r["median_seconds"]
        print(f"{name:6} {m['mlsec sign']:8.3f} {m['model_signing sign key']:16.3f} "
              f"{m['openssl dgst -sha256 (1 core)']:17.3f} {r['speedup_vs_model_signing']:7.2f}x "
              f"{r['fraction_of_all_core_sha256']:19.2f}")
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
