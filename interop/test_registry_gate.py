"""The model registry and the deploy gate end to end, with the real CLI and a real gateway on 127.0.0.1:
registry round trips and stage transitions (illegal ones refused), the tensor-level diff of a fine-tune that
touched one layer, `mlsec deploy check` refusing each rule on its own with a message naming it, the gateway
refusing at start and through PUT /admin/models a version the policy refuses, and a revocation taking a
served version out of service within seconds (404, audited) without a restart."""
import json
import shutil
import signal
import subprocess
import time

import numpy as np
import pytest
from safetensors.numpy import load_file, save_file

from conftest import demo_state, http_call, mlsec, serve

BODY = {"inputs": [{"name": "input", "shape": [1, 64], "datatype": "FP32", "data": [0.5] * 64}]}


def sign_version(state, version, change=None):
    """Copies version 1 as `version`, optionally changes its weights, and signs it with the demo's publisher key."""
    models = state / "models"
    target = models / "digits" / version
    shutil.copytree(models / "digits" / "1", target)
    if change:
        weights = load_file(str(target / "weights.safetensors"))
        change(weights)
        save_file(weights, str(target / "weights.safetensors"))
    mlsec("sign", target, "--private-key", state / "publisher.pem", "--signature", models / f"digits-{version}.sig", check=0)


def add(state, version, *extra, check=0):
    return mlsec("registry", "add", "digits", version, "--model", state / "models" / "digits" / version,
                 "--signature", state / "models" / f"digits-{version}.sig", "--public-key", state / "publisher.pub",
                 "--state-dir", state, *extra, check=check)


def last_layer(weights):
    """Moves the last layer's bias: a 'small fine-tune' of one tensor."""
    name = sorted(k for k in weights if k.endswith("bias"))[-1]
    weights[name] = weights[name] + np.float32(0.25)


@pytest.fixture
def registered(tmp_path):
    state = demo_state(tmp_path)
    sign_version(state, "2", last_layer)
    add(state, "1", "--eval", "accuracy=0.95")
    add(state, "2", "--eval", "accuracy=0.97", "--format", "json")
    return state


def test_registry_round_trip_stages_and_audit(registered):
    state = registered
    listed = json.loads(mlsec("registry", "list", "--state-dir", state, "--format", "json", check=0).stdout)["versions"]
    assert [(v["name"], v["version"], v["stage"]) for v in listed] == [("digits", "1", "staging"), ("digits", "2", "staging")]
    shown = json.loads(mlsec("registry", "show", "digits", "2", "--state-dir", state, check=0).stdout)
    assert shown["evaluations"] == {"accuracy": 0.97} and shown["scan"]["verdict"] == "clean"
    assert shown["signer"].startswith("key:sha256:") and shown["manifest_digest"].startswith("sha256:")
    # The signer is the SHA-256 of the key's DER SubjectPublicKeyInfo, as the docs tell users to compute it.
    import hashlib
    from cryptography.hazmat.primitives import serialization
    key = serialization.load_pem_public_key((state / "publisher.pub").read_bytes())
    spki = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    assert shown["signer"] == "key:sha256:" + hashlib.sha256(spki).hexdigest()
    assert set(shown["files"]) == {"model.json", "weights.safetensors"}
    # The ML-BOM built at registration, and the same through mlsec sbom by name (the production version, else the newest).
    bom = json.loads(mlsec("registry", "show", "digits", "2", "--bom", "--state-dir", state, check=0).stdout)
    assert bom["bomFormat"] == "CycloneDX" and bom["specVersion"] == "1.6"
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator
    by_name = mlsec("sbom", "--model", "digits", "--state-dir", state, check=0).stdout
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(by_name) is None
    assert shown["manifest_digest"].split(":")[1] in by_name
    # Versions are immutable.
    again = add(state, "2", check=2)
    assert "registered already" in again.stderr
    mlsec("registry", "promote", "digits", "2", "--state-dir", state, check=0)
    mlsec("registry", "archive", "digits", "1", "--state-dir", state, check=0)
    illegal = mlsec("registry", "promote", "digits", "1", "--state-dir", state, check=2)
    assert "archived and cannot move to production" in illegal.stderr
    mlsec("registry", "revoke", "digits", "1", "--reason", "superseded by a fix", "--state-dir", state, check=0)
    final = mlsec("registry", "promote", "digits", "1", "--to", "staging", "--state-dir", state, check=2)
    assert "revoked is final" in final.stderr
    entries = json.loads(mlsec("audit", "list", "--log", state / "registry-audit.db", "--format", "json", check=0).stdout)["entries"]
    assert [e["action"] for e in entries] == ["registry.add", "registry.add", "registry.promote", "registry.archive", "registry.revoke"]
    assert entries[-1]["reason"] == "archived -> revoked: superseded by a fix"


def test_diff_shows_only_the_touched_tensor(registered):
    diff = json.loads(mlsec("registry", "diff", "digits", "1", "2", "--state-dir", registered, "--format", "json", check=0).stdout)
    assert {f["path"]: f["status"] for f in diff["files"]} == {"model.json": "unchanged", "weights.safetensors": "changed"}
    changed = diff["tensors"]
    assert len(changed) == 1 and changed[0]["status"] == "changed", changed
    assert abs(changed[0]["max_abs_diff"] - 0.25) < 1e-6 and changed[0]["changed_elements"] == changed[0]["elements"]
    assert diff["unchanged_tensors"] >= 1
    text = mlsec("registry", "diff", "digits", "1", "2", "--state-dir", registered, check=0).stdout
    assert "1 of" in text and "tensors changed" in text
    # Files replaced after registration are not described: the diff refuses them.
    w = registered / "models" / "digits" / "2" / "weights.safetensors"
    w.write_bytes(w.read_bytes()[:-4] + b"\0\0\0\0")
    out = mlsec("registry", "diff", "digits", "1", "2", "--state-dir", registered, check=1)
    assert "changed after registration" in out.stderr


def write_policy(path, state, **rule):
    rule = {"name": "prod", "models": ["digits"], **rule}
    path.write_text(json.dumps({"version": 1, "policies": [rule]}))
    return path


def check(state, policy, version="2", code=None):
    out = mlsec("deploy", "check", "digits", version, "--policy", policy, "--state-dir", state, "--format", "json", check=code)
    return json.loads(out.stdout)


def test_deploy_check_refuses_each_rule_on_its_own(registered, tmp_path):
    state = registered
    mlsec("registry", "promote", "digits", "2", "--state-dir", state, check=0)
    base = {"signers": [{"key": str(state / "publisher.pub")}]}
    ok = check(state, write_policy(tmp_path / "ok.json", state, **base, stage="production", scan_verdict="clean",
                                   max_age_days=30, min_evaluations={"accuracy": 0.9}), code=0)
    assert ok["approved"] and ok["failures"] == []
    other = tmp_path / "other.pub"
    mlsec("keygen", "--private-key", tmp_path / "other.pem", "--public-key", other, check=0)
    cases = [
        ({"signers": [{"key": str(other)}]}, "2", "signature:"),
        ({**base, "stage": "staging"}, "2", "prod: stage: version 2 is in production, required staging"),
        ({**base, "min_evaluations": {"accuracy": 0.99}}, "2", "prod: min_evaluations: accuracy is 0.97"),
        ({**base, "max_evaluations": {"epsilon": 8}}, "2", "prod: max_evaluations: no epsilon result recorded"),
        ({**base, "require_encryption": True}, "2", "prod: require_encryption:"),
        ({**base, "require_watermark": "verified"}, "2", "prod: require_watermark:"),
        ({**base}, "3", "registry: version 3 is not registered"),
    ]
    for i, (rule, version, expected) in enumerate(cases):
        refused = check(state, write_policy(tmp_path / f"p{i}.json", state, **rule), version=version, code=1)
        assert not refused["approved"] and len(refused["failures"]) == 1, (rule, refused)
        assert refused["failures"][0].startswith(expected), (rule, refused)
    # Age: registered a moment ago, allowed a second at most.
    time.sleep(1.2)
    aged = check(state, write_policy(tmp_path / "age.json", state, **base, max_age_days=1 / 86400), code=1)
    assert aged["failures"][0].startswith("prod: max_age_days:"), aged
    # A model no rule set names, and a policy that does not parse: refused, exit 1 and 2.
    unnamed = tmp_path / "unnamed.json"
    unnamed.write_text(json.dumps({"version": 1, "policies": [{"models": "fraud-*", **base}]}))
    assert "no rule set" in check(state, unnamed, code=1)["failures"][0]
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps({"version": 1, "policies": [{"models": "*", "stages": "production"}]}))
    out = mlsec("deploy", "check", "digits", "2", "--policy", broken, "--state-dir", state, check=2)
    assert "unknown key \"stages\"" in out.stderr
    # Every failed rule is named, in text too.
    text = mlsec("deploy", "check", "digits", "2", "--policy",
                 write_policy(tmp_path / "many.json", state, **base, stage="staging", require_encryption=True),
                 "--state-dir", state, check=1).stdout
    assert "fails 2 rule(s)" in text and "stage:" in text and "require_encryption:" in text
    # Revoked: refused whatever the policy says.
    mlsec("registry", "revoke", "digits", "2", "--reason", "test", "--state-dir", state, check=0)
    revoked = check(state, tmp_path / "ok.json", code=1)
    assert revoked["failures"][0].startswith("registry: version 2 was revoked"), revoked


def gateway_config(path, state, policy):
    path.write_text(json.dumps({
        "listen": {"host": "127.0.0.1", "port": 0}, "state_dir": str(state), "audit": {"origin": "test/audit"},
        "deploy_policy": str(policy),
        "models": [{"name": "digits", "version": "1", "path": str(state / "models/digits/{version}"),
                    "signature": str(state / "models/digits-{version}.sig"),
                    "public_keys": [str(state / "publisher.pub")], "input_range": [0, 1]}],
    }))
    return path


def stop(proc):
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise


def test_gateway_applies_the_gate_and_follows_revocations(registered, tmp_path):
    state = registered
    policy = write_policy(tmp_path / "policy.json", state, signers=[{"key": str(state / "publisher.pub")}], stage="production")
    config = gateway_config(tmp_path / "gateway.json", state, policy)
    # Version 1 is in staging: the gateway refuses to start with it, naming the rule.
    out = subprocess.run([mlsec_path(), "serve", "--config", str(config)], capture_output=True, text=True, timeout=60)
    assert out.returncode != 0 and "refused by the deploy gate" in out.stderr and "stage:" in out.stderr, out.stderr[-2000:]
    mlsec("registry", "promote", "digits", "1", "--state-dir", state, check=0)
    admin = json.loads((state / "demo-credentials.json").read_text())["api_keys"]["admin"]
    log = tmp_path / "gateway.log"
    proc, url = serve(["--config", config], log)
    try:
        assert http_call(url, "POST", "/v2/models/digits/infer", BODY, admin)[0] == 200
        # Version 2 is still in staging: PUT /admin/models refuses it.
        status, _, body = http_call(url, "PUT", "/admin/models/digits", {"version": "2"}, admin)
        assert status == 422 and "deploy gate" in body["error"], body
        # Revoking the served version takes it out of service within seconds, without a restart.
        mlsec("registry", "revoke", "digits", "1", "--reason", "poisoned training data", "--state-dir", state, check=0)
        deadline = time.time() + 10
        while time.time() < deadline and http_call(url, "POST", "/v2/models/digits/infer", BODY, admin)[0] == 200:
            time.sleep(0.1)
        assert http_call(url, "POST", "/v2/models/digits/infer", BODY, admin)[0] == 404
        assert http_call(url, "GET", "/v2/models/digits", key=admin)[0] == 404
    finally:
        stop(proc)
    entries = json.loads(mlsec("audit", "list", "--log", state / "audit.db", "--action", "model.unload", "--format", "json",
                               check=0).stdout)["entries"]
    assert len(entries) == 1 and entries[0]["decision"] == "deny"
    assert "poisoned training data" in entries[0]["reason"] and entries[0]["resource"] == "models/digits/versions/1"
    denied = json.loads(mlsec("audit", "list", "--log", state / "audit.db", "--action", "deploy_model", "--format", "json",
                              check=0).stdout)["entries"]
    assert any("stage:" in e.get("reason", "") for e in denied), denied


def mlsec_path():
    from conftest import mlsec_bin
    return mlsec_bin()


def test_results_from_the_robustness_privacy_and_watermark_modules_are_recorded_and_gated(tmp_path):
    """A robustness report, a privacy epsilon and a watermark verdict (each module's own JSON output format)
    recorded with the version; the gate then judges robust accuracy, epsilon and the watermark status."""
    state = demo_state(tmp_path)
    report = tmp_path / "robustness.json"
    report.write_text(json.dumps({"model": "digits", "clean_accuracy": 0.97, "attacks": {
        "fgsm": {"name": "FGSM", "points": [[0, 0.97], [0.1, 0.62], [0.2, 0.41]]},
        "pgd": {"name": "PGD-40", "points": [[0, 0.97], [0.2, 0.33], [0.1, 0.5]]}}}))
    privacy = tmp_path / "epsilon.json"
    privacy.write_text(json.dumps({"epsilon": 2.5, "order": 12}))
    verdict = tmp_path / "watermark.json"
    verdict.write_text(json.dumps({"bit_error_rate": 0.0, "p_value": 1e-19, "threshold": 0.125, "verdict": "watermarked"}))
    add(state, "1", "--robustness-report", report, "--evaluation", privacy, "--watermark-report", verdict)
    shown = json.loads(mlsec("registry", "show", "digits", "1", "--state-dir", state, check=0).stdout)
    assert shown["evaluations"]["clean_accuracy"] == 0.97
    assert shown["evaluations"]["robust_accuracy.fgsm"] == 0.41 and shown["evaluations"]["robust_accuracy.pgd"] == 0.33
    assert shown["evaluations"]["robust_accuracy"] == 0.33 and shown["evaluations"]["epsilon"] == 2.5
    assert shown["watermark"] == "verified" and shown["evaluations"]["watermark_bit_error_rate"] == 0
    base = {"signers": [{"key": str(state / "publisher.pub")}], "require_watermark": "verified", "max_evaluations": {"epsilon": 3}}
    assert check(state, write_policy(tmp_path / "ok.json", state, **base, min_evaluations={"robust_accuracy": 0.3}),
                 version="1", code=0)["approved"]
    refused = check(state, write_policy(tmp_path / "strict.json", state, **base, min_evaluations={"robust_accuracy": 0.4}),
                    version="1", code=1)
    assert refused["failures"] == ["prod: min_evaluations: robust_accuracy is 0.33, required at least 0.4"], refused
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"accuracy": 0.9}))
    out = add(state, "2", "--robustness-report", bad, check=2)
    assert "not a robustness report" in out.stderr


def test_sighup_with_a_version_the_gate_refuses_changes_nothing(registered, tmp_path):
    """The configuration moves to version 2 (staging, the policy wants production): the SIGHUP reload is refused,
    naming the rule, and version 1 stays in service."""
    state = registered
    mlsec("registry", "promote", "digits", "1", "--state-dir", state, check=0)
    policy = write_policy(tmp_path / "policy.json", state, signers=[{"key": str(state / "publisher.pub")}], stage="production")
    config = gateway_config(tmp_path / "gateway.json", state, policy)
    admin = json.loads((state / "demo-credentials.json").read_text())["api_keys"]["admin"]
    log = tmp_path / "gateway.log"
    proc, url = serve(["--config", config], log)
    try:
        doc = json.loads(config.read_text())
        doc["models"][0]["version"] = "2"
        config.write_text(json.dumps(doc))
        proc.send_signal(signal.SIGHUP)
        deadline = time.time() + 15
        while time.time() < deadline and "configuration reload failed" not in log.read_text():
            time.sleep(0.1)
        text = log.read_text()
        assert "configuration reload failed" in text and "refused by the deploy gate" in text and "stage:" in text, text[-2000:]
        status, _, served = http_call(url, "GET", "/v2/models/digits", key=admin)
        assert status == 200 and served["versions"] == ["1"], served
    finally:
        stop(proc)
