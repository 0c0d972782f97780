"""The robustness commands end to end: attacks stay within their budget and the input range, adversarial training
hardens the digits MLP, the feature-squeezing detector catches PGD examples at its calibrated false-positive rate,
randomized smoothing certifies reproducibly, HopSkipJump runs against a live gateway within its query budget and
waits out 429s, and the gateway runs a model's signed detector on live requests (refuse or flag)."""
import json
import shutil
import signal
import subprocess

import numpy as np
import pytest

from conftest import http_call, mlsec, serve

DATA = ("--data", "digits-test", "--label-column", "label")
HEADER = ",".join([f"pixel{i}" for i in range(64)] + ["label"])


def write_csv(path, x, y):
    with open(path, "w") as f:
        f.write(HEADER + "\n")
        for row, label in zip(x, y):
            f.write(",".join(repr(float(v)) for v in row) + f",{int(label)}\n")
    return path


def read_csv(path):
    a = np.loadtxt(path, delimiter=",", skiprows=1, ndmin=2)
    return a[:, :64], a[:, 64].astype(int)


def run_json(*args, check=0):
    return json.loads(mlsec(*args, check=check).stdout)


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    d = tmp_path_factory.mktemp("robustness")
    run_json("train", "--data", "digits-train", "--label-column", "label", "--architecture", "mlp:64-128-10",
             "--epochs", 100, "--seed", 0, "--out", d / "mlp")
    test = run_json("bench", "export-digits", "--split", "test")
    x, y = np.array(test["x"]), np.array(test["y"])
    write_csv(d / "test.csv", x, y)
    write_csv(d / "first.csv", x[:180], y[:180])
    write_csv(d / "second.csv", x[180:], y[180:])
    write_csv(d / "few.csv", x[:12], y[:12])
    return {"dir": d, "x": x, "y": y}


@pytest.mark.parametrize("attack,norm,eps,extra", [
    ("fgsm", "inf", 0.1, ()), ("fgsm", "2", 0.5, ()), ("pgd", "inf", 0.1, ("--random-start", "--seed", "3")),
    ("pgd", "2", 1.0, ("--steps", "20")), ("cw", "2", 1.0, ("--steps", "50")),
    ("hopskipjump", "2", 1.5, ("--max-queries", "800")), ("hopskipjump", "inf", 0.2, ("--max-queries", "800")),
])
def test_attacks_stay_within_budget_and_range(work, attack, norm, eps, extra):
    d = work["dir"]
    data = d / ("few.csv" if attack == "hopskipjump" else "test.csv")
    out = d / f"adv-{attack}-{norm}.csv"
    result = run_json("attack", "--model", d / "mlp", "--data", data, "--label-column", "label", "--attack", attack,
                      "--norm", norm, "--eps", eps, "--out", out, *extra)
    for key in ["clean_accuracy", "adversarial_accuracy", "mean_perturbation_linf", "mean_perturbation_l2",
                "examples_per_second", "queries"]:
        assert isinstance(result[key], (int, float)), key
    original, labels = read_csv(data)
    adversarial, out_labels = read_csv(out)
    assert (out_labels == labels).all() and adversarial.shape == original.shape
    delta = adversarial - original
    size = np.abs(delta).max(axis=1) if norm == "inf" else np.linalg.norm(delta, axis=1)
    assert size.max() <= eps * (1 + 1e-5) + 1e-6
    assert adversarial.min() >= 0 and adversarial.max() <= 1
    assert result["adversarial_accuracy"] < result["clean_accuracy"]
    assert abs(result["mean_perturbation_linf"] - np.abs(delta).max(axis=1).mean()) < 1e-4
    if attack == "hopskipjump":
        assert 0 < result["queries"] <= 800 * len(labels)
    else:
        assert result["queries"] == 0


def test_adversarial_training_raises_pgd_accuracy(work):
    d = work["dir"]
    pgd = ("--attack", "pgd", "--norm", "inf", "--eps", "0.1", "--steps", "40", "--random-start")
    before = run_json("attack", "--model", d / "mlp", *DATA, *pgd)["adversarial_accuracy"]
    trained = run_json("train", "--data", "digits-train", "--label-column", "label", "--architecture", "mlp:64-128-10",
                       "--epochs", 300, "--seed", 1, "--adversarial", "pgd", "--eps", 0.1, "--out", d / "robust")
    after = run_json("attack", "--model", d / "robust", *DATA, *pgd)
    print(f"PGD-40 eps 0.1 accuracy: {before:.3f} plain, {after['adversarial_accuracy']:.3f} adversarially trained "
          f"(clean {after['clean_accuracy']:.3f}, {trained['seconds']} s)")
    assert before < 0.5
    assert after["adversarial_accuracy"] >= 0.8 and after["clean_accuracy"] >= 0.95


def flipped_rows(d, model, data, adversarial):
    clean = np.array(run_json("predict", "--model", model, "--data", data, "--label-column", "label")["outputs"]).argmax(1)
    after = np.array(run_json("predict", "--model", model, "--data", adversarial, "--label-column", "label")["outputs"]).argmax(1)
    _, labels = read_csv(data)
    return (clean == labels) & (after != labels)


def test_detector_catches_pgd_at_its_calibrated_false_positive_rate(work):
    d = work["dir"]
    calibrated = run_json("detector", "calibrate", "--model", d / "mlp", "--data", d / "first.csv", "--label-column", "label",
                          "--false-positive-rate", "0.05", "--out", d / "detector.json")
    assert calibrated["false_positive_rate"] <= 0.05
    clean = mlsec("detector", "check", "--detector", d / "detector.json", "--model", d / "mlp", "--data", d / "second.csv",
                  "--label-column", "label", "--scores")
    assert clean.returncode in (0, 1)
    clean_rate = json.loads(clean.stdout)["flag_rate"]
    rates = {}
    for eps in ("0.05", "0.1"):
        adv = d / f"detector-adv-{eps}.csv"
        run_json("attack", "--model", d / "mlp", "--data", d / "second.csv", "--label-column", "label", "--attack", "pgd",
                 "--norm", "inf", "--eps", eps, "--out", adv)
        checked = mlsec("detector", "check", "--detector", d / "detector.json", "--model", d / "mlp", "--data", adv,
                        "--label-column", "label", "--scores", check=1)
        flags = np.array([r["flagged"] for r in json.loads(checked.stdout)["rows"]])
        rates[eps] = flags[flipped_rows(d, d / "mlp", d / "second.csv", adv)].mean()
    print(f"detector on held-out rows: clean flag rate {clean_rate:.3f}; PGD-40 caught {rates['0.05']:.3f} at eps 0.05, "
          f"{rates['0.1']:.3f} at eps 0.1 (squeezers {calibrated['squeezers']})")
    assert clean_rate <= 0.12  # 5% target; 180 held-out rows
    assert rates["0.05"] >= 0.8
    assert rates["0.1"] >= 0.6


def test_detector_files_that_cannot_be_read_refuse(work, tmp_path):
    d = work["dir"]
    if not (d / "detector.json").exists():
        run_json("detector", "calibrate", "--model", d / "mlp", "--data", d / "first.csv", "--label-column", "label",
                 "--false-positive-rate", "0.05", "--out", d / "detector.json")
    good = json.loads((d / "detector.json").read_text())
    cases = {
        "not-json": b"{", "wrong-format": json.dumps(dict(good, format="other")).encode(),
        "no-threshold": json.dumps({k: v for k, v in good.items() if k != "threshold"}).encode(),
        "bad-squeezer": json.dumps(dict(good, squeezers=[{"type": "median", "window": 99}])).encode(),
        "huge": b" " * 100_000,
    }
    for name, body in cases.items():
        (tmp_path / f"{name}.json").write_bytes(body)
        proc = mlsec("detector", "check", "--detector", tmp_path / f"{name}.json", "--model", d / "mlp", *DATA)
        assert proc.returncode == 2 and "error" in proc.stderr.lower(), name
    # Bound to the weights it was calibrated for: another model is refused.
    run_json("train", "--data", "digits-train", "--label-column", "label", "--architecture", "mlp:64-128-10",
             "--epochs", 5, "--seed", 9, "--out", tmp_path / "other")
    proc = mlsec("detector", "check", "--detector", d / "detector.json", "--model", tmp_path / "other", *DATA)
    assert proc.returncode == 1 and "recalibrate" in proc.stderr


def test_certify_reports_radii_and_repeats_with_its_seed(work):
    d = work["dir"]
    args = ("certify", "--model", d / "mlp", "--data", d / "first.csv", "--label-column", "label", "--sigma", "0.25",
            "--samples", "500", "--seed", "7")
    first, second = run_json(*args), run_json(*args)
    assert first["certified_accuracy"] == second["certified_accuracy"]
    curve = first["certified_accuracy"]
    assert list(curve)[:3] == ["0.0", "0.25", "0.5"]
    values = list(curve.values())
    assert all(a >= b for a, b in zip(values, values[1:])) and 0.5 < values[0] <= 1
    assert 0 <= first["abstain_rate"] < 0.5
    # sigma 0.25 with 500 samples at alpha 0.001: no radius beyond 0.25 * PhiInverse(0.001 ** (1/500)) ~ 0.58.
    assert curve["0.75"] == 0


def test_hopskipjump_against_a_live_gateway_respects_budget_and_waits_out_429(work, tmp_path):
    d = work["dir"]
    state = tmp_path / "state"
    proc, url = serve(["--demo", "--state-dir", state, "--port", "0"], tmp_path / "gateway.log")
    try:
        creds = json.loads((state / "demo-credentials.json").read_text())
        status, _, created = http_call(url, "POST", "/admin/keys", key=creds["api_keys"]["admin"], body={
            "name": "attacker", "role": "inference", "models": ["digits"],
            "rate_limit": {"requests_per_second": 200, "burst": 100}})
        assert status in (200, 201)
        x, y = work["x"][:2], work["y"][:2]
        write_csv(tmp_path / "two.csv", x, y)
        result = run_json("attack", "--model", state / "models/digits/1", "--data", tmp_path / "two.csv", "--label-column",
                          "label", "--attack", "hopskipjump", "--norm", "2", "--eps", "2", "--max-queries", "300",
                          "--steps", "5", "--target", url + "/v2/models/digits", "--api-key", created["key"])
        assert 0 < result["queries"] <= 600
        assert result["throttled"] > 0, "the key's limit (burst 100, 200 rows/s) should have been hit"
        status, _, _ = http_call(url, "GET", "/v2/models/digits", key=created["key"])
        metrics = subprocess.run(["curl", "-s", url + "/metrics", "-H", f"Authorization: Bearer {creds['api_keys']['admin']}"],
                                 capture_output=True, text=True, timeout=10).stdout
        assert 'reason="rate_limited"' in metrics
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)


def start_with_detector(tmp_path, demo, action):
    model = tmp_path / f"model-{action}"
    shutil.copytree(demo / "models/digits/1", model)
    run_json("detector", "calibrate", "--model", model, "--data", "digits-test", "--label-column", "label",
             "--false-positive-rate", "0.05", "--out", model / "detector.json")
    mlsec("sign", model, "--private-key", demo / "publisher.pem", "--signature", tmp_path / f"{action}.sig", check=0)
    key = json.loads(mlsec("apikey", "create", "--state-dir", tmp_path / f"state-{action}", "--init", "--name", "ops",
                           "--role", "admin", "--models", "*", check=0).stdout)["key"]
    config = {
        "listen": {"host": "127.0.0.1", "port": 0}, "state_dir": f"state-{action}",
        "models": [{"name": "digits", "path": str(model), "signature": str(tmp_path / f"{action}.sig"),
                    "public_keys": [str(demo / "publisher.pub")], "input_range": [0, 1], "detector": {"action": action}}],
    }
    (tmp_path / f"{action}.json").write_text(json.dumps(config))
    proc, url = serve(["--config", tmp_path / f"{action}.json"], tmp_path / f"{action}.log")
    return proc, url, key, model


def infer(url, key, rows):
    return http_call(url, "POST", "/v2/models/digits/infer", key=key, body={"inputs": [
        {"name": "input", "shape": [len(rows), 64], "datatype": "FP32", "data": np.asarray(rows, dtype=float).ravel().tolist()}]})


def test_gateway_runs_the_signed_detector_on_live_requests(work, tmp_path):
    demo_dir = tmp_path / "demo"
    proc, _ = serve(["--demo", "--state-dir", demo_dir, "--port", "0"], tmp_path / "demo.log")
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=30)
    for action in ("refuse", "flag"):
        gw, url, key, model = start_with_detector(tmp_path, demo_dir, action)
        try:
            run_json("attack", "--model", model, "--data", work["dir"] / "second.csv", "--label-column", "label", "--attack",
                     "pgd", "--norm", "inf", "--eps", "0.05", "--out", tmp_path / f"adv-{action}.csv")
            adversarial, _ = read_csv(tmp_path / f"adv-{action}.csv")
            checked = json.loads(mlsec("detector", "check", "--detector", model / "detector.json", "--model", model,
                                       "--data", tmp_path / f"adv-{action}.csv", "--label-column", "label", "--scores").stdout)
            flagged = [i for i, r in enumerate(checked["rows"]) if r["flagged"]]
            passed = [i for i, r in enumerate(checked["rows"]) if not r["flagged"]]
            assert flagged and passed
            status, headers, body = infer(url, key, adversarial[flagged[:1]])
            if action == "refuse":
                assert status == 422 and "detector" in body["error"]
            else:
                assert status == 200 and headers.get("MLSec-Detector-Flagged") == "1"
            status, headers, _ = infer(url, key, adversarial[passed[:1]])
            assert status == 200 and headers.get("MLSec-Detector-Flagged") == "0"
            text = subprocess.run(["curl", "-s", url + "/metrics", "-H", f"Authorization: Bearer {key}"], capture_output=True,
                                  text=True, timeout=10).stdout
            line = next(l for l in text.splitlines() if l.startswith("mlsec_detector_flagged_total{"))
            assert f'action="{action}"' in line and 'model="digits"' in line and float(line.split()[-1]) == 1, line
            audit = mlsec("audit", "list", "--log", tmp_path / f"state-{action}" / "audit.db", "--format", "json").stdout
            assert "detector: flagged 1 of 1 rows" in audit
        finally:
            gw.send_signal(signal.SIGTERM)
            gw.wait(timeout=30)
    # A configured detector the signed directory lacks stops the load (fail closed).
    bare = tmp_path / "bare"
    shutil.copytree(demo_dir / "models/digits/1", bare)
    mlsec("sign", bare, "--private-key", demo_dir / "publisher.pem", "--signature", tmp_path / "bare.sig", check=0)
    config = {"listen": {"host": "127.0.0.1", "port": 0}, "state_dir": "state-bare",
              "models": [{"name": "digits", "path": str(bare), "signature": str(tmp_path / "bare.sig"),
                          "public_keys": [str(demo_dir / "publisher.pub")], "detector": {"action": "refuse"}}]}
    (tmp_path / "bare.json").write_text(json.dumps(config))
    mlsec("apikey", "create", "--state-dir", tmp_path / "state-bare", "--init", "--name", "ops", "--role", "admin",
          "--models", "*", check=0)
    proc = subprocess.run([str(mlsec.__globals__["mlsec_bin"]()), "serve", "--config", str(tmp_path / "bare.json")],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode in (1, 2) and "detector.json" in proc.stderr
