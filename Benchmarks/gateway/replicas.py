#!/usr/bin/env python3
"""The shared state's overhead: secured infer throughput with every piece of state in PostgreSQL (API keys,
roles, rate limits, quotas, the audit log) vs the embedded default (in-process limiter, SQLite), in one run;
then two replicas sharing PostgreSQL.

Starts a private PostgreSQL (scripts/postgres.sh), prepares one demo state (model, receipt and checkpoint
keys) copied to each gateway's state directory, creates the bench key in SQLite (embedded) and in PostgreSQL
(`mlsec apikey create --config`), and runs wrk -t1 -c32 on 127.0.0.1 against: one gateway with embedded
state; one with `database` set; then two replicas with `database` set, each under its own wrk at the same time
(their sum). All gateways use batch audit durability so that the state, not the fsync wait, is what differs.
Targets interleave over --rounds rounds; medians are printed. Needs wrk and a release build.

With --cpu-quota Q (root, cgroup v1 or v2), each gateway runs in a cgroup of its own limited to Q CPUs, so that
the gateways, not the shared machine, are the bottleneck: that shows whether the shared state lets throughput
grow with the replicas (two replicas with Q each against one), which two unconstrained replicas on 2 cores cannot.

Usage: replicas.py [--seconds 8] [--rounds 3] [--keep] [--cpu-quota 0.35]
"""
import os
import argparse
import json
import pathlib
import re
import shutil
import signal
import subprocess
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[2]
MLSEC = str(ROOT / ".build" / "release" / "mlsec")


def cpu_limit(name, pid, quota):
    """Moves `pid` (all its threads) into a cgroup of its own limited to `quota` CPUs; returns the cgroup's path."""
    v2 = pathlib.Path("/sys/fs/cgroup/cgroup.controllers").exists()
    group = pathlib.Path("/sys/fs/cgroup" if v2 else "/sys/fs/cgroup/cpu") / f"mlsec-bench-{name}-{os.getpid()}"
    group.mkdir()
    period = 100_000
    if v2:
        (group / "cpu.max").write_text(f"{int(quota * period)} {period}")
    else:
        (group / "cpu.cfs_period_us").write_text(str(period))
        (group / "cpu.cfs_quota_us").write_text(str(int(quota * period)))
    (group / "cgroup.procs").write_text(str(pid))
    return group


def serve(config, log):
    proc = subprocess.Popen([MLSEC, "serve", "--config", str(config)], stdout=subprocess.PIPE, stderr=open(log, "w"), text=True)
    for line in proc.stdout:
        if line.startswith("mlsec gateway listening on "):
            return proc, line.split()[-1]
    raise SystemExit(f"gateway did not start: {open(log).read()[-2000:]}")


def config_for(work, name, demo, database):
    state = work / name
    shutil.copytree(demo, state, ignore=shutil.ignore_patterns("audit.db*"))
    doc = {"listen": {"host": "127.0.0.1", "port": 0}, "state_dir": str(state), "audit": {"durability": "batch"},
           "models": [{"name": "digits", "path": str(state / "models/digits/{version}"),
                       "signature": str(state / "models/digits-{version}.sig"), "public_keys": [str(state / "publisher.pub")],
                       "input_range": [0, 1]}]}
    if database:
        doc["database"] = {"url": database}
    path = work / f"{name}.json"
    path.write_text(json.dumps(doc))
    return path


def start_wrk(url, script, seconds, connections):
    return subprocess.Popen(["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(script),
                             url + "/v2/models/digits/infer"], stdout=subprocess.PIPE, text=True)


def result(proc):
    out = proc.communicate()[0]
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p99 = re.search(r"^\s+99%\s+([\d.]+\w+)", out, re.M).group(1)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return rps, p99, int(non2xx.group(1)) if non2xx else 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--keep", action="store_true", help="keep the gateways' state and logs (the folder is printed)")
    ap.add_argument("--cpu-quota", type=float, help="limit each gateway to this many CPUs (a cgroup each; needs root)")
    args = ap.parse_args()
    work = pathlib.Path(tempfile.mkdtemp(prefix="mlsec-replicas-"))
    pg_dir = pathlib.Path(tempfile.mkdtemp(prefix="mlsec-pg-"))
    pg_dir.rmdir()
    procs = []
    groups = []
    try:
        out = subprocess.run([str(ROOT / "scripts" / "postgres.sh"), "start", str(pg_dir)], capture_output=True, text=True, check=True)
        database = next(l.split("=", 1)[1] for l in out.stdout.splitlines() if "MLSEC_TEST_POSTGRES_URL" in l)
        demo = work / "demo"
        proc = subprocess.Popen([MLSEC, "serve", "--demo", "--state-dir", str(demo), "--port", "0"],
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        for line in proc.stdout:
            if line.startswith("mlsec gateway listening on"):
                break
        proc.send_signal(signal.SIGTERM)
        proc.wait()
        def bench_key(*where):
            return json.loads(subprocess.run([MLSEC, "apikey", "create", *where, "--name", "bench", "--role", "inference",
                                              "--models", "digits", "--requests-per-second", "1000000", "--burst", "1000000",
                                              "--max-concurrent", "1000"], capture_output=True, text=True, check=True).stdout)["key"]

        body = json.dumps({"inputs": [{"name": "input", "shape": [1, 64], "datatype": "FP32", "data": [0.5] * 64}]})

        def wrk_script(name, key):
            path = work / f"{name}.lua"
            path.write_text('wrk.method = "POST"\n' f"wrk.body = {json.dumps(body)}\n"
                            'wrk.headers["Content-Type"] = "application/json"\n'
                            f'wrk.headers["Authorization"] = "Bearer {key}"\n')
            return path

        embedded_script = wrk_script("embedded", bench_key("--state-dir", str(demo)))
        configs = {name: config_for(work, name, demo, db)
                   for name, db in [("embedded", None), ("postgres", database), ("replica-1", database), ("replica-2", database)]}
        shared_script = wrk_script("shared", bench_key("--config", str(configs["postgres"])))
        gateways = {}
        for name, config in configs.items():
            proc, url = serve(config, work / f"{name}.log")
            procs.append(proc)
            gateways[name] = url
            if args.cpu_quota:
                groups.append(cpu_limit(name, proc.pid, args.cpu_quota))
        time.sleep(1)
        rows = {"embedded (in-process limiter, SQLite)": [], "PostgreSQL state, one replica": [],
                "PostgreSQL state, two replicas (sum)": []}
        for _ in range(args.rounds):
            rows["embedded (in-process limiter, SQLite)"].append(result(start_wrk(gateways["embedded"], embedded_script, args.seconds, 32)))
            rows["PostgreSQL state, one replica"].append(result(start_wrk(gateways["postgres"], shared_script, args.seconds, 32)))
            both = [start_wrk(gateways[n], shared_script, args.seconds, 16) for n in ["replica-1", "replica-2"]]
            a, b = [result(p) for p in both]
            rows["PostgreSQL state, two replicas (sum)"].append((a[0] + b[0], f"{a[1]}/{b[1]}", a[2] + b[2]))
        base = sorted(r[0] for r in rows["embedded (in-process limiter, SQLite)"])[args.rounds // 2]
        limited = f"each gateway limited to {args.cpu_quota} CPUs" if args.cpu_quota else "no CPU limit"
        print(f"wrk -t1 on 127.0.0.1, -c32 per target (-c16 per replica), {args.seconds}s, median of {args.rounds} rounds, "
              f"{os.cpu_count()} cores shared by wrk, PostgreSQL and the gateways ({limited}); batch audit durability everywhere")
        print(f"{'state':40} {'req/s':>9} {'p99':>14} {'non-2xx':>8} {'of embedded':>12}  runs")
        for name, runs in rows.items():
            ordered = sorted(runs, key=lambda r: r[0])
            rps, p99, bad = ordered[len(ordered) // 2]
            print(f"{name:40} {rps:9.0f} {p99:>14} {bad:8d} {rps / base:12.2f}  " + " / ".join(f"{r[0]:.0f}" for r in runs))
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
        if args.keep and (pg_dir / "server.log").exists():
            shutil.copy(pg_dir / "server.log", work / "postgres-server.log")
        subprocess.run([str(ROOT / "scripts" / "postgres.sh"), "stop", str(pg_dir)])
        for group in groups:
            try:
                group.rmdir()
            except OSError:
                pass
        if args.keep:
            print(f"state and logs kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
