"""Gateways sharing their state in a real PostgreSQL server on 127.0.0.1 (a private one this test starts with
scripts/postgres.sh): two replicas enforce one combined limit, write one audit log that verifies and holds every
answered request of both, see each other's keys and revocations, and a PostgreSQL restart under load makes the
gateway fail closed (503) and recover without a restart."""
import hashlib
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

from conftest import ROOT, demo_state, http_call, mlsec, serve

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


def write_config(tmp_path, name, state, database_url):
    config = tmp_path / f"{name}.json"
    config.write_text(json.dumps({
        "listen": {"host": "127.0.0.1", "port": 0}, "state_dir": str(state),
        "database": {"url": database_url}, "audit": {"origin": "mlsec-replicas/audit"},
        "roles": {"reader": ["read_metadata"]},
        "models": [{"name": "digits", "path": str(state / "models/digits/{version}"),
                    "signature": str(state / "models/digits-{version}.sig"), "public_keys": [str(state / "publisher.pub")],
                    "input_range": [0, 1]}],
    }))
    return config


def call(url, method, path, key, body=None):
    return http_call(url, method, path, body, key)


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
    """Two replicas with the same model, receipt and checkpoint keys (the demo's state directory copied to
    both) and one PostgreSQL for everything else: API keys, roles, rate limits, quotas and the audit log."""
    tmp = tmp_path_factory.mktemp("replicas")
    demo = demo_state(tmp)
    configs = []
    for name in ["r1", "r2"]:
        state = tmp / name
        shutil.copytree(demo, state, ignore=shutil.ignore_patterns("audit.db*", "gateway.db*", "demo-credentials.json"))
        configs.append(write_config(tmp, name, state, postgres["url"]))
    # Keys are created where the configuration keeps them: in PostgreSQL, for both replicas.
    key = json.loads(mlsec("apikey", "create", "--config", configs[0], "--name", "shared", "--role", "inference",
                           "--models", "digits", "--requests-per-second", "20", "--burst", "20", "--max-concurrent", "64",
                           check=0).stdout)["key"]
    admin = json.loads(mlsec("apikey", "create", "--config", configs[1], "--name", "ops", "--role", "admin", "--models", "*",
                             check=0).stdout)["key"]
    gateways = [serve(["--config", config], tmp / f"{name}.log") for name, config in zip(["r1", "r2"], configs)]
    yield {"urls": [url for _, url in gateways], "procs": [p for p, _ in gateways], "key": key, "admin": admin, "tmp": tmp,
           "vkey": (demo / "audit-note.vkey").read_text().strip()}
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


def test_one_audit_log_for_both_replicas(replicas, postgres, tmp_path):
    """Answers from both replicas land in one Merkle log: each replica's checkpoint is of the same log (the later
    one is consistent with the earlier), the log verifies from PostgreSQL, and every answered request's receipt
    is in it exactly once."""
    key, admin = replicas["key"], replicas["admin"]
    time.sleep(1.5)  # let the shared bucket refill after the previous test
    digests = []
    for i in range(16):
        url = replicas["urls"][i % 2]
        req = urllib.request.Request(url + "/v2/models/digits/infer", data=BODY, method="POST",
                                     headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as r:
            r.read()
            digests.append("sha256:" + hashlib.sha256(r.headers["MLSec-Receipt"].encode()).hexdigest())
    status, _, first = call(replicas["urls"][0], "GET", "/admin/audit/checkpoint", admin)
    assert status == 200, first
    assert call(replicas["urls"][1], "GET", "/v2/models/digits", key)[0] == 200
    status, _, second = call(replicas["urls"][1], "GET", "/admin/audit/checkpoint", admin)
    assert status == 200 and second["size"] > first["size"]
    checkpoint = tmp_path / "cp.txt"
    checkpoint.write_text(first["note"])
    out = json.loads(mlsec("audit", "verify-checkpoint", "--checkpoint", checkpoint, "--verifier-key", replicas["vkey"],
                           "--database", postgres["url"], check=0).stdout)
    assert out["consistent"] and out["log_size"] >= second["size"]
    status, _, proof = call(replicas["urls"][1], "GET", f"/admin/audit/proof?index=0&size={second['size']}", admin)
    assert status == 200 and proof["root"] == second["root"]
    report = json.loads(mlsec("audit", "verify", "--database", postgres["url"], check=0).stdout)
    assert report["verified"] and report["size"] >= second["size"]
    # Every receipt of the 16 answers, from either replica, is recorded once (read straight from the table with psql).
    rows = psql(postgres, "SELECT convert_from(data, 'UTF8') FROM mlsec_audit_entries ORDER BY idx")
    events = [json.loads(row) for row in rows]
    assert len(events) == report["size"]
    recorded = [e.get("receipt_digest") for e in events if e.get("action") == "infer" and e.get("decision") == "allow"]
    for digest in digests:
        assert recorded.count(digest) == 1, digest


def psql(postgres, sql):
    """Rows of one query, by Debian's psql client (installed with the server)."""
    bindir = sorted(pathlib.Path("/usr/lib/postgresql").glob("*/bin"))[-1]
    out = subprocess.run([str(bindir / "psql"), postgres["url"].replace("?sslmode=disable", ""), "-At", "-v", "ON_ERROR_STOP=1", "-c", sql],
                         capture_output=True, text=True, timeout=60, env={**os.environ, "PGSSLMODE": "disable"})
    assert out.returncode == 0, out.stderr
    return [line for line in out.stdout.splitlines() if line]


def test_keys_and_revocations_reach_every_replica(replicas):
    """A key created through one replica's admin API works on the other within about a second; revoked through
    the other, it is refused by the first within about a second."""
    r1, r2 = replicas["urls"]
    status, _, created = call(r1, "POST", "/admin/keys", replicas["admin"], {"name": "roaming", "role": "reader", "models": ["digits"]})
    assert status == 201, created
    deadline = time.time() + 5
    while time.time() < deadline and call(r2, "GET", "/v2/models/digits", created["key"])[0] != 200:
        time.sleep(0.1)
    assert call(r2, "GET", "/v2/models/digits", created["key"])[0] == 200
    # The custom role (from the configuration, published in PostgreSQL) gives metadata but not inference.
    assert call(r2, "POST", "/v2/models/digits/infer", created["key"], json.loads(BODY))[0] == 403
    assert call(r2, "DELETE", f"/admin/keys/{created['id']}", replicas["admin"])[0] == 204
    assert call(r2, "GET", "/v2/models/digits", created["key"])[0] == 401
    deadline = time.time() + 5
    while time.time() < deadline and call(r1, "GET", "/v2/models/digits", created["key"])[0] != 401:
        time.sleep(0.1)
    assert call(r1, "GET", "/v2/models/digits", created["key"])[0] == 401


def test_postgres_restart_fails_closed_and_recovers(replicas, postgres):
    """Under load, PostgreSQL goes down: inference is refused with 503 (no limit can be enforced and no audit
    entry written, so nothing is admitted unchecked), health still answers, and once the key cache is older than
    5 s every key is refused with 503 too (a revocation could be missing); once it is back the same gateway
    process serves again, and the audit log still verifies."""
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
        time.sleep(5.5)
        status, headers, body = call(url, "GET", "/v2/models/digits", key)
        assert status == 503 and headers.get("Retry-After") == "1", (status, body)
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
    deadline = time.time() + 10
    while time.time() < deadline and call(url, "GET", "/v2/models/digits", key)[0] != 200:
        time.sleep(0.3)
    assert call(url, "GET", "/v2/models/digits", key)[0] == 200
    assert json.loads(mlsec("audit", "verify", "--database", postgres["url"], check=0).stdout)["verified"]


def test_a_deploy_on_one_replica_is_served_by_the_other(replicas):
    """PUT /admin/models/digits {"version": "2"} on the first replica is recorded in PostgreSQL: the second
    serves version 2 within a few seconds (its maintenance service follows the record) and says so in its log;
    rolling back on the first brings both back to version 1."""
    r1, r2 = replicas["urls"]
    admin, tmp = replicas["admin"], replicas["tmp"]
    for name in ["r1", "r2"]:
        models = tmp / name / "models"
        if not (models / "digits" / "2").exists():
            shutil.copytree(models / "digits" / "1", models / "digits" / "2")
            mlsec("sign", models / "digits" / "2", "--private-key", tmp / name / "publisher.pem",
                  "--signature", models / "digits-2.sig", check=0)

    def served(url):
        status, _, doc = call(url, "GET", "/v2/models/digits", admin)
        return doc["versions"][0] if status == 200 else None

    def wait_for_version(url, version):
        deadline = time.time() + 10
        while time.time() < deadline and served(url) != version:
            time.sleep(0.2)
        assert served(url) == version

    status, _, body = call(r1, "PUT", "/admin/models/digits", admin, {"version": "2"})
    assert status == 200, body
    wait_for_version(r2, "2")
    log = (tmp / "r2.log").read_text()
    assert "model digits: serving version 2 (recorded deploy by key:" in log
    status, _, body = call(r1, "PUT", "/admin/models/digits", admin, {"version": "1", "rollback": True})
    assert status == 200, body
    wait_for_version(r2, "1")


def test_a_revocation_in_the_shared_registry_reaches_every_replica(replicas, postgres):
    """Version 1 registered (through the first replica's configuration, so in PostgreSQL) and then revoked:
    both replicas stop serving it within seconds (404), without a restart, and the shared audit log holds each
    replica's model.unload entry naming the reason. Runs last: it leaves the replicas without a model."""
    r1, r2 = replicas["urls"]
    key, tmp = replicas["key"], replicas["tmp"]
    config = tmp / "r1.json"
    state = tmp / "r1"
    mlsec("registry", "add", "digits", "1", "--model", state / "models" / "digits" / "1",
          "--signature", state / "models" / "digits-1.sig", "--public-key", state / "publisher.pub", "--config", config, check=0)
    listed = json.loads(mlsec("registry", "list", "--config", tmp / "r2.json", "--format", "json", check=0).stdout)["versions"]
    assert [(v["name"], v["version"]) for v in listed] == [("digits", "1")]
    for url in (r1, r2):
        assert infer(url, key) == 200
    mlsec("registry", "revoke", "digits", "1", "--reason", "compromised build", "--config", config, check=0)
    deadline = time.time() + 10
    while time.time() < deadline and (infer(r1, key) != 404 or infer(r2, key) != 404):
        time.sleep(0.1)
    assert infer(r1, key) == 404 and infer(r2, key) == 404
    for name in ["r1", "r2"]:
        assert "taken out of service: revoked in the registry by cli:" in (tmp / f"{name}.log").read_text()
    entries = json.loads(mlsec("audit", "list", "--database", postgres["url"], "--action", "model.unload", "--format", "json",
                               check=0).stdout)["entries"]
    assert len(entries) == 2 and all("compromised build" in e["reason"] for e in entries), entries
    actions = json.loads(mlsec("audit", "list", "--database", postgres["url"], "--action", "registry.revoke", "--format", "json",
                               check=0).stdout)["entries"]
    assert len(actions) == 1
