#!/usr/bin/env python3
"""Scanner benchmark and comparison: `mlsec scan` vs picklescan (and modelscan) in one run.

  python Benchmarks/scan/bench.py --tools-python /path/to/venv/bin/python [--mlsec PATH] [--rounds N]

The tools venv needs `picklescan` and `modelscan` (pip install picklescan modelscan numpy); the script uses
their command-line entry points next to that Python. It measures, process start-up included (medians):
  (a) a pickle of about 700,000 small Python objects, (b) a 200 MB NumPy-array pickle, (c) a 1 GiB
  PyTorch-format zip; and it prints a detection table over the scanner corpus (interop/scan_corpus).
"""
import argparse
import collections
import io
import json
import os
import pathlib
import pickle
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile

ROOT = pathlib.Path(__file__).resolve().parents[2]
DATA = ROOT / "bench-data" / "scan"


def make_data(tools_python):
    DATA.mkdir(parents=True, exist_ok=True)
    small = DATA / "objects-700k.pkl"
    if not small.exists():
        small.write_bytes(pickle.dumps([{"a": i, "b": str(i), "c": [i, i + 1]} for i in range(700_000)], protocol=4))
    arr = DATA / "numpy-200mb.pkl"
    if not arr.exists():
        subprocess.run([tools_python, "-c", "import pickle, numpy; pickle.dump(numpy.zeros(50_000_000, dtype=numpy.float32), "
                        f"open({str(arr)!r}, 'wb'), protocol=4)"], check=True)
    big = DATA / "pytorch-1gib.pt"
    if not big.exists():
        # A PyTorch-format checkpoint: archive/data.pkl naming torch's rebuild functions, plus 1 GiB of storages.
        head = (b"\x80\x02ccollections\nOrderedDict\nq\x00)Rq\x01.")
        with zipfile.ZipFile(big, "w", zipfile.ZIP_STORED) as z:
            z.writestr("archive/data.pkl", head)
            z.writestr("archive/version", b"3\n")
            block = os.urandom(1 << 20)
            for i in range(16):
                with z.open(f"archive/data/{i}", "w", force_zip64=True) as f:
                    for _ in range(64):
                        f.write(block)
    return {"700k objects pickle": small, "200 MB NumPy pickle": arr, "1 GiB PyTorch zip": big}


def timed(cmd):
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    return time.perf_counter() - start, proc


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tools-python", required=True)
    ap.add_argument("--mlsec", default=str(ROOT / ".build" / "release" / "mlsec"))
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    bindir = pathlib.Path(args.tools_python).parent
    picklescan = str(bindir / "picklescan")
    modelscan = str(bindir / "modelscan")
    files = make_data(args.tools_python)
    print(f"Speed (seconds, median of {args.rounds}, process start-up included)")
    print(f"{'file':24} {'mlsec':>8} {'picklescan':>11} {'speedup':>8}")
    for label, path in files.items():
        ours = statistics.median(timed([args.mlsec, "scan", str(path)])[0] for _ in range(args.rounds))
        theirs = statistics.median(timed([picklescan, "-p", str(path)])[0] for _ in range(args.rounds))
        print(f"{label:24} {ours:8.3f} {theirs:11.3f} {theirs / ours:7.1f}x")
    with tempfile.TemporaryDirectory() as d:
        subprocess.run([sys.executable, str(ROOT / "interop" / "scan_corpus" / "make_corpus.py"), d], check=True,
                       capture_output=True)
        expected = json.loads((pathlib.Path(d) / "expected.json").read_text())
        ours = {str(pathlib.Path(f["path"]).relative_to(d)): f["verdict"]
                for f in json.loads(subprocess.run([args.mlsec, "scan", d, "--format", "json"], capture_output=True,
                                                   text=True).stdout)["files"]}
        table = collections.Counter()
        for rel, want in sorted(expected.items()):
            path = str(pathlib.Path(d) / rel)
            flagged_ms = ours.get(rel) in ("unsafe", "malformed")
            ps = subprocess.run([picklescan, "-p", path], capture_output=True, text=True)
            flagged_ps = ps.returncode == 1
            msc = subprocess.run([modelscan, "-p", path], capture_output=True, text=True)
            flagged_msc = msc.returncode == 1
            bad = want["verdict"] != "clean"
            for tool, flagged in (("mlsec", flagged_ms), ("picklescan", flagged_ps), ("modelscan", flagged_msc)):
                table[(tool, "TP" if bad and flagged else "FN" if bad else "FP" if flagged else "TN")] += 1
        print(f"\nDetection on the corpus ({len(expected)} samples: unsafe or malformed must be flagged, clean must not)")
        print(f"{'tool':12} {'caught':>7} {'missed':>7} {'false alarms':>13} {'clean passed':>13}")
        for tool in ("mlsec", "picklescan", "modelscan"):
            print(f"{tool:12} {table[(tool, 'TP')]:7} {table[(tool, 'FN')]:7} {table[(tool, 'FP')]:13} {table[(tool, 'TN')]:13}")


if __name__ == "__main__":
    main()
