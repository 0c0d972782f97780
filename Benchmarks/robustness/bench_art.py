#!/usr/bin/env python3
"""Adversarial attack speed: `mlsec attack` against IBM ART 1.20.1 on the same digits MLP and rows.

Model: the digits MLP 64-128-10 (`mlsec train --architecture mlp:64-128-10 --epochs 100 --seed 0`). Rows: MLSec's
digits test split (`mlsec bench export-digits --split test`, 360 rows) repeated --repeat (20) times for FGSM and
PGD (7,200 rows: start-up then weighs little in the end-to-end rate), its first --cw-rows (30)
rows for CW and --hsj-rows (10) for HopSkipJump. Attacks and settings (the same on both sides, printed with the
table):
  FGSM         L-inf, eps 0.1, true labels
  PGD-40       L-inf, eps 0.1, 40 steps of 0.01, no random start, true labels (ART: ProjectedGradientDescent, which
               runs its NumPy variant on the NumPy classifier and its PyTorch variant on a PyTorchClassifier)
  CW L2        5 binary search steps, 100 iterations, learning rate 0.01, initial constant 0.1, confidence 0
               (MLSec's defaults; ART's own are 10 x 10 at 0.01), eps 1.0 for MLSec's accuracy-at-budget
  HopSkipJump  L2, untargeted, ART's defaults: max_iter 50, max_eval 10000, init_eval 100, init_size 100; MLSec gets
               --steps 50 and a budget of --max-queries 25000 per example (ART has no budget; it spends about
               24,500 queries per row here, counted through the classifier and printed)
Speed: examples per second. MLSec: rows over the wall time of the whole `mlsec attack` process (start-up, CSV
parsing, model load, attack, the adversarial CSV written), median of --runs (3); the table also shows the
examples_per_second MLSec prints itself (the attack alone, last run), for reference only. ART: rows over the time of
`attack.generate` alone (model and data already in memory), median of --runs; the setup ART needs is not counted
there. With --art-venv, a second table times ART end to end as MLSec is: a fresh process per attack (interpreter
start, torch and ART imports, model and data load, one generate).
ART's NumPy classifier (interop/art_numpy_model.py, float64) runs with one BLAS thread (faster than two for these
tiny matrices: a second thread only spins); --art-batch-size (128) is ART's batch size for FGSM, PGD and CW (ART's
own defaults are 32, 32 and 1: --art-batch-size 0 keeps them). With --art-venv PATH naming a virtual environment
that has torch, ART 1.20.1, scipy and safetensors, the same attacks also run on an ART PyTorchClassifier (CPU,
--torch-threads 1 by default, 0 for torch's default: one thread is the faster for these tiny matrices, and next to
any other busy process two threads are up to 50x slower) in a subprocess of that venv.

Usage: Benchmarks/robustness/bench_art.py [--mlsec PATH] [--runs 3] [--art-venv /work/bench-venv] [--json OUT]
       [--art-only] [--attacks fgsm,pgd,cw,hopskipjump] [--cw-rows 30] [--hsj-rows 10] [--art-batch-size 128]
       [--torch-threads 1] [--repeat 20]
"""
import argparse
import json
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "interop"))

FGSM = {"norm": "inf", "eps": 0.1}
PGD = {"norm": "inf", "eps": 0.1, "steps": 40, "step_size": 0.01}
CW = {"binary_search_steps": 5, "max_iter": 100, "learning_rate": 0.01, "initial_const": 0.1, "confidence": 0.0,
      "eps": 1.0}
HSJ = {"norm": "2", "max_iter": 50, "max_eval": 10000, "init_eval": 100, "init_size": 100, "max_queries": 25000,
       "eps": 1.0}
SETTINGS = {"fgsm": FGSM, "pgd": PGD, "cw": CW, "hopskipjump": HSJ}
NAMES = {"fgsm": "FGSM", "pgd": "PGD-40", "cw": "CW L2", "hopskipjump": "HopSkipJump"}


# -- the ART side (runs here with NumPy, or in --art-venv with PyTorch) ------------------------------------------
def torch_classifier(model_dir):
    import torch
    from art.estimators.classification import PyTorchClassifier
    from safetensors.numpy import load_file

    spec = json.loads((pathlib.Path(model_dir) / "model.json").read_text())
    weights = load_file(str(pathlib.Path(model_dir) / "weights.safetensors"))
    modules = []
    for layer in spec["layers"]:
        t = layer["type"]
        if t == "dense":
            w = torch.tensor(weights[layer["weight"]], dtype=torch.float32)
            lin = torch.nn.Linear(w.shape[1], w.shape[0], bias="bias" in layer)
            with torch.no_grad():
                lin.weight.copy_(w)
                if "bias" in layer:
                    lin.bias.copy_(torch.tensor(weights[layer["bias"]], dtype=torch.float32))
            modules.append(lin)
        elif t in ("relu", "tanh", "sigmoid"):
            modules.append({"relu": torch.nn.ReLU, "tanh": torch.nn.Tanh, "sigmoid": torch.nn.Sigmoid}[t]())
        elif t == "flatten":
            modules.append(torch.nn.Flatten())
        else:
            raise NotImplementedError(f"layer {t} (a final softmax would need a logits model for CrossEntropyLoss)")
    model = torch.nn.Sequential(*modules).eval()
    input_shape = tuple(spec["input"]["shape"][1:])
    inp = spec["input"]
    return PyTorchClassifier(model=model, loss=torch.nn.CrossEntropyLoss(), input_shape=input_shape,
                             nb_classes=int(spec["output"]["shape"][-1]),
                             clip_values=(float(inp.get("min", 0)), float(inp.get("max", 1))), device_type="cpu")


class QueryCounter:
    """Counts the rows a classifier's predict() sees (HopSkipJump's queries), for either backend. It also hands
    predict float32: under NumPy 2's promotion rules ART's HopSkipJump makes float64 samples (float32 array times
    a np.float64 step), which a float32 torch model refuses ("mat1 and mat2 must have the same dtype")."""

    def __init__(self, clf):
        self.clf, self.count = clf, 0
        original = clf.predict

        def counted(x, *args, **kwargs):
            self.count += len(x)
            return original(np.asarray(x, dtype=np.float32), *args, **kwargs)
        clf.predict = counted


def run_art(backend, model_dir, x, y, attacks, runs, batch_size, cw_rows, hsj_rows, seed=0):
    from art.attacks.evasion import CarliniL2Method, FastGradientMethod, HopSkipJump, ProjectedGradientDescent

    if backend == "numpy":
        from art_numpy_model import MLSecNumpyClassifier
        clf = MLSecNumpyClassifier(model_dir)
    else:
        clf = torch_classifier(model_dir)
    counter = QueryCounter(clf)
    x = x.astype(np.float32)

    def acc(xa, yy):
        return float(np.mean(np.argmax(clf.predict(xa.astype(np.float32)), axis=1) == yy))

    def bs(default):
        return batch_size if batch_size > 0 else default

    results = {}
    for name in attacks:
        if name == "fgsm":
            rows = len(x)
            make = lambda: FastGradientMethod(clf, norm=np.inf, eps=FGSM["eps"], eps_step=FGSM["eps"],  # noqa: E731
                                              batch_size=bs(32))
            gen = lambda a: a.generate(x, y=y)  # noqa: E731
        elif name == "pgd":
            rows = len(x)
            make = lambda: ProjectedGradientDescent(clf, norm=np.inf, eps=PGD["eps"], eps_step=PGD["step_size"],  # noqa
                                                    max_iter=PGD["steps"], num_random_init=0, batch_size=bs(32),
                                                    verbose=False)
            gen = lambda a: a.generate(x, y=y)  # noqa: E731
        elif name == "cw":
            rows = cw_rows
            make = lambda: CarliniL2Method(clf, confidence=CW["confidence"], learning_rate=CW["learning_rate"],  # noqa
                                           binary_search_steps=CW["binary_search_steps"], max_iter=CW["max_iter"],
                                           initial_const=CW["initial_const"], batch_size=bs(1), verbose=False)
            gen = lambda a: a.generate(x[:cw_rows], y=y[:cw_rows])  # noqa: E731
        elif name == "hopskipjump":
            rows = hsj_rows
            make = lambda: HopSkipJump(clf, norm=2, max_iter=HSJ["max_iter"], max_eval=HSJ["max_eval"],  # noqa: E731
                                       init_eval=HSJ["init_eval"], init_size=HSJ["init_size"], verbose=False)
            gen = lambda a: a.generate(x[:hsj_rows])  # noqa: E731
        else:
            raise ValueError(name)
        times, queries = [], []
        np.random.seed(seed)
        for _ in range(runs):
            attack = make()
            counter.count = 0
            start = time.perf_counter()
            x_adv = gen(attack)
            times.append(time.perf_counter() - start)
            queries.append(counter.count)
        d = np.asarray(x_adv, dtype=np.float64) - x[:rows].astype(np.float64)
        l2 = np.linalg.norm(d, axis=1)
        pred = np.argmax(clf.predict(np.asarray(x_adv, dtype=np.float32)), axis=1)
        entry = {"rows": rows, "seconds": times, "median_seconds": statistics.median(times),
                 "examples_per_second": rows / statistics.median(times),
                 "clean_accuracy": acc(x[:rows], y[:rows]), "adversarial_accuracy": float(np.mean(pred == y[:rows])),
                 "mean_perturbation_linf": float(np.abs(d).max(axis=1).mean()),
                 "mean_perturbation_l2": float(l2.mean())}
        if name in ("cw", "hopskipjump"):
            eps = SETTINGS[name]["eps"]
            entry["adversarial_accuracy_within_eps"] = float(np.mean((pred == y[:rows]) | (l2 > eps + 1e-6)))
        if name == "hopskipjump":
            entry["queries"] = statistics.median(queries)
        results[name] = entry
    return results


def worker(args):
    """`--worker torch`: runs the ART side with a PyTorchClassifier inside --art-venv, prints JSON."""
    import torch
    if args.torch_threads > 0:
        torch.set_num_threads(args.torch_threads)
    data = np.load(args.worker_data)
    out = run_art("torch", args.worker_model, data["x"], data["y"], args.attacks.split(","), args.runs,
                  args.art_batch_size, args.cw_rows, args.hsj_rows)
    print(json.dumps({"results": out, "torch": torch.__version__, "threads": torch.get_num_threads()}))


# -- the MLSec side ----------------------------------------------------------------------------------------------
def mlsec_run(mlsec, *args):
    start = time.perf_counter()
    proc = subprocess.run([mlsec, *map(str, args)], capture_output=True, text=True)
    return time.perf_counter() - start, proc


def mlsec_flags(mlsec):
    proc = subprocess.run([mlsec, "attack", "--help"], capture_output=True, text=True)
    if proc.returncode != 0 or "--attack" not in proc.stdout:
        return None
    return {tok.rstrip(",").split("=")[0] for tok in proc.stdout.split() if tok.startswith("--")}


def mlsec_args(name, flags):
    """The `mlsec attack` arguments for an attack's settings (optional tuning flags only where MLSec has them)."""
    if name == "fgsm":
        return ["--attack", "fgsm", "--norm", FGSM["norm"], "--eps", FGSM["eps"]], []
    if name == "pgd":
        return ["--attack", "pgd", "--norm", PGD["norm"], "--eps", PGD["eps"], "--steps", PGD["steps"],
                "--step-size", PGD["step_size"]], []
    missing = []
    if name == "cw":
        args = ["--attack", "cw", "--norm", "2", "--eps", CW["eps"], "--steps", CW["max_iter"]]
        optional = {"--binary-search-steps": CW["binary_search_steps"], "--initial-const": CW["initial_const"],
                    "--learning-rate": CW["learning_rate"], "--confidence": CW["confidence"]}
    else:
        args = ["--attack", "hopskipjump", "--norm", HSJ["norm"], "--eps", HSJ["eps"], "--steps", HSJ["max_iter"],
                "--max-queries", HSJ["max_queries"], "--seed", 0]
        optional = {"--max-eval": HSJ["max_eval"], "--init-eval": HSJ["init_eval"], "--init-size": HSJ["init_size"]}
    for flag, value in optional.items():
        if flag in flags:
            args += [flag, value]
        else:
            missing.append(flag)
    return args, missing


def run_mlsec(mlsec, model_dir, tmp, attacks, runs, data_for):
    flags = mlsec_flags(mlsec)
    if flags is None:
        return {"error": "this mlsec has no `attack` command"}, None
    results = {}
    for name in attacks:
        data, rows = data_for[name]
        args, missing = mlsec_args(name, flags)
        walls, summary = [], None
        for _ in range(runs):
            wall, proc = mlsec_run(mlsec, "attack", "--model", model_dir, "--data", data, "--label-column", "label",
                                   *args, "--out", tmp / f"{name}-adv.csv")
            if proc.returncode != 0:
                summary = {"error": f"exit {proc.returncode}: {proc.stderr.strip()[:500]}"}
                break
            walls.append(wall)
            summary = json.loads(proc.stdout)
        entry = {"rows": rows, "arguments": [str(a) for a in args], "flags_not_offered": missing}
        if walls:
            entry.update({"wall_seconds": walls, "median_wall_seconds": statistics.median(walls),
                          "examples_per_second": rows / statistics.median(walls), "summary": summary})
        else:
            entry["error"] = summary["error"]
        results[name] = entry
    return results, flags


# -- driver ------------------------------------------------------------------------------------------------------
def cpu_seconds():
    """(CPU seconds every process on the machine has used, CPU seconds this process and its waited-for children
    have used): their difference over the run is what other processes took (Linux /proc/stat; None elsewhere)."""
    t = os.times()
    mine = t.user + t.system + t.children_user + t.children_system
    try:
        with open("/proc/stat") as f:
            fields = [int(v) for v in f.readline().split()[1:]]
    except OSError:
        return None, mine
    busy = sum(fields[:8]) - fields[3] - fields[4]  # user nice system (idle iowait) irq softirq steal
    return busy / os.sysconf("SC_CLK_TCK"), mine


def write_csv(path, x, y):
    with open(path, "w") as f:
        f.write(",".join([f"pixel{i}" for i in range(x.shape[1])] + ["label"]) + "\n")
        for row, label in zip(x, y):
            f.write(",".join(repr(float(v)) for v in row) + f",{int(label)}\n")
    return path


def fmt_rate(v):
    return "-" if v is None else (f"{v:,.0f}" if v >= 100 else f"{v:,.2f}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mlsec", default=os.environ.get("MLSEC_BIN") or str(ROOT / ".build/release/mlsec"))
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--attacks", default="fgsm,pgd,cw,hopskipjump")
    parser.add_argument("--cw-rows", type=int, default=30)
    parser.add_argument("--hsj-rows", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=20, help="FGSM and PGD rows: the 360 test rows this many times")
    parser.add_argument("--art-batch-size", type=int, default=128)
    parser.add_argument("--art-venv", help="a venv with torch + ART: also run ART on a PyTorchClassifier")
    parser.add_argument("--torch-threads", type=int, default=1, help="torch.set_num_threads (0: torch's default)")
    parser.add_argument("--art-only", action="store_true", help="skip `mlsec attack`")
    parser.add_argument("--json", help="write the results here")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--worker-model", help=argparse.SUPPRESS)
    parser.add_argument("--worker-data", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args)
    from threadpoolctl import threadpool_limits

    attacks = args.attacks.split(",")
    busy0, mine0, wall0 = *cpu_seconds(), time.perf_counter()
    results = {"setup": {"model": "mlp:64-128-10, 100 epochs, seed 0", "rows": {}, "runs": args.runs,
                         "cpus": os.cpu_count(),
                         "art_batch_size": args.art_batch_size, "settings": {a: SETTINGS[a] for a in attacks}}}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        model_dir = tmp / "mlp"
        for cmd in (["train", "--data", "digits-train", "--label-column", "label", "--architecture", "mlp:64-128-10",
                     "--epochs", 100, "--seed", 0, "--out", model_dir],
                    ["bench", "export-digits", "--split", "test"]):
            _, proc = mlsec_run(args.mlsec, *cmd)
            if proc.returncode != 0:
                sys.exit(f"mlsec {cmd[0]} failed:\n{proc.stderr}")
        digits = json.loads(proc.stdout)
        x, y = np.array(digits["x"], dtype=np.float64), np.array(digits["y"], dtype=int)
        # FGSM and PGD run over the test rows repeated --repeat times, so that the end-to-end figure is the attack's
        # rate rather than process start-up (360 rows of FGSM take 2 ms; starting mlsec takes about 30).
        x, y = np.tile(x, (args.repeat, 1)), np.tile(y, args.repeat)
        data_for = {"fgsm": (write_csv(tmp / "test.csv", x, y), len(y)), "pgd": (tmp / "test.csv", len(y)),
                    "cw": (write_csv(tmp / "cw.csv", x[:args.cw_rows], y[:args.cw_rows]), args.cw_rows),
                    "hopskipjump": (write_csv(tmp / "hsj.csv", x[:args.hsj_rows], y[:args.hsj_rows]), args.hsj_rows)}
        results["setup"]["rows"] = {a: data_for[a][1] for a in attacks}

        if not args.art_only:
            results["mlsec"], flags = run_mlsec(args.mlsec, model_dir, tmp, attacks, args.runs, data_for)
        print("ART (NumPy classifier) ...", file=sys.stderr, flush=True)
        with threadpool_limits(limits=1, user_api="blas"):
            results["art_numpy"] = run_art("numpy", model_dir, x, y, attacks, args.runs, args.art_batch_size,
                                           args.cw_rows, args.hsj_rows)
        if args.art_venv:
            python = pathlib.Path(args.art_venv) / "bin" / "python"
            check = subprocess.run([str(python), "-c", "import torch, art, safetensors, scipy"], capture_output=True,
                                   text=True)
            if check.returncode != 0:
                results["art_torch"] = {"error": f"{python} lacks torch/ART: {check.stderr.strip()[-300:]}"}
            else:
                print("ART (PyTorchClassifier) ...", file=sys.stderr, flush=True)
                np.savez(tmp / "data.npz", x=x, y=y)
                proc = subprocess.run([str(python), __file__, "--worker", "torch", "--worker-model", str(model_dir),
                                       "--worker-data", str(tmp / "data.npz"), "--attacks", args.attacks,
                                       "--runs", str(args.runs), "--art-batch-size", str(args.art_batch_size),
                                       "--cw-rows", str(args.cw_rows), "--hsj-rows", str(args.hsj_rows),
                                       "--torch-threads", str(args.torch_threads)],
                                      capture_output=True, text=True)
                if proc.returncode != 0:
                    results["art_torch"] = {"error": proc.stderr.strip()[-1000:]}
                else:
                    w = json.loads(proc.stdout.strip().splitlines()[-1])
                    results["art_torch"] = w["results"]
                    results["setup"]["torch"] = {"version": w["torch"], "threads": w["threads"]}
                    # End to end, as MLSec is timed: a fresh process per attack (interpreter start, torch and ART
                    # imports, model and data load, one generate).
                    results["art_torch_end_to_end"] = {}
                    for a in attacks:
                        start = time.perf_counter()
                        one = subprocess.run([str(python), __file__, "--worker", "torch", "--worker-model", str(model_dir),
                                              "--worker-data", str(tmp / "data.npz"), "--attacks", a, "--runs", "1",
                                              "--art-batch-size", str(args.art_batch_size), "--cw-rows", str(args.cw_rows),
                                              "--hsj-rows", str(args.hsj_rows), "--torch-threads", str(args.torch_threads)],
                                             capture_output=True, text=True)
                        wall = time.perf_counter() - start
                        if one.returncode == 0:
                            rows = data_for[a][1]
                            results["art_torch_end_to_end"][a] = {"rows": rows, "wall_seconds": wall,
                                                                  "examples_per_second": rows / wall}

    busy1, mine1 = cpu_seconds()
    results["setup"]["wall_seconds"] = time.perf_counter() - wall0
    results["setup"]["other_processes_cpu_seconds"] = (None if busy0 is None
                                                       else max(0.0, (busy1 - busy0) - (mine1 - mine0)))
    print_table(results, attacks)
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps(results, indent=2) + "\n")


def print_table(results, attacks):
    print("settings (the same on both sides):")
    for a in attacks:
        print(f"  {NAMES[a]:<12} rows {results['setup']['rows'][a]:<4} {SETTINGS[a]}")
    print(f"  ART batch size {results['setup']['art_batch_size'] or 'ART defaults'}; ART NumPy with 1 BLAS thread"
          + (f"; torch {results['setup']['torch']['version']} with {results['setup']['torch']['threads']} threads"
             if "torch" in results["setup"] else ""))
    other, wall = results["setup"]["other_processes_cpu_seconds"], results["setup"]["wall_seconds"]
    if other is not None:
        print(f"  {results['setup']['cpus']} CPUs; other processes used {other:.1f} CPU-s during the {wall:.0f} s run"
              + (" (busy machine: timings are unreliable)" if other > 0.1 * wall else " (quiet machine)"))
    ml = results.get("mlsec", {})
    backends = [b for b in ("art_numpy", "art_torch") if b in results and "error" not in results[b]]
    header = f"{'attack':<12} {'MLSec ex/s':>11} {'(in-process)':>12}"
    for b in backends:
        header += f" {b.replace('art_', 'ART-') + ' ex/s':>15} {'MLSec/' + b.replace('art_', 'ART-'):>16}"
    header += "   adversarial accuracy (MLSec | " + " | ".join(b.replace("art_", "ART-") for b in backends) + ")"
    print(header)
    for a in attacks:
        m = ml.get(a, {})
        rate = m.get("examples_per_second")
        own = m["summary"].get("examples_per_second") if "summary" in m else None
        line = f"{NAMES[a]:<12} {fmt_rate(rate):>11} {fmt_rate(own):>12}"
        accs = [f"{m['summary']['adversarial_accuracy']:.4f}" if "summary" in m else "-"]
        for b in backends:
            r = results[b][a]
            ratio = f"{rate / r['examples_per_second']:.1f}x" if rate else "-"
            line += f" {fmt_rate(r['examples_per_second']):>15} {ratio:>16}"
            acc = f"{r['adversarial_accuracy']:.4f}"
            if "adversarial_accuracy_within_eps" in r:
                acc += f" ({r['adversarial_accuracy_within_eps']:.4f} within eps)"
            if "queries" in r:
                acc += f" [{r['queries'] / r['rows']:,.0f} queries/row]"
            accs.append(acc)
        if "summary" in m and m["summary"].get("queries"):
            accs[0] += f" [{m['summary']['queries'] / m['rows']:,.0f} queries/row]"
        print(line + "   " + " | ".join(accs))
    e2e = results.get("art_torch_end_to_end") or {}
    if e2e:
        print("end to end on both sides (a fresh ART process per attack: interpreter, imports, setup, generate):")
        for a in attacks:
            rate, r = ml.get(a, {}).get("examples_per_second"), e2e.get(a)
            if rate and r:
                print(f"  {NAMES[a]:<12} MLSec {fmt_rate(rate):>9}  ART-torch {fmt_rate(r['examples_per_second']):>9}"
                      f" ({r['wall_seconds']:.2f} s)  {rate / r['examples_per_second']:.1f}x")
    for key in ("mlsec", "art_torch"):
        if isinstance(results.get(key), dict) and "error" in results[key]:
            print(f"{key}: {results[key]['error']}")
    for a, m in ml.items():
        if isinstance(m, dict) and m.get("error"):
            print(f"mlsec {a}: {m['error']}")
        if isinstance(m, dict) and m.get("flags_not_offered"):
            print(f"mlsec {a}: no {', '.join(m['flags_not_offered'])} flag(s); MLSec's own defaults used for those")


if __name__ == "__main__":
    main()
