"""Watermarks end to end on the digits MLP 64-128-10 (issue 19's goals): 64 bits at no more than 0.5 points of test
accuracy, bit error rate 0 after fine-tuning on half the training data and at most 0.05 after 50% pruning, no false
claim on independently trained models; a trigger-set watermark verified through a live gateway; key files kept
secret (0600) and hostile or mismatched keys refused with clear errors."""
import json
import os
import shutil
import signal

import pytest

from conftest import mlsec, serve

TRAIN = ("--data", "digits-train", "--label-column", "label")


def run_json(*args, check=0):
    return json.loads(mlsec(*args, check=check).stdout)


def accuracy(model):
    return run_json("evaluate", "--model", model, "--data", "digits-test", "--label-column", "label")["accuracy"]


@pytest.fixture(scope="module")
def owner(tmp_path_factory):
    d = tmp_path_factory.mktemp("watermark")
    run_json("train", *TRAIN, "--architecture", "mlp:64-128-10", "--epochs", 100, "--seed", 0, "--out", d / "mlp")
    embedded = run_json("watermark", "embed", "--model", d / "mlp", *TRAIN, "--bits", 64, "--seed", 5,
                        "--key-out", d / "owner.key", "--out", d / "marked")
    return {"dir": d, "embedded": embedded}


def test_embedding_costs_at_most_half_a_point_and_the_key_is_secret(owner):
    d = owner["dir"]
    before, after = accuracy(d / "mlp"), accuracy(d / "marked")
    print(f"test accuracy {before:.4f} -> {after:.4f}; chance rate {owner['embedded']['chance_rate']}, "
          f"calibration {owner['embedded']['calibration_rates']}")
    assert before - after <= 0.005
    assert os.stat(d / "owner.key").st_mode & 0o777 == 0o600
    assert owner["embedded"]["key_digest"].startswith("sha256:") and owner["embedded"]["verdict"] == "watermarked"
    verified = mlsec("watermark", "verify", "--model", d / "marked", "--key", d / "owner.key", check=0)
    result = json.loads(verified.stdout)
    assert set(result) == {"bit_error_rate", "p_value", "threshold", "verdict"}
    assert result["bit_error_rate"] == 0 and result["p_value"] < 1e-6 and result["verdict"] == "watermarked"


def test_watermark_survives_fine_tuning_and_pruning(owner):
    d = owner["dir"]
    rows = run_json("watermark", "robustness", "--model", d / "marked", "--key", d / "owner.key", *TRAIN,
                    "--test-data", "digits-test")["rows"]
    table = {r["attack"]: r for r in rows}
    for name, r in table.items():
        print(f"{name:38s} accuracy {r['accuracy']:.4f}  bit errors {r['bit_error_rate']:.4f}  {r['verdict']}")
    assert table["fine-tune 50% 10 epochs lr 0.001"]["bit_error_rate"] == 0
    assert table["fine-tune 50% 10 epochs lr 0.01"]["bit_error_rate"] <= 0.05
    assert table["prune 50%"]["bit_error_rate"] <= 0.05
    assert table["prune 20%"]["verdict"] == "watermarked" and table["weight noise 0.1σ"]["verdict"] == "watermarked"
    text = mlsec("watermark", "robustness", "--model", d / "marked", "--key", d / "owner.key", *TRAIN, "--format", "table",
                 check=0).stdout
    assert "prune 80%" in text and "verdict" in text


def test_no_false_claim_on_independent_models(owner, tmp_path):
    d = owner["dir"]
    for seed in (11, 12, 13, 14):
        run_json("train", *TRAIN, "--architecture", "mlp:64-128-10", "--epochs", 60, "--seed", seed, "--out", tmp_path / f"m{seed}")
        proc = mlsec("watermark", "verify", "--model", tmp_path / f"m{seed}", "--key", d / "owner.key")
        result = json.loads(proc.stdout)
        print(f"independent seed {seed}: bit error rate {result['bit_error_rate']}, p {result['p_value']}")
        assert proc.returncode == 1 and result["verdict"] == "not-watermarked"
    # The unwatermarked original is not claimed either.
    assert mlsec("watermark", "verify", "--model", d / "mlp", "--key", d / "owner.key").returncode == 1


def test_hostile_and_mismatched_keys_are_refused(owner, tmp_path):
    d = owner["dir"]
    key = json.loads((d / "owner.key").read_text())
    cases = {"truncated": (d / "owner.key").read_bytes()[:100], "wrong-format": json.dumps(dict(key, format="x")).encode(),
             "bad-bits": json.dumps(dict(key, bits="01" * 31 + "2x")).encode(),
             "bad-threshold": json.dumps(dict(key, threshold_count=999)).encode()}
    for name, body in cases.items():
        (tmp_path / name).write_bytes(body)
        proc = mlsec("watermark", "verify", "--model", d / "marked", "--key", tmp_path / name)
        assert proc.returncode == 2 and "error" in proc.stderr, name
    run_json("train", *TRAIN, "--architecture", "mlp:64-32-10", "--epochs", 2, "--out", tmp_path / "small")
    proc = mlsec("watermark", "verify", "--model", tmp_path / "small", "--key", d / "owner.key")
    assert proc.returncode == 2 and "another architecture" in proc.stderr
    proc = mlsec("watermark", "verify", "--model", d / "marked", "--key", d / "owner.key", "--target", "http://127.0.0.1:9",
                 "--api-key", "k")
    assert proc.returncode == 2 and "weights" in proc.stderr


def test_trigger_set_verified_through_a_live_gateway(owner, tmp_path):
    d = owner["dir"]
    demo = tmp_path / "demo"
    proc, _ = serve(["--demo", "--state-dir", demo, "--port", "0"], tmp_path / "demo.log")
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=30)
    marked = tmp_path / "marked"
    embedded = run_json("watermark", "embed", "--model", demo / "models/digits/1", *TRAIN, "--method", "triggers", "--seed", 3,
                        "--key-out", tmp_path / "triggers.key", "--out", marked)
    print(f"trigger set: chance rate {embedded['chance_rate']}, threshold {embedded['threshold']}, "
          f"accuracy {embedded['accuracy_before']} -> {embedded['accuracy_after']} (training rows)")
    mlsec("sign", marked, "--private-key", demo / "publisher.pem", "--signature", tmp_path / "marked.sig", check=0)
    key = json.loads(mlsec("apikey", "create", "--state-dir", tmp_path / "state", "--init", "--name", "owner", "--role", "inference",
                           "--models", "*", "--requests-per-second", "1000", "--burst", "1000", check=0).stdout)["key"]
    config = {"listen": {"host": "127.0.0.1", "port": 0}, "state_dir": "state",
              "models": [{"name": "digits", "path": str(marked), "signature": str(tmp_path / "marked.sig"),
                          "public_keys": [str(demo / "publisher.pub")], "input_range": [0, 1]}]}
    (tmp_path / "gw.json").write_text(json.dumps(config))
    gw, url = serve(["--config", tmp_path / "gw.json"], tmp_path / "gw.log")
    try:
        remote = mlsec("watermark", "verify", "--model", marked, "--key", tmp_path / "triggers.key",
                       "--target", url + "/v2/models/digits", "--api-key", key, check=0)
        result = json.loads(remote.stdout)
        assert result["verdict"] == "watermarked" and result["match_rate"] >= 0.9 and result["p_value"] < 1e-6
    finally:
        gw.send_signal(signal.SIGTERM)
        gw.wait(timeout=30)
    # The demo's own (unmarked) model is not claimed by the trigger key.
    assert mlsec("watermark", "verify", "--model", demo / "models/digits/1", "--key", tmp_path / "triggers.key").returncode == 1
