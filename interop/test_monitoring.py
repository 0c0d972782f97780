"""Inference monitoring and extraction defense in a live gateway (issue 20): `mlsec monitor profile` builds the
reference from the digits training split; the gateway then raises a drift alert within a bounded number of requests
when one feature of its inputs shifts and none on the held-out clean test split, flags or refuses
out-of-distribution inputs per policy, catches HopSkipJump (`mlsec attack --target`) with its query-pattern detector
(audit entry, metric, webhook), cuts answers to top-k or labels per role, enforces per-key budgets of distinct inputs
with 429, and refuses or throttles a key after a query-pattern alert."""
import http.server
import json
import os
import signal
import sqlite3
import stat
import subprocess
import threading
import time

import numpy as np
import pytest

from conftest import http_call, mlsec, mlsec_bin, serve

WINDOW, CHECK_EVERY = 150, 25
SHIFTED_PIXEL = 20


def run_json(*args, check=0):
    return json.loads(mlsec(*args, check=check).stdout)


class Hooks(http.server.BaseHTTPRequestHandler):
    received = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        Hooks.received.append(json.loads(body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


def monitor(reference, **extra):
    return {"reference": str(reference), "window": WINDOW, "check_every": CHECK_EVERY, **extra}


@pytest.fixture(scope="module")
def gw(tmp_path_factory):
    d = tmp_path_factory.mktemp("monitoring")
    demo = d / "demo"
    proc, _ = serve(["--demo", "--state-dir", demo, "--port", "0"], d / "demo.log")
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0
    model = demo / "models/digits/1"
    # Signed without a name, so that one signed directory serves under each of the models' names below.
    signature = d / "digits.sig"
    mlsec("sign", model, "--private-key", demo / "publisher.pem", "--signature", signature, check=0)
    profile = run_json("monitor", "profile", "--model", model, "--data", "digits-train", "--label-column", "label",
                       "--false-positive-rate", "0.01", "--out", d / "monitor.json")
    hooks = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hooks)
    threading.Thread(target=hooks.serve_forever, daemon=True).start()
    hook_url = f"http://127.0.0.1:{hooks.server_address[1]}/hook"
    entry = {"path": str(model), "signature": str(signature), "public_keys": [str(demo / "publisher.pub")], "input_range": [0, 1]}
    ref = d / "monitor.json"
    config = {
        "listen": {"host": "127.0.0.1", "port": 0}, "state_dir": "state",
        "roles": {"partner": ["infer", "read_metadata"], "labeller": ["infer", "read_metadata"]},
        "extraction_defense": {
            "partner": {"top_k": 3, "decimals": 2, "budget": {"distinct_inputs": 40, "window_seconds": 3600}},
            "labeller": {"labels_only": True},
        },
        "models": [
            {"name": "digits", **entry, "monitor": monitor(ref, webhooks=[hook_url], allow_insecure_webhooks=True)},
            {"name": "digits-ood", **entry, "monitor": monitor(ref, ood_action="refuse")},
            {"name": "digits-hsj", **entry, "monitor": monitor(ref, webhooks=[hook_url], allow_insecure_webhooks=True)},
            # Its webhook points at a closed port: the alert must still be recorded, the request not held up.
            {"name": "digits-strict", **entry,
             "monitor": monitor(ref, query_pattern={"action": "refuse", "block_seconds": 30, "min_queries": 30},
                                webhooks=["http://127.0.0.1:9/closed"], allow_insecure_webhooks=True)},
            {"name": "digits-throttle", **entry,
             "monitor": monitor(ref, query_pattern={"action": "throttle", "block_seconds": 30, "min_queries": 30})},
        ],
    }
    (d / "gw.json").write_text(json.dumps(config))
    admin = json.loads(mlsec("apikey", "create", "--state-dir", d / "state", "--init", "--name", "ops", "--role", "admin",
                             "--models", "*", check=0).stdout)["key"]
    proc, url = serve(["--config", d / "gw.json"], d / "gw.log")

    def key(name, role="inference"):
        status, _, body = http_call(url, "POST", "/admin/keys", key=admin, body={
            "name": name, "role": role, "models": ["digits*"], "max_concurrent": 100,
            "rate_limit": {"requests_per_second": 100000, "burst": 100000}})
        assert status in (200, 201), body
        return body["key"], "key:" + body["id"]

    test = run_json("bench", "export-digits", "--split", "test")
    try:
        yield {"dir": d, "url": url, "admin": admin, "key": key, "x": np.array(test["x"]), "y": np.array(test["y"]),
               "model": model, "profile": profile, "reference": ref, "demo": demo, "signature": signature, "entry": entry}
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        hooks.shutdown()


def infer(url, key, model, rows):
    rows = np.asarray(rows, dtype=float).reshape(-1, 64)
    return http_call(url, "POST", f"/v2/models/{model}/infer", key=key, body={"inputs": [
        {"name": "input", "shape": [len(rows), 64], "datatype": "FP32", "data": rows.ravel().tolist()}]})


def metrics(gw):
    return subprocess.run(["curl", "-s", gw["url"] + "/metrics", "-H", f"Authorization: Bearer {gw['admin']}"],
                          capture_output=True, text=True, timeout=10).stdout


def metric(text, name, **labels):
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            total += float(line.split()[-1])
    return total


def audit(gw, action=None):
    con = sqlite3.connect(f"file:{gw['dir'] / 'state' / 'audit.db'}?mode=ro", uri=True)
    try:
        entries = [json.loads(row[0]) for row in con.execute("SELECT data FROM entries ORDER BY idx")]
    finally:
        con.close()
    return [e for e in entries if action is None or e.get("action") == action]


def wait_for(predicate, what, seconds=10):
    deadline = time.time() + seconds
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}")


def test_profile_writes_a_private_reference_bound_to_the_model(gw):
    ref = gw["reference"]
    assert stat.S_IMODE(os.stat(ref).st_mode) == 0o600
    doc = json.loads(ref.read_text())
    assert doc["format"] == "mlsec-monitor-reference" and len(doc["features"]) == 64 and len(doc["class_shares"]) == 10
    p = gw["profile"]
    assert p["rows"] == 1437 and p["held_out_rows"] == 287 and p["held_out_flag_rate"] <= 0.02
    # Refused: an existing --out without --force, another model's weights, a tampered file, an unknown configuration key.
    again = mlsec("monitor", "profile", "--model", gw["model"], "--data", "digits-train", "--label-column", "label", "--out", ref)
    assert again.returncode == 2 and "--force" in again.stderr
    d = gw["dir"]
    other = d / "other-mlp"
    run_json("train", "--data", "digits-train", "--label-column", "label", "--architecture", "mlp:64-32-10", "--epochs", 3,
             "--seed", 1, "--out", other)
    check = mlsec("monitor", "check", "--reference", ref, "--model", other, "--data", "digits-test", "--label-column", "label")
    assert check.returncode == 1 and "built for weights" in check.stderr
    tampered = d / "tampered.json"
    tampered.write_text(ref.read_text().replace('"rows":', '"extra":1,"rows":', 1))
    for name, monitor_config, expected in [
        ("tampered", {"reference": str(tampered)}, "unknown member"),
        ("unknown-key", {"reference": str(ref), "windw": 10}, "unknown key"),
        ("plain-webhook", {"reference": str(ref), "webhooks": ["http://127.0.0.1:9/x"]}, "https://"),
    ]:
        config = {"listen": {"host": "127.0.0.1", "port": 0}, "state_dir": f"state-{name}",
                  "models": [{"name": "digits", **gw["entry"], "monitor": monitor_config}]}
        (d / f"{name}.json").write_text(json.dumps(config))
        proc = subprocess.run([mlsec_bin(), "serve", "--config", str(d / f"{name}.json")], capture_output=True, text=True, timeout=60)
        assert proc.returncode in (1, 2) and expected in proc.stderr, (name, proc.stderr[-800:])


def test_no_drift_on_held_out_clean_inputs_and_an_alert_soon_after_one_feature_shifts(gw):
    key, actor = gw["key"]("feeder")
    x = gw["x"]
    for row in x:
        status, headers, _ = infer(gw["url"], key, "digits", [row])
        assert status == 200
    time.sleep(0.5)  # the last comparison runs off the request path
    text = metrics(gw)
    assert metric(text, "mlsec_monitor_drift_alerts_total", model="digits") == 0
    assert metric(text, "mlsec_monitor_psi_max", model="digits") > 0, "comparisons ran over the clean window"
    assert metric(text, "mlsec_query_pattern_alerts_total", model="digits") == 0
    assert not audit(gw, "monitor.drift")
    clean_ood = metric(text, "mlsec_monitor_ood_total", model="digits")
    assert clean_ood <= 0.05 * len(x), f"{clean_ood} of {len(x)} clean rows out of distribution"
    # Now pixel 20 moves up by half the range (clipped): the drift alert must come within a window and a check.
    shifted = x.copy()
    shifted[:, SHIFTED_PIXEL] = np.minimum(1.0, shifted[:, SHIFTED_PIXEL] + 0.5)
    alerted_after = None
    for i, row in enumerate(shifted):
        status, _, _ = infer(gw["url"], key, "digits", [row])
        assert status == 200
        if (i + 1) % CHECK_EVERY == 0:
            time.sleep(0.2)
            if metric(metrics(gw), "mlsec_monitor_drift_alerts_total", model="digits", kind="feature") >= 1:
                alerted_after = i + 1
                break
    assert alerted_after is not None and alerted_after <= WINDOW + CHECK_EVERY, alerted_after
    print(f"drift alert after {alerted_after} shifted requests (window {WINDOW}, check every {CHECK_EVERY})")
    entry = wait_for(lambda: audit(gw, "monitor.drift"), "the drift audit entry")[0]
    assert f"pixel{SHIFTED_PIXEL}" in entry["reason"] and "feature" in entry["reason"] and entry["actor"] == "gateway"
    hook = wait_for(lambda: [h for h in Hooks.received if h["kind"] == "drift" and h["model"] == "digits"], "the drift webhook")[0]
    assert hook["newly_drifting"] == [f"pixel{SHIFTED_PIXEL}"] and hook["drifting_features"][0]["psi"] > 0.25
    print("audit:", entry["reason"])
    print("webhook:", json.dumps(hook)[:400])


def test_out_of_distribution_inputs_are_flagged_or_refused_per_policy(gw):
    key, _ = gw["key"]("ood")
    noise = np.random.default_rng(7).uniform(0, 1, size=(1, 64))
    status, headers, _ = infer(gw["url"], key, "digits-hsj", noise)
    assert status == 200 and headers.get("MLSec-OOD-Flagged") == "1"
    status, headers, body = infer(gw["url"], key, "digits-ood", noise)
    assert status == 422 and "distribution" in body["error"]
    status, headers, _ = infer(gw["url"], key, "digits-ood", gw["x"][:1])
    assert status == 200 and headers.get("MLSec-OOD-Flagged") == "0"
    text = metrics(gw)
    assert metric(text, "mlsec_monitor_ood_total", model="digits-ood", action="refuse") == 1
    denied = [e for e in audit(gw, "infer") if e["decision"] == "deny" and "out of distribution" in e.get("reason", "")]
    assert denied and "digits-ood" in denied[-1]["resource"]


def test_hopskipjump_through_the_gateway_trips_the_query_pattern_detector(gw, tmp_path):
    key, actor = gw["key"]("attacker")
    x, y = gw["x"][:2], gw["y"][:2]
    with open(tmp_path / "two.csv", "w") as f:
        f.write(",".join([f"pixel{i}" for i in range(64)] + ["label"]) + "\n")
        for row, label in zip(x, y):
            f.write(",".join(repr(float(v)) for v in row) + f",{int(label)}\n")
    result = run_json("attack", "--model", gw["model"], "--data", tmp_path / "two.csv", "--label-column", "label",
                      "--attack", "hopskipjump", "--norm", "2", "--eps", "2", "--max-queries", "300", "--steps", "5",
                      "--target", gw["url"] + "/v2/models/digits-hsj", "--api-key", key)
    assert result["queries"] > 0
    alerts = wait_for(lambda: [e for e in audit(gw, "monitor.query_pattern") if e["actor"] == actor], "the query-pattern entry")
    kinds = {k for e in alerts for k in ("near_duplicate", "boundary_probing") if e["reason"].startswith(f"query pattern alert {k}")}
    assert "boundary_probing" in kinds, [e["reason"] for e in alerts]
    text = metrics(gw)
    assert metric(text, "mlsec_query_pattern_alerts_total", model="digits-hsj", kind="boundary_probing") >= 1
    hook = wait_for(lambda: [h for h in Hooks.received if h["kind"] == "query_pattern" and h["caller"] == actor], "the webhook")
    print(f"HopSkipJump: {result['queries']} queries; alerts: {[e['reason'] for e in alerts]}")
    print("webhook:", json.dumps(hook[0]))
    # The clean feeder of the other test raised none.
    assert all(e["actor"] == actor for e in audit(gw, "monitor.query_pattern") if "digits-hsj" in e["resource"])


def near_duplicates(x, count, seed=3):
    rng = np.random.default_rng(seed)
    return np.clip(x[5] + rng.normal(0, 0.003, size=(count, 64)), 0, 1)


def test_a_key_whose_queries_alert_is_refused_per_policy(gw):
    key, actor = gw["key"]("prober")
    other, _ = gw["key"]("bystander")
    refused_at = None
    for i, row in enumerate(near_duplicates(gw["x"], 40)):
        status, headers, body = infer(gw["url"], key, "digits-strict", [row])
        if status == 429:
            refused_at = i
            assert "black-box attack" in body["error"] and 1 <= int(headers["Retry-After"]) <= 30
            break
        assert status == 200
    assert refused_at == 30, refused_at  # the 30th row alerts (min_queries 30); the next request is refused
    assert infer(gw["url"], other, "digits-strict", gw["x"][:1])[0] == 200
    entries = [e for e in audit(gw, "monitor.query_pattern") if e["actor"] == actor]
    assert entries and entries[0]["decision"] == "deny" and "near_duplicate" in entries[0]["reason"]
    assert metric(metrics(gw), "mlsec_query_pattern_refusals_total", model="digits-strict") >= 1
    wait_for(lambda: metric(metrics(gw), "mlsec_monitor_webhooks_total", model="digits-strict", outcome="failed") >= 1,
             "the failed webhook to be counted")
    assert "monitor webhook failed" in (gw["dir"] / "gw.log").read_text()


def test_answers_are_cut_per_role(gw):
    full_key, _ = gw["key"]("full")
    partner, _ = gw["key"]("partner-a", "partner")
    labeller, _ = gw["key"]("labeller-a", "labeller")
    rows = gw["x"][:8]
    _, _, full = infer(gw["url"], full_key, "digits-ood", rows)
    _, _, cut = infer(gw["url"], partner, "digits-ood", rows)
    _, _, labels = infer(gw["url"], labeller, "digits-ood", rows)
    full = np.array(full["outputs"][0]["data"]).reshape(8, 10)
    cut = np.array(cut["outputs"][0]["data"]).reshape(8, 10)
    labels = np.array(labels["outputs"][0]["data"]).reshape(8, 10)
    for r in range(8):
        top3 = np.argsort(-full[r])[:3]
        assert np.count_nonzero(cut[r]) <= 3 and set(np.nonzero(cut[r])[0]) <= set(top3)
        assert np.allclose(cut[r][top3], np.round(full[r][top3], 2), atol=1e-6)
        assert sorted(labels[r]) == [0] * 9 + [1] and labels[r].argmax() == full[r].argmax()
    print("full row:", np.round(full[0], 4).tolist(), "partner:", cut[0].tolist(), "labeller:", labels[0].tolist())


def test_the_extraction_budget_counts_distinct_inputs_and_answers_429(gw):
    key, actor = gw["key"]("partner-b", "partner")
    x = gw["x"][100:]
    for r in range(40):
        assert infer(gw["url"], key, "digits-ood", x[r:r + 1])[0] == 200
    status, headers, body = infer(gw["url"], key, "digits-ood", x[40:41])
    assert status == 429 and "extraction budget exhausted" in body["error"] and int(headers["Retry-After"]) >= 1
    # Inputs already answered cost nothing: asking again is not extraction.
    assert infer(gw["url"], key, "digits-ood", x[3:4])[0] == 200
    denied = [e for e in audit(gw, "infer") if e["actor"] == actor and e["decision"] == "deny"]
    assert denied and "extraction budget" in denied[-1]["reason"]
    assert metric(metrics(gw), "mlsec_extraction_budget_refusals_total", model="digits-ood") >= 1
    print("429:", body["error"])


def test_an_alerting_key_has_its_budget_cut_or_is_refused_without_one(gw):
    partner, _ = gw["key"]("partner-c", "partner")
    plain, _ = gw["key"]("plain")
    # 30 near-identical distinct rows: 30 of the partner's 40 units, and the near-duplicate alert.
    for row in near_duplicates(gw["x"], 30, seed=4):
        assert infer(gw["url"], partner, "digits-throttle", [row])[0] == 200
    # Each new distinct input now costs 10: one more fits, then 429 naming the cut.
    statuses = [infer(gw["url"], partner, "digits-throttle", gw["x"][200 + i:201 + i]) for i in range(3)]
    assert [s[0] for s in statuses] == [200, 429, 429], [s[0] for s in statuses]
    assert "cut to 0.1" in statuses[1][2]["error"]
    # The inference role has no budget to cut: refused while the penalty lasts.
    for row in near_duplicates(gw["x"], 30, seed=5):
        assert infer(gw["url"], plain, "digits-throttle", [row])[0] == 200
    status, _, body = infer(gw["url"], plain, "digits-throttle", gw["x"][:1])
    assert status == 429 and "no extraction budget" in body["error"]
    print("\n".join(line for line in metrics(gw).splitlines()
                    if line.startswith(("mlsec_monitor", "mlsec_query_pattern", "mlsec_extraction"))))
