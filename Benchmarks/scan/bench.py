#!/usr/bin/env python3
"""Scanner benchmark and comparison: `mlsec scan` vs picklescan (and modelscan) in one run.

  python Benchmarks/scan/bench.py --tools-python /path/to/venv/bin/python [--mlsec PATH] [--rounds N]
                                  [--startup-runs N] [--startup-only]

The tools venv needs `picklescan` and `modelscan` (pip install picklescan modelscan numpy); the script uses
their command-line entry points next to that Python. It measures, process start-up included (medians):
  (a) a pickle of about 700,000 small Python objects, (b) a 200 MB NumPy-array pickle, (c) a 1 GiB
  PyTorch-format zip; and it prints a detection table over the scanner corpus (interop/scan_corpus).
It first measures start-up (medians of --startup-runs, default 20): `mlsec --version` and `mlsec scan` of a
tiny pickle, against `/bin/true`, the tools venv's `python -c pass` and `picklescan -p` on the same pickle, all
in the same run (docs/scanning.md, "Start-up").
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


def spawn_timed(cmd):
    """Wall-clock seconds from spawn to exit, and the child's CPU seconds (user + system, from wait4)."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, _, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = 0  # reaped above
    return wall, usage.ru_utime + usage.ru_stime


def startup(args, picklescan):
    """Start-up: medians of --startup-runs runs of each command, output discarded, ratios against the baselines.

    Wall clock is what a user waits; CPU time (user + system) is what the process itself spent, and moves less
    when other work shares the machine (a busy machine mostly adds waiting for a CPU to the wall clock)."""
    tiny = DATA / "tiny.pkl"
    DATA.mkdir(parents=True, exist_ok=True)
    if not tiny.exists():
        tiny.write_bytes(pickle.dumps({"a": 1}))
    commands = {
        "/bin/true": ["/bin/true"],
        "python -c pass": [args.tools_python, "-c", "pass"],
        "mlsec --version": [args.mlsec, "--version"],
        "mlsec scan tiny.pkl": [args.mlsec, "scan", str(tiny)],
        "picklescan -p tiny.pkl": [picklescan, "-p", str(tiny)],
    }
    runs = {label: [] for label in commands}
    for _ in range(args.startup_runs):  # interleaved, so that a burst of load on the machine hits every command
        for label, cmd in commands.items():
            runs[label].append(spawn_timed(cmd))
    wall = {label: statistics.median(w for w, _ in times) * 1000 for label, times in runs.items()}
    cpu = {label: statistics.median(c for _, c in times) * 1000 for label, times in runs.items()}
    print(f"Start-up (milliseconds, median of {args.startup_runs}: wall clock from spawn to exit, and CPU time)")
    print(f"{'command':24} {'wall':>8} {'cpu':>8} {'x /bin/true':>12} {'x python':>9}")
    for label in commands:
        print(f"{label:24} {wall[label]:8.2f} {cpu[label]:8.2f} {wall[label] / wall['/bin/true']:12.1f} "
              f"{wall[label] / wall['python -c pass']:9.2f}")
    print(f"picklescan / mlsec on tiny.pkl: {wall['picklescan -p tiny.pkl'] / wall['mlsec scan tiny.pkl']:.1f}x "
          f"(wall); mlsec scan above /bin/true: {wall['mlsec scan tiny.pkl'] - wall['/bin/true']:.2f} ms wall\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tools-python", required=True)
    ap.add_argument("--mlsec", default=str(ROOT / ".build" / "release" / "mlsec"))
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--startup-runs", type=int, default=20)
    ap.add_argument("--startup-only", action="store_true", help="measure start-up only (no large files, no corpus)")
    args = ap.parse_args()
    bindir = pathlib.Path(args.tools_python).parent
    picklescan = str(bindir / "picklescan")
    modelscan = str(bindir / "modelscan")
    startup(args, picklescan)
    if args.startup_only:
        return
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
