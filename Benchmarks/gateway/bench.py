#!/usr/bin/env python3
"""The secured inference endpoint under wrk on 127.0.0.1, side by side with nginx returning a static 200.

Starts nginx (a static 200), `mlsec serve --demo` (API key, RBAC, a per-key rate limit set high, validation,
inference, output validation, a signed receipt and a durable audit entry per request) and the yardstick
`mlsec-gateway-baseline` (bare Hummingbird, Codable V2 JSON, the same model, no controls), then runs wrk
against: nginx; the baseline; MLSec's JSON infer endpoint with a 1x64 FP32 input; the same with the binary
tensor extension; a batch of 16 (16x64) with JSON and with binary tensors; and MLSec's unauthenticated health
endpoint. Targets are interleaved in each round and the
medians of the rounds are printed with p50/p99 latency and the ratios to nginx and to the baseline. Same
method as ../shared/references/inference-gateway.md: wrk -t1 -c32, nginx with 2 workers.
Needs `wrk` and `nginx` (apt-get install wrk nginx-light) and a release build of both executables.
Bounded: rounds x targets x --seconds.

Usage: bench.py [--seconds 8] [--rounds 3] [--connections 32] [--threads 1] [--only "infer JSON"]
"""
import argparse
import json
import os
import pathlib
import re
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = pathlib.Path(__file__).resolve().parents[2]


def free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wrk(url, seconds, connections, threads, script=None):
    args = ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{seconds}s", "--latency", url]
    if script:
        args[1:1] = ["-s", script]
    out = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    lat = dict(re.findall(r"^\s+(50|99)%\s+([\d.]+\w+)", out, re.M))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return rps, lat.get("50"), lat.get("99"), int(non2xx.group(1)) if non2xx else 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--only", help="comma-separated words: run only the targets whose names contain one (nginx always runs)")
    ap.add_argument("--mlsec", default=str(ROOT / ".build" / "release" / "mlsec"))
    ap.add_argument("--baseline", default=str(ROOT / ".build" / "release" / "mlsec-gateway-baseline"))
    args = ap.parse_args()
    for tool in ["wrk", "nginx"]:
        if not shutil.which(tool) and not os.path.exists(f"/usr/sbin/{tool}"):
            sys.exit(f"{tool} is needed (apt-get install wrk nginx-light)")
    work = pathlib.Path(tempfile.mkdtemp(prefix="mlsec-gw-bench-"))
    procs = []
    try:
        nport = free_port()
        (work / "nginx.conf").write_text(f"""
worker_processes 2; daemon off; pid {work}/nginx.pid; error_log {work}/nginx-error.log;
events {{ worker_connections 1024; }}
http {{ access_log off; client_body_temp_path {work}; proxy_temp_path {work}; fastcgi_temp_path {work};
        uwsgi_temp_path {work}; scgi_temp_path {work};
        server {{ listen 127.0.0.1:{nport}; location / {{ return 200 "ok"; }} }} }}
""")
        procs.append(subprocess.Popen([shutil.which("nginx") or "/usr/sbin/nginx", "-c", str(work / "nginx.conf")]))
        gateways = []

        def gateway(name, extra):
            port = free_port()
            state = work / name
            gw = subprocess.Popen([args.mlsec, "serve", "--demo", "--state-dir", str(state), "--port", str(port)] + extra,
                                  stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
            procs.append(gw)
            gateways.append((name, gw))
            for line in gw.stdout:
                if line.startswith("mlsec gateway listening on"):
                    break
            url = f"http://127.0.0.1:{port}"
            creds = json.loads((state / "demo-credentials.json").read_text())
            req = urllib.request.Request(url + "/admin/keys", method="POST", data=json.dumps({
                "name": "bench", "role": "inference", "models": ["digits"], "max_concurrent": 1000,
                "rate_limit": {"requests_per_second": 1000000, "burst": 1000000}}).encode(),
                headers={"Authorization": f"Bearer {creds['api_keys']['admin']}", "Content-Type": "application/json"})
            admins[name] = (url, creds["api_keys"]["admin"])
            return url, json.loads(urllib.request.urlopen(req).read())["key"]

        def audit_commits(name):
            """(commits, entries) the gateway's audit writer made so far, from /metrics."""
            url, admin = admins[name]
            text = urllib.request.urlopen(urllib.request.Request(url + "/metrics", headers={"Authorization": f"Bearer {admin}"})).read().decode()
            commits = float(re.search(r"^mlsec_audit_commits_total\s+(\S+)", text, re.M).group(1))
            entries = float(re.search(r"^mlsec_audit_entries_total\s+(\S+)", text, re.M).group(1))
            seconds = float(re.search(r"^mlsec_audit_commit_seconds\s+(\S+)", text, re.M).group(1))
            return commits, entries, seconds

        admins = {}
        url, key = gateway("state", [])
        batch_url, batch_key = gateway("state-batch", ["--audit-durability", "batch"])
        def scripts(rows, keys):
            """wrk scripts for a batch of `rows` x 64 FP32 values, JSON and binary, one per (name prefix, key)."""
            values = [((i * 7) % 17) / 16 for i in range(rows * 64)]
            body = json.dumps({"inputs": [{"name": "input", "shape": [rows, 64], "datatype": "FP32", "data": values}]})
            header = json.dumps({"inputs": [{"name": "input", "shape": [rows, 64], "datatype": "FP32",
                                             "parameters": {"binary_data_size": 4 * len(values)}}],
                                 "outputs": [{"name": "output", "parameters": {"binary_data": True}}]}).encode()
            lua_bytes = "".join(f"\\{b}" for b in header + struct.pack(f"<{len(values)}f", *values))
            for prefix, k in keys:
                (work / f"json{prefix}.lua").write_text(
                    'wrk.method = "POST"\n'
                    f'wrk.body = {json.dumps(body)}\n'
                    'wrk.headers["Content-Type"] = "application/json"\n'
                    f'wrk.headers["Authorization"] = "Bearer {k}"\n')
                (work / f"binary{prefix}.lua").write_text(
                    'wrk.method = "POST"\n'
                    f'wrk.body = "{lua_bytes}"\n'
                    'wrk.headers["Content-Type"] = "application/octet-stream"\n'
                    f'wrk.headers["Inference-Header-Content-Length"] = "{len(header)}"\n'
                    f'wrk.headers["Authorization"] = "Bearer {k}"\n')
            return body

        body = scripts(1, [("", key), ("-batch", batch_key)])
        # A batch of 16 (1,024 input values): where the tensor encoding, not the fixed per-request cost, matters.
        scripts(16, [("16-batch", batch_key)])
        bport = free_port()
        baseline = subprocess.Popen([args.baseline, str(work / "state" / "models" / "digits" / "1"), str(bport)],
                                    stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        procs.append(baseline)
        baseline.stdout.readline()
        (work / "plain.lua").write_text(
            'wrk.method = "POST"\n'
            f'wrk.body = {json.dumps(body)}\n'
            'wrk.headers["Content-Type"] = "application/json"\n')
        time.sleep(1)
        runs = [
            ("nginx static 200", f"http://127.0.0.1:{nport}/", None),
            ("bare Hummingbird infer JSON", f"http://127.0.0.1:{bport}/v2/models/digits/infer", str(work / "plain.lua")),
            ("mlsec infer JSON", url + "/v2/models/digits/infer", str(work / "json.lua")),
            ("mlsec infer binary", url + "/v2/models/digits/infer", str(work / "binary.lua")),
            ("mlsec infer JSON, batch audit", batch_url + "/v2/models/digits/infer", str(work / "json-batch.lua")),
            ("mlsec infer binary, batch audit", batch_url + "/v2/models/digits/infer", str(work / "binary-batch.lua")),
            ("mlsec 16x64 JSON, batch audit", batch_url + "/v2/models/digits/infer", str(work / "json16-batch.lua")),
            ("mlsec 16x64 binary, batch audit", batch_url + "/v2/models/digits/infer", str(work / "binary16-batch.lua")),
            ("mlsec health (no auth)", url + "/v2/health/live", None),
        ]
        if args.only:
            words = args.only.split(",")
            runs = [r for i, r in enumerate(runs) if i < 2 or any(w in r[0] for w in words)]
        before = {name: audit_commits(name) for name in admins}
        rounds = [[wrk(u, args.seconds, args.connections, args.threads, s) for _, u, s in runs] for _ in range(args.rounds)]
        after = {name: audit_commits(name) for name in admins}
        results = []
        for i, (name, _, _) in enumerate(runs):
            ordered = sorted((r[i] for r in rounds), key=lambda r: r[0])
            rps, p50, p99, _ = ordered[len(ordered) // 2]
            results.append((name, rps, p50, p99, sum(r[i][3] for r in rounds), [r[i][0] for r in rounds]))
        base, yardstick = results[0][1], results[1][1]
        print(f"wrk -t{args.threads} -c{args.connections} -d{args.seconds}s on 127.0.0.1, {os.cpu_count()} cores, "
              f"median of {args.rounds} interleaved rounds")
        print(f"{'endpoint':32} {'req/s':>9} {'p50':>9} {'p99':>9} {'non-2xx':>8} {'of nginx':>9} {'of bare HB':>10}  runs")
        for name, rps, p50, p99, bad, all_rps in results:
            print(f"{name:32} {rps:9.0f} {p50:>9} {p99:>9} {bad:8d} {rps / base:9.3f} {rps / yardstick:10.2f}  "
                  + " / ".join(f"{r:.0f}" for r in all_rps))
        for name in admins:
            commits = after[name][0] - before[name][0]
            entries = after[name][1] - before[name][1]
            seconds = after[name][2] - before[name][2]
            print(f"audit writer {name}: {entries:.0f} entries in {commits:.0f} commits = "
                  f"{entries / max(commits, 1):.1f} entries per commit (fsync), {1000 * seconds / max(commits, 1):.2f} ms per commit")
        for name, gw in gateways:  # a clean stop drains the batch writer; then count what each log holds
            gw.send_signal(signal.SIGTERM)
            gw.wait(timeout=30)
            audit = subprocess.run([args.mlsec, "audit", "verify", "--log", str(work / name / "audit.db")],
                                   capture_output=True, text=True)
            root = subprocess.run([args.mlsec, "audit", "root", "--log", str(work / name / "audit.db")],
                                  capture_output=True, text=True)
            size = json.loads(root.stdout)["size"] if root.returncode == 0 else "?"
            print(f"audit log {name}: {size} entries, verify exit {audit.returncode}")
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
