#!/usr/bin/env python3
"""Accountant benchmark: `mlsec privacy epsilon|calibrate` vs dp-accounting 0.6.0, in the same run.

Configurations are the reference's timing table (../shared/references/differential-privacy.md section 3):
sigma in {1 (q 0.01, 0.001), 2 (q 0.1)} x steps {10,000, 100,000}, delta 1e-5, RDP (156 orders) and PLD
(interval 1e-4); then noise calibration for epsilon 3 (q 0.01, 10,000 steps). Each round runs every case once per
tool, interleaved; the report gives medians and ratio = dp-accounting time / mlsec time.
mlsec is timed end to end (a fresh process: start-up, accounting, JSON), wall clock and CPU (user + system, from
the child's rusage); dp-accounting in this process (compose + get_epsilon, or calibrate_dp_mechanism with the
bracket [0.3, 20] and tolerance 1e-9 for RDP, 1e-6 for PLD, as in the reference). The start-up of an mlsec process
(`mlsec --version`) is reported alone: "acct CPU" is mlsec's CPU minus that start-up CPU, the accounting itself.
Usage: Benchmarks/privacy/bench_accountants.py [--rounds N] [--mlsec PATH] [--json OUT] [--quick]
"""
import argparse
import json
import os
import pathlib
import resource
import statistics
import subprocess
import sys
import time

from dp_accounting import dp_event, mechanism_calibration
from dp_accounting.pld import pld_privacy_accountant
from dp_accounting.rdp import rdp_privacy_accountant

ROOT = pathlib.Path(__file__).resolve().parents[2]
DELTA = 1e-5
CONFIGS = [(1.0, 0.01), (1.0, 0.001), (2.0, 0.1)]
STEPS = [10_000, 100_000]


def event(sigma, q, steps):
    return dp_event.SelfComposedDpEvent(dp_event.PoissonSampledDpEvent(q, dp_event.GaussianDpEvent(sigma)), steps)


def dp_epsilon(kind, sigma, q, steps):
    accountant = rdp_privacy_accountant.RdpAccountant() if kind == "rdp" else pld_privacy_accountant.PLDAccountant()
    accountant.compose(event(sigma, q, steps))
    return accountant.get_epsilon(DELTA)


def dp_calibrate(kind, target, q, steps):
    fresh = rdp_privacy_accountant.RdpAccountant if kind == "rdp" else pld_privacy_accountant.PLDAccountant
    return mechanism_calibration.calibrate_dp_mechanism(
        fresh, lambda s: event(s, q, steps), target, DELTA, mechanism_calibration.ExplicitBracketInterval(0.3, 20),
        tol=1e-9 if kind == "rdp" else 1e-6)


def timed(function):
    start = time.perf_counter()
    value = function()
    return time.perf_counter() - start, value


def children_cpu():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_mlsec(binary, args):
    """(wall seconds, CPU seconds, parsed output) of one mlsec process."""
    cpu = children_cpu()
    start = time.perf_counter()
    out = subprocess.run([binary, *map(str, args)], check=True, capture_output=True, text=True).stdout
    wall = time.perf_counter() - start
    return wall, children_cpu() - cpu, (json.loads(out) if out.strip().startswith("{") else out)


def cases(quick):
    for kind in ("rdp", "pld"):
        for sigma, q in CONFIGS:
            for steps in STEPS:
                if quick and steps > 10_000:
                    continue
                args = ["privacy", "epsilon", "--noise-multiplier", sigma, "--sample-rate", q, "--steps", steps,
                        "--delta", DELTA, "--accountant", kind]
                yield (f"{kind} sigma={sigma} q={q} T={steps}", args,
                       lambda kind=kind, sigma=sigma, q=q, steps=steps: dp_epsilon(kind, sigma, q, steps))
    for kind in ("rdp", "pld"):
        if quick and kind == "pld":
            continue
        args = ["privacy", "calibrate", "--target-epsilon", 3, "--sample-rate", 0.01, "--steps", 10_000,
                "--delta", DELTA, "--accountant", kind]
        yield (f"calibrate {kind} eps=3 q=0.01 T=10000", args, lambda kind=kind: dp_calibrate(kind, 3.0, 0.01, 10_000))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--mlsec", default=os.environ.get("MLSEC_BIN", str(ROOT / ".build" / "release" / "mlsec")))
    parser.add_argument("--json", help="write the results here as JSON")
    parser.add_argument("--quick", action="store_true", help="10,000 steps only, no PLD calibration")
    args = parser.parse_args()

    all_cases = list(cases(args.quick))
    times = {name: {"mlsec": [], "mlsec_cpu": [], "dp-accounting": []} for name, _, _ in all_cases}
    values = {}
    startup, startup_cpu = [], []
    for _ in range(args.rounds):
        wall, cpu, _ = run_mlsec(args.mlsec, ["--version"])
        startup.append(wall)
        startup_cpu.append(cpu)
        for name, cli, reference in all_cases:
            wall, cpu, ours = run_mlsec(args.mlsec, cli)
            times[name]["mlsec"].append(wall)
            times[name]["mlsec_cpu"].append(cpu)
            seconds, theirs = timed(reference)
            times[name]["dp-accounting"].append(seconds)
            values[name] = (ours, theirs)

    base_cpu = statistics.median(startup_cpu)
    print(f"mlsec process start-up (mlsec --version): {statistics.median(startup) * 1e3:.1f} ms wall, "
          f"{base_cpu * 1e3:.1f} ms CPU (medians of {args.rounds})")
    print(f"{'case':<38} {'mlsec':>9} {'acct CPU':>9} {'dp-acc':>9} {'ratio':>7}  values (mlsec | dp-accounting)")
    report = {"rounds": args.rounds, "startup_s": statistics.median(startup), "startup_cpu_s": base_cpu, "cases": []}
    for name, _, _ in all_cases:
        ours, cpu, theirs = (statistics.median(times[name][key]) for key in ("mlsec", "mlsec_cpu", "dp-accounting"))
        mine, reference = values[name]
        shown = mine.get("epsilon") if "noise_multiplier" not in mine else (mine["noise_multiplier"], mine["epsilon"])
        print(f"{name:<38} {ours * 1e3:>7.1f}ms {max(cpu - base_cpu, 0) * 1e3:>7.1f}ms {theirs * 1e3:>7.1f}ms "
              f"{theirs / ours:>6.1f}x  {shown} | {reference}")
        report["cases"].append({"case": name, "mlsec_s": ours, "mlsec_cpu_s": cpu,
                                "mlsec_accounting_cpu_s": max(cpu - base_cpu, 0), "dp_accounting_s": theirs,
                                "ratio": theirs / ours, "mlsec": mine, "dp_accounting": reference})
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    sys.exit(main())
