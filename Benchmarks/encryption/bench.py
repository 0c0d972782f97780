#!/usr/bin/env python3
"""Encrypt and decrypt one large file with `mlsec` and with the `age` command-line tool (Go), side by side.

Prints medians of several rounds, the ratio age/mlsec (above 1 means mlsec is faster) and mlsec's throughput
against the machine's ChaCha20-Poly1305 limit: `openssl speed -evp chacha20-poly1305` on one core, times the
cores mlsec uses. Two settings (input in the warm page cache):
  * to /dev/null: reading, encryption and writing to a pipe-like sink, no disk;
  * to a durable file: mlsec fsyncs its output before renaming it into place, so age's output is fsynced too
    (`sync FILE` after age) for a like-for-like comparison.

Usage: bench.py [--size-mib 1024] [--rounds 3] [--dir bench-data]
"""
import argparse
import os
import pathlib
import re
import shutil
import statistics
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[2]


def timed(args, sync=None):
    start = time.perf_counter()
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL)
    if sync:
        subprocess.run(["sync", str(sync)], check=True)
    return time.perf_counter() - start


def openssl_chacha_gbps():
    """One-core ChaCha20-Poly1305 throughput for 16 KiB blocks, in GB/s (CPU-time based, as openssl reports)."""
    out = subprocess.run(["openssl", "speed", "-evp", "chacha20-poly1305", "-bytes", "16384", "-seconds", "2"],
                         capture_output=True, text=True, check=True).stdout
    line = [l for l in out.splitlines() if l.lower().startswith("chacha20-poly1305")][-1]
    value = re.findall(r"([\d.]+)k", line)[-1]
    return float(value) * 1000 / 1e9


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--size-mib", type=int, default=1024)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--dir", default=str(ROOT / "bench-data"))
    ap.add_argument("--mlsec", default=str(ROOT / ".build" / "release" / "mlsec"))
    args = ap.parse_args()
    age = shutil.which("age")
    if not age:
        sys.exit("the age tool is needed (apt-get install age)")
    d = pathlib.Path(args.dir)
    d.mkdir(parents=True, exist_ok=True)
    plain = d / f"plain-{args.size_mib}m"
    if not plain.exists() or plain.stat().st_size != args.size_mib << 20:
        with open(plain, "wb") as f:
            for _ in range(args.size_mib):
                f.write(os.urandom(1 << 20))
    key = d / "bench-id.key"
    if not key.exists():
        subprocess.run([args.mlsec, "keygen", "--algorithm", "x25519", "--private-key", str(key)], check=True,
                       stdout=subprocess.DEVNULL)
    recipient = [l.split(": ")[1] for l in key.read_text().splitlines() if "public key" in l][0]
    subprocess.run(["cat", str(plain)], stdout=subprocess.DEVNULL, check=True)  # warm the cache

    # Ciphertexts to decrypt in the /dev/null runs.
    subprocess.run([args.mlsec, "encrypt", "-r", recipient, "-o", str(d / "m0.age"), str(plain)], check=True)
    subprocess.run([age, "-r", recipient, "-o", str(d / "g0.age"), str(plain)], check=True)
    null = "/dev/null"
    results = {}
    for _ in range(args.rounds):
        runs = {
            ("null", "mlsec-enc"): lambda: timed([args.mlsec, "encrypt", "-r", recipient, "-o", null, str(plain)]),
            ("null", "age-enc"): lambda: timed([age, "-r", recipient, "-o", null, str(plain)]),
            ("null", "mlsec-dec"): lambda: timed([args.mlsec, "decrypt", "-i", str(key), "-o", null, str(d / "m0.age")]),
            ("null", "age-dec"): lambda: timed([age, "-d", "-i", str(key), "-o", null, str(d / "g0.age")]),
            ("file", "mlsec-enc"): lambda: timed([args.mlsec, "encrypt", "-r", recipient, "-o", str(d / "m.age"), str(plain)]),
            ("file", "age-enc"): lambda: timed([age, "-r", recipient, "-o", str(d / "g.age"), str(plain)], sync=d / "g.age"),
            ("file", "mlsec-dec"): lambda: timed([args.mlsec, "decrypt", "-i", str(key), "-o", str(d / "m.out"), str(d / "m.age")]),
            ("file", "age-dec"): lambda: timed([age, "-d", "-i", str(key), "-o", str(d / "g.out"), str(d / "g.age")], sync=d / "g.out"),
        }
        outputs = {"mlsec-enc": "m.age", "age-enc": "g.age", "mlsec-dec": "m.out", "age-dec": "g.out"}
        for k, run in runs.items():
            # The previous round's output is removed first, so that no run pays for freeing an old file's blocks.
            if k[0] == "file" and (d / outputs[k[1]]).exists():
                (d / outputs[k[1]]).unlink()
            results.setdefault(k, []).append(run())
    for f in ["m.out", "g.out"]:
        if (d / f).stat().st_size != plain.stat().st_size:
            sys.exit("round trip size mismatch")
    for f in ["m.out", "g.out", "m.age", "g.age", "m0.age", "g0.age"]:
        (d / f).unlink()

    limit = openssl_chacha_gbps()
    cores = os.cpu_count() or 1
    size_gb = (args.size_mib << 20) / 1e9
    med = {k: statistics.median(v) for k, v in results.items()}
    print(f"{args.size_mib} MiB, median of {args.rounds} rounds, {cores} cores")
    print(f"openssl ChaCha20-Poly1305, one core: {limit:.2f} GB/s; limit for {cores} cores: {limit * cores:.2f} GB/s")
    print(f"{'':22} {'mlsec':>9} {'age':>9} {'age/mlsec':>10} {'mlsec GB/s':>11} {'of limit':>9}")
    for sink, label in [("null", "to /dev/null"), ("file", "to a durable file")]:
        for op, name in [("enc", "encrypt"), ("dec", "decrypt")]:
            m, a = med[(sink, f"mlsec-{op}")], med[(sink, f"age-{op}")]
            rate = size_gb / m
            print(f"{name + ' ' + label:22} {m:8.3f}s {a:8.3f}s {a / m:9.2f}x {rate:10.2f} {rate / (limit * cores):8.2f}")


if __name__ == "__main__":
    main()
