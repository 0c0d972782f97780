"""Gateways sharing rate-limit state in a real PostgreSQL server on 127.0.0.1 (a private one this test starts
with scripts/postgres.sh): two replicas enforce one combined limit, and a PostgreSQL restart under load makes
the gateway fail closed (503) and recover without a restart."""
import json
import os
import pathlib
import shutil
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request

import pytest

from conftest import ROOT, mlsec, mlsec_bin

BODY = json.dumps({"inputs": [{"name": "input", "shape": [1, 64], "datatype": "FP32", "data": [0.5] * 64}]}).encode()


@pytest.fixture(scope="module")
def postgres(tmp_path_factory):
    """A private server of our own, so that this test may restart it (under /tmp: the server's own user must
    be able to reach its directory when the tests run as root)."""
    import tempfile
    directory = pathlib.Path(tempfile.mkdtemp(prefix="mlsec-pg-"))
    directory.rmdir()
    out = subprocess.run([str(ROOT / "scripts" / "postgres.sh"), "start", str(directory)], capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr
    env = dict(line.replace("export ", "").split("=", 1) for line in out.stdout.splitlines() if line.startswith("export "))
    yield {"url": env["MLSEC_TEST_POSTGRES_URL"], "dir": directory}
    subprocess.run([str(ROOT / "scripts" / "postgres.sh"), "stop", str(directory)], timeout=120)


def start_gateway(tmp_path, name, state, database_url):
    config = tmp_path / f"{name}.json"
    config.write_text(json.dumps({
        "listen": {"host": "127.0.0.1", "port": 0}, "state_dir": str(state),
        "database": {"url": database_url},
        "models": [{"name": "digits", "path": str(state / "models/digits/{version}"),
                    "signature": str(state / "models/digits-{version}.sig"), "public_keys": [str(state / "publisher.pub")],
                    "input_range": [0, 1]}],
    }))
    log = tmp_path / f"{name}.log"
    proc = subprocess.Popen([mlsec_bin(), "serve", "--config", str(config)], stdout=subprocess.PIPE, stderr=open(log, "w"), text=True)
    deadline = time.time() + 60
    while time.time() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        if line.startswith("mlsec gateway listening on "):
            return proc, line.split()[-1]
    proc.kill()
    pytest.fail(f"{name} did not start:\n" + log.read_text()[-3000:])


def infer(url, key):
    req = urllib.request.Request(url + "/v2/models/digits/infer", data=BODY, method="POST",
                                 headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            r.read()
            return r.status
    except urllib.error.HTTPError as e:
        e.read()
        return e.code
    except OSError:
        return 0


def stop(proc):
    if proc and proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="module")
def replicas(postgres, tmp_path_factory):
    """Two replicas with the same model and the same API keys (one keys database copied to both state
    directories) and one PostgreSQL for their rate-limit state."""
    tmp = tmp_path_factory.mktemp("replicas")
    demo = tmp / "demo"
    proc = subprocess.Popen([mlsec_bin(), "serve", "--demo", "--state-dir", str(demo), "--port", "0"],
                            stdout=subprocess.PIPE, stderr=open(tmp / "demo.log", "w"), text=True)
    for line in proc.stdout:
        if line.startswith("mlsec gateway listening on"):
            break
    stop(proc)
    key = json.loads(mlsec("apikey", "create", "--state-dir", demo, "--name", "shared", "--role", "inference",
                           "--models", "digits", "--requests-per-second", "20", "--burst", "20", "--max-concurrent", "64",
                           check=0).stdout)["key"]
    states = []
    for name in ["r1", "r2"]:
        state = tmp / name
        shutil.copytree(demo, state, ignore=shutil.ignore_patterns("audit.db*"))
        states.append(state)
    gateways = [start_gateway(tmp, name, state, postgres["url"]) for name, state in zip(["r1", "r2"], states)]
    yield {"urls": [url for _, url in gateways], "procs": [p for p, _ in gateways], "key": key, "tmp": tmp}
    for p, _ in gateways:
        stop(p)


def test_two_replicas_enforce_one_combined_limit(replicas):
    """20 requests/s with a burst of 20 for the key, whichever replica a request reaches: over 3 s of
    requests alternating between the replicas, the admitted count is 20 + 20 x elapsed within 5%."""
    key = replicas["key"]
    results = []
    lock = threading.Lock()
    start = time.monotonic()

    def worker(i):
        while time.monotonic() - start < 3:
            status = infer(replicas["urls"][i % 2], key)
            with lock:
                results.append(status)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - start
    admitted = results.count(200)
    expected = 20 + 20 * elapsed
    assert set(results) <= {200, 429}, set(results)
    assert abs(admitted - expected) / expected < 0.05, (admitted, expected, len(results))


def test_postgres_restart_fails_closed_and_recovers(replicas, postgres):
    """Under load, PostgreSQL goes down: inference is refused with 503 (no limit can be enforced, so nothing is
    admitted unchecked), health still answers; once it is back the same gateway process serves again."""
    url, key = replicas["urls"][0], replicas["key"]
    pg = [str(ROOT / "scripts" / "postgres.sh")]
    time.sleep(1.5)  # let the bucket refill after the previous test
    assert infer(url, key) == 200
    statuses = []
    stop_event = threading.Event()

    def load():
        while not stop_event.is_set():
            statuses.append(infer(url, key))
            time.sleep(0.02)

    t = threading.Thread(target=load)
    t.start()
    try:
        time.sleep(0.5)
        subprocess.run(pg + ["down", str(postgres["dir"])], timeout=120, check=True)
        time.sleep(0.5)
        down = [infer(url, key) for _ in range(10)]
        assert down == [503] * 10, down
        with urllib.request.urlopen(url + "/v2/health/live", timeout=10) as r:
            assert r.status == 200
        subprocess.run(pg + ["up", str(postgres["dir"])], timeout=120, check=True)
        deadline = time.time() + 30
        while time.time() < deadline and infer(url, key) not in (200, 429):
            time.sleep(0.3)
        assert infer(url, key) in (200, 429)
    finally:
        stop_event.set()
        t.join()
    assert set(statuses) <= {200, 429, 503}, set(statuses)
    assert replicas["procs"][0].poll() is None
