#!/usr/bin/env python3
"""Engine benchmark: MLSec's GEMM vs NumPy's BLAS, and MLSec training vs a PyTorch CPU loop, in one run.

  .venv/bin/python Benchmarks/engine/bench.py [--mlsec PATH] [--torch-python PATH] [--json OUT]

NumPy runs with OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset for its own process (they slow current NumPy
here). PyTorch is optional: pass --torch-python with a Python that can `import torch` (for example a venv made
with `python3 -m venv /tmp/torchvenv && /tmp/torchvenv/bin/pip install torch numpy`).
"""
import argparse
import json
import os
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]
SIZES = [64, 128, 256, 512, 1024]

NUMPY_SNIPPET = r"""
import json, statistics, sys, time
import numpy as np
sizes = json.loads(sys.argv[1]); repeats = int(sys.argv[2])
out = []
for n in sizes:
    a = np.random.default_rng(0).random((n, n), dtype=np.float32)
    b = np.random.default_rng(1).random((n, n), dtype=np.float32)
    a @ b
    inner = max(1, int(2e8 // (2 * n ** 3)))
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        for _ in range(inner):
            a @ b
        times.append((time.perf_counter() - t) / inner)
    out.append({"size": n, "gflops": 2 * n ** 3 / statistics.median(times) / 1e9})
try:
    from threadpoolctl import threadpool_info
    info = [{k: i.get(k) for k in ("internal_api", "num_threads", "architecture")} for i in threadpool_info()]
except Exception:
    info = "threadpoolctl not installed"
print(json.dumps({"results": out, "blas": info}))
"""

TORCH_SNIPPET = r"""
import json, statistics, sys, time
import numpy as np, torch
data = json.loads(open(sys.argv[1]).read())
epochs, batch, repeats = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
x = torch.tensor(np.array(data["x"], dtype=np.float32)); y = torch.tensor(np.array(data["y"], dtype=np.int64))
best = None
for threads in (torch.get_num_threads(), 1):
  torch.set_num_threads(threads)
  rates = []
  for r in range(repeats):
    torch.manual_seed(r)
    model = torch.nn.Sequential(torch.nn.Linear(64, 128), torch.nn.ReLU(), torch.nn.Linear(128, 10))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = torch.nn.CrossEntropyLoss()
    g = torch.Generator().manual_seed(r)
    start = time.perf_counter()
    for _ in range(epochs):
        perm = torch.randperm(len(y), generator=g)
        for i in range(0, len(y), batch):
            idx = perm[i:i + batch]
            opt.zero_grad()
            loss = loss_fn(model(x[idx]), y[idx])
            loss.backward()
            opt.step()
    rates.append(epochs * len(y) / (time.perf_counter() - start))
  rate = statistics.median(rates)
  if best is None or rate > best["examples_per_second"]:
      best = {"examples_per_second": rate, "threads": threads}
best["version"] = torch.__version__
print(json.dumps(best))
"""


def run_json(cmd, env=None):
    return json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True, env=env).stdout)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mlsec", default=str(ROOT / ".build" / "release" / "mlsec"))
    ap.add_argument("--torch-python")
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--json")
    args = ap.parse_args()
    report = {}
    ours = run_json([args.mlsec, "bench", "gemm", "--sizes", ",".join(map(str, SIZES)), "--repeats", str(args.repeats)])
    env = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")}
    numpy = run_json([sys.executable, "-c", NUMPY_SNIPPET, json.dumps(SIZES), str(args.repeats)], env=env)
    report["gemm"] = {"mlsec_kernel": ours["kernel"], "numpy_blas": numpy["blas"], "rows": []}
    print(f"GEMM (float32, square; median of {args.repeats}); MLSec kernel {ours['kernel']}")
    print(f"{'size':>6} {'MLSec GFLOP/s':>14} {'NumPy GFLOP/s':>14} {'MLSec/NumPy':>12}")
    for a, b in zip(ours["results"], numpy["results"]):
        ratio = float(a["gflops"]) / b["gflops"]
        report["gemm"]["rows"].append({"size": a["size"], "mlsec": float(a["gflops"]), "numpy": b["gflops"], "ratio": ratio})
        print(f"{a['size']:>6} {float(a['gflops']):>14.1f} {b['gflops']:>14.1f} {ratio:>12.2f}")
    train = run_json([args.mlsec, "bench", "train", "--epochs", str(args.epochs), "--repeats", "3"])
    report["train"] = {"mlsec_examples_per_second": float(train["examples_per_second"])}
    print(f"\nTraining mlp:64-128-10 on digits-train, Adam, batch 32, {args.epochs} epochs (median of 3)")
    print(f"  MLSec:   {float(train['examples_per_second']):>10.0f} examples/s")
    if args.torch_python:
        import tempfile
        with tempfile.TemporaryDirectory() as d:
            data_path = pathlib.Path(d) / "digits.json"
            data_path.write_text(json.dumps(run_json([args.mlsec, "bench", "export-digits"])))
            torch = run_json([args.torch_python, "-c", TORCH_SNIPPET, str(data_path), str(args.epochs), "32", "3"])
        report["train"]["pytorch"] = torch
        ratio = float(train["examples_per_second"]) / torch["examples_per_second"]
        report["train"]["ratio"] = ratio
        print(f"  PyTorch: {torch['examples_per_second']:>10.0f} examples/s (torch {torch['version']}, "
              f"best of default and 1 thread: {torch['threads']})")
        print(f"  MLSec/PyTorch: {ratio:.2f}")
    else:
        print("  PyTorch: not measured (pass --torch-python PATH)")
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
