"""A real `mlsec serve` through its life: a deployed version survives SIGHUP and a restart (recorded in the
state directory's gateway.db), a recorded version that cannot be loaded stops the start with a clear error
until `mlsec deployments reset`, the demo reloads on SIGHUP instead of dying, a port in use is one clear
line, and SIGTERM logs the drain's start and end. Everything listens on 127.0.0.1 only."""
import json
import shutil
import signal
import socket
import subprocess
import time

import pytest

from conftest import demo_state, http_call, mlsec, mlsec_bin, serve


def write_config(path, state, version="1"):
    path.write_text(json.dumps({
        "listen": {"host": "127.0.0.1", "port": 0}, "state_dir": str(state), "audit": {"origin": "test/audit"},
        "models": [{"name": "digits", "version": version, "path": str(state / "models/digits/{version}"),
                    "signature": str(state / "models/digits-{version}.sig"),
                    "public_keys": [str(state / "publisher.pub")], "input_range": [0, 1]}],
    }))


def sign_version(state, version):
    models = state / "models"
    shutil.copytree(models / "digits" / "1", models / "digits" / version)
    mlsec("sign", models / "digits" / version, "--private-key", state / "publisher.pem",
          "--signature", models / f"digits-{version}.sig", check=0)


def stop(proc):
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise


def wait_for(predicate, what, log):
    deadline = time.time() + 20
    while time.time() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    pytest.fail(f"timed out waiting for {what}:\n" + log.read_text()[-3000:])


def log_lines(log):
    return [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]


def test_a_deploy_survives_sighup_and_restart_and_is_never_replaced_silently(tmp_path):
    state = demo_state(tmp_path)
    sign_version(state, "2")
    admin = json.loads((state / "demo-credentials.json").read_text())["api_keys"]["admin"]
    config = tmp_path / "gateway.json"
    write_config(config, state)
    log = tmp_path / "first.log"
    proc, url = serve(["--config", config], log)

    def served(at):
        status, _, doc = http_call(at, "GET", "/v2/models/digits", key=admin)
        assert status == 200, doc
        return doc["versions"][0]

    try:
        status, _, body = http_call(url, "PUT", "/admin/models/digits", {"version": "2"}, admin)
        assert status == 200 and body["version"] == "2", body
        proc.send_signal(signal.SIGHUP)
        wait_for(lambda: "configuration reloaded" in log.read_text(), "the reload", log)
        assert served(url) == "2", "SIGHUP went back to the configured version"
        assert any(e["message"].startswith("model digits: serving version 2 (recorded deploy by key:") for e in log_lines(log))
    finally:
        assert stop(proc) == 0

    log = tmp_path / "second.log"
    proc, url = serve(["--config", config], log)
    try:
        assert served(url) == "2", "a restart went back to the configured version"
        assert any(e["message"].startswith("model digits: serving version 2 (recorded deploy by key:") for e in log_lines(log))
    finally:
        assert stop(proc) == 0

    # The deployed files disappear: the gateway does not start on another version; it says which and what to do.
    shutil.rmtree(state / "models" / "digits" / "2")
    out = subprocess.run([mlsec_bin(), "serve", "--config", str(config)], capture_output=True, text=True, timeout=60)
    assert out.returncode != 0 and "mlsec gateway listening" not in out.stdout
    assert "model digits" in out.stderr and "version 2" in out.stderr and "mlsec deployments reset" in out.stderr, out.stderr
    listed = json.loads(mlsec("deployments", "list", "--config", config, check=0).stdout)["deployments"]
    assert [(d["model"], d["version"], d["applies"]) for d in listed] == [("digits", "2", True)]
    mlsec("deployments", "reset", "--config", config, "digits", check=0)
    proc, url = serve(["--config", config], tmp_path / "third.log")
    try:
        assert served(url) == "1"
    finally:
        assert stop(proc) == 0


def test_the_demo_reloads_on_sighup_and_sigterm_logs_the_drain(tmp_path):
    state = demo_state(tmp_path)
    log = tmp_path / "demo.log"
    proc, url = serve(["--demo", "--state-dir", state, "--port", "0"], log)
    try:
        proc.send_signal(signal.SIGHUP)
        wait_for(lambda: "configuration reloaded" in log.read_text(), "the demo's reload", log)
        assert proc.poll() is None, "the demo died on SIGHUP"
        assert http_call(url, "GET", "/v2/health/ready")[0] == 200
    finally:
        assert stop(proc) == 0
    messages = [e["message"] for e in log_lines(log)]
    draining = [i for i, m in enumerate(messages) if m.startswith("draining:")]
    drained = [i for i, m in enumerate(messages) if m.startswith("drained:")]
    stopped = [i for i, m in enumerate(messages) if m.startswith("stopped:")]
    assert draining and drained and stopped and draining[0] < drained[0] < stopped[0], messages[-6:]


def test_a_port_in_use_is_one_clear_line(tmp_path):
    state = demo_state(tmp_path)
    other = tmp_path / "other"
    shutil.copytree(state, other, ignore=shutil.ignore_patterns("audit.db*", "gateway.db*", "demo-credentials.json"))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc, _ = serve(["--demo", "--state-dir", state, "--port", port], tmp_path / "first.log")
    try:
        out = subprocess.run([mlsec_bin(), "serve", "--demo", "--state-dir", str(other), "--port", str(port)],
                             capture_output=True, text=True, timeout=60)
    finally:
        assert stop(proc) == 0
    assert out.returncode != 0 and "listening" not in out.stdout
    lines = out.stderr.strip().splitlines()
    assert lines[-1] == f"error: port {port} is in use; choose another with --port", out.stderr
    assert "quota" not in out.stderr and "Address already in use" not in out.stderr, out.stderr
    problems = [line for line in lines[:-1] if not line.startswith("{") or json.loads(line)["level"] in ("warning", "error", "critical")]
    assert problems == [], out.stderr
