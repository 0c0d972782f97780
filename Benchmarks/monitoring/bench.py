#!/usr/bin/env python3
"""What inference monitoring adds to a request at the gateway (issue 20's goal: at most 10 microseconds).

Two measurements:
1. In process, `mlsec bench monitor`: nanoseconds per one-row request for each step the gateway runs for a
   monitored model (query-pattern admission, extraction budget, OOD score, window and query-pattern update) and
   the window comparison amortised over the rows between comparisons.
2. End to end: one `mlsec serve --config` with the same signed digits model served twice, as "plain" (no monitor,
   called by an `inference` key) and "monitored" (models[].monitor with its reference, called by a key whose role
   has an extraction budget), driven by wrk (one-row JSON requests cycling through the 360 digits test rows,
   keep-alive) in interleaved rounds; the medians of the rounds' p50 latency and
   requests per second, and the ratio monitored / plain. On a shared machine the rounds' spread is printed too:
   a difference smaller than it is noise.

Usage: bench.py [--seconds 5] [--rounds 5] [--connections 8] [--requests 100000]
Needs `wrk` and a release build (swift build -c release --product mlsec).
"""
import argparse
import json
import pathlib
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[2]


def run(*args):
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, check=True).stdout


def wrk(url, script, seconds, connections):
    out = run("wrk", "-t", "1", "-c", connections, "-d", f"{seconds}s", "--latency", "-s", script, url)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p50 = re.search(r"^\s+50%\s+([\d.]+)(\w+)", out, re.M)
    scale = {"us": 1, "ms": 1000, "s": 1e6}[p50.group(2)]
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if non2xx:
        sys.exit(f"wrk got {non2xx.group(1)} non-2xx answers from {url}")
    return rps, float(p50.group(1)) * scale


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--connections", type=int, default=8)
    ap.add_argument("--requests", type=int, default=100_000)
    ap.add_argument("--mlsec", default=str(ROOT / ".build" / "release" / "mlsec"))
    args = ap.parse_args()
    mlsec = args.mlsec

    inproc = json.loads(run(mlsec, "bench", "monitor", "--requests", args.requests, "--repeats", 5))
    print("in process (ns per one-row request, median of 5):")
    for k in ("admission_ns", "extraction_budget_ns", "ood_score_ns", "observe_ns", "per_request_ns",
              "comparison_us", "comparison_amortised_ns", "total_ns"):
        print(f"  {k:26} {inproc[k]:>10.1f}")

    with tempfile.TemporaryDirectory() as tmp:
        d = pathlib.Path(tmp)
        demo = d / "demo"
        proc = subprocess.Popen([mlsec, "serve", "--demo", "--state-dir", demo, "--port", "0"], stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL, text=True)
        while not proc.stdout.readline().startswith("mlsec gateway listening on "):
            pass
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        model = demo / "models/digits/1"
        run(mlsec, "sign", model, "--private-key", demo / "publisher.pem", "--signature", d / "digits.sig")
        run(mlsec, "monitor", "profile", "--model", model, "--data", "digits-train", "--label-column", "label",
            "--out", d / "monitor.json")
        entry = {"path": str(model), "signature": str(d / "digits.sig"), "public_keys": [str(demo / "publisher.pub")],
                 "input_range": [0, 1]}
        config = {
            "listen": {"host": "127.0.0.1", "port": 0}, "state_dir": "state",
            "audit": {"durability": "batch"}, "limits": {"max_concurrent_per_key": 1000},
            "roles": {"partner": ["infer", "read_metadata"]},
            "extraction_defense": {"partner": {"budget": {"distinct_inputs": 10000000, "window_seconds": 3600}}},
            "models": [{"name": "plain", **entry},
                       {"name": "monitored", **entry, "monitor": {"reference": str(d / "monitor.json")}}],
        }
        (d / "gw.json").write_text(json.dumps(config))
        def key(name, role, *init):
            return json.loads(run(mlsec, "apikey", "create", "--config", d / "gw.json", *init, "--name", name, "--role", role,
                                  "--models", "*", "--requests-per-second", 1000000, "--burst", 1000000))["key"]
        plain_key = key("plain", "inference")
        partner_key = key("monitored", "partner")
        gw = subprocess.Popen([mlsec, "serve", "--config", d / "gw.json"], stdout=subprocess.PIPE,
                              stderr=open(d / "gw.log", "w"), text=True)
        url = None
        deadline = time.time() + 60
        while time.time() < deadline and url is None:
            line = gw.stdout.readline()
            if line.startswith("mlsec gateway listening on "):
                url = line.split()[-1]
        if url is None:
            sys.exit("the gateway did not start:\n" + (d / "gw.log").read_text()[-2000:])
        try:
            # The digits test rows in turn (clean inputs), as JSON bodies.
            rows = json.loads(run(mlsec, "bench", "export-digits", "--split", "test"))["x"]
            bodies = [json.dumps({"inputs": [{"name": "input", "shape": [1, 64], "datatype": "FP32", "data": row}]})
                      for row in rows]
            scripts = {}
            for name, key in (("plain", plain_key), ("monitored", partner_key)):
                scripts[name] = d / f"{name}.lua"
                scripts[name].write_text(
                    "bodies = {" + ",".join(json.dumps(b) for b in bodies) + "}\n"
                    f'headers = {{["Content-Type"] = "application/json", ["Authorization"] = "Bearer {key}"}}\n'
                    "i = 0\n"
                    "request = function()\n  i = i % #bodies + 1\n"
                    "  return wrk.format(\"POST\", nil, headers, bodies[i])\nend\n")
            results = {"plain": [], "monitored": []}
            for r in range(args.rounds):
                for name in (("plain", "monitored") if r % 2 == 0 else ("monitored", "plain")):
                    results[name].append(wrk(f"{url}/v2/models/{name}/infer", scripts[name], args.seconds, args.connections))
            print(f"\nend to end: wrk -t1 -c{args.connections}, {args.rounds} interleaved rounds of {args.seconds} s, "
                  "one-row JSON requests")
            med = {}
            for name, rounds in results.items():
                rps = [x[0] for x in rounds]
                p50 = [x[1] for x in rounds]
                med[name] = (statistics.median(rps), statistics.median(p50))
                print(f"  {name:10} {med[name][0]:>9.0f} req/s (rounds {min(rps):.0f}-{max(rps):.0f})   "
                      f"p50 {med[name][1]:>7.1f} us (rounds {min(p50):.1f}-{max(p50):.1f})")
            print(f"  monitored / plain: p50 latency x{med['monitored'][1] / med['plain'][1]:.3f}, "
                  f"throughput x{med['monitored'][0] / med['plain'][0]:.3f}; "
                  f"CPU time per request {1e6 / med['monitored'][0] - 1e6 / med['plain'][0]:+.1f} us "
                  "(from throughput at saturation)")
        finally:
            gw.send_signal(signal.SIGTERM)
            gw.wait(timeout=30)


if __name__ == "__main__":
    main()
