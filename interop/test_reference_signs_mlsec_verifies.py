"""Signatures made by the Python model_signing tool (CLI and API) verify with `mlsec verify`; tampering fails."""
import json
import pathlib

import pytest
from model_signing import hashing, signing

from conftest import EXPECTED_CHANGE, copy_model, mlsec, model_signing_cli, tamper

CASES = ["pristine", "byte-flip", "file-added", "empty-file-added", "file-removed", "file-renamed", "git-dir-added"]


def api_sign(model, sig, key, method, hash_name, shard_size=1_000_000, cert=None, ignore=None):
    hc = hashing.Config()
    if method == "files":
        hc = hc.use_file_serialization(hashing_algorithm=hash_name)
    else:
        hc = hc.use_shard_serialization(hashing_algorithm=hash_name, shard_size=shard_size)
    if ignore:
        hc = hc.set_ignored_paths(paths=ignore, ignore_git_paths=True)
    cfg = signing.Config()
    if cert:
        cfg = cfg.use_certificate_signer(private_key=cert / "leaf-key.pem",
                                         signing_certificate=cert / "leaf-cert.pem",
                                         certificate_chain=[cert / "ca-cert.pem"])
    else:
        cfg = cfg.use_elliptic_key_signer(private_key=key)
    cfg.set_hashing_config(hc).sign(model, sig)


SIGNERS = [
    ("cli-files-sha256-p256", "cli", "files", "sha256", "p256"),
    ("cli-files-sha256-p384", "cli", "files", "sha256", "p384"),
    ("api-files-blake2-p256", "api", "files", "blake2", "p256"),
    ("api-files-blake3-p256", "api", "files", "blake3", "p256"),
    ("api-shards-sha256-p256", "api", "shards", "sha256", "p256"),
    ("api-shards-blake2-p384", "api", "shards", "blake2", "p384"),
]


@pytest.fixture(scope="module")
def reference_signatures(tmp_path_factory, keys):
    """Signs one pristine model with each reference set-up; returns {name: (model, sig, pub)}."""
    from conftest import make_model
    base = tmp_path_factory.mktemp("ref")
    model = make_model(base / "model")
    out = {}
    for name, how, method, hash_name, curve in SIGNERS:
        priv, pub = keys[curve]
        sig = base / f"{name}.sig"
        if how == "cli":
            model_signing_cli("sign", "key", model, "--signature", sig, "--private_key", priv, check=0)
        else:
            api_sign(model, sig, priv, method, hash_name)
        out[name] = (model, sig, pub, method)
    return out


@pytest.mark.parametrize("signer", [s[0] for s in SIGNERS])
@pytest.mark.parametrize("case", CASES)
def test_reference_signature_verifies_and_tampering_fails(tmp_path, reference_signatures, signer, case):
    src, sig, pub, method = reference_signatures[signer]
    model = copy_model(src, tmp_path / "model")
    tamper(model, case)
    proc = mlsec("verify", model, "--signature", sig, "--public-key", pub, "--format", "json")
    report = json.loads(proc.stdout) if proc.stdout else {}
    if case in ("pristine", "git-dir-added"):
        assert proc.returncode == 0, proc.stderr
        assert report["verified"] is True
        return
    if case == "empty-file-added" and method == "shards":
        # The reference's shards signatures do not record empty files: the change cannot be seen,
        # and MLSec says so instead of staying silent.
        assert proc.returncode == 0, proc.stderr
        assert "does not record empty files" in proc.stderr
        return
    assert proc.returncode == 1, (proc.stdout, proc.stderr)
    kind, what = EXPECTED_CHANGE[case]
    assert what in report[kind], report


def test_reference_certificate_signature(tmp_path, pki, model):
    sig = tmp_path / "cert.sig"
    model_signing_cli("sign", "certificate", model, "--signature", sig,
                      "--private_key", pki / "leaf-key.pem", "--signing_certificate", pki / "leaf-cert.pem",
                      "--certificate_chain", pki / "ca-cert.pem", check=0)
    mlsec("verify", model, "--signature", sig, "--certificate-chain", pki / "ca-cert.pem", check=0)
    tamper(model, "byte-flip")
    proc = mlsec("verify", model, "--signature", sig, "--certificate-chain", pki / "ca-cert.pem", check=1)
    assert "modified: weights.bin" in proc.stdout


def test_reference_signature_with_ignore_paths(tmp_path, keys, model):
    priv, pub = keys["p256"]
    sig = tmp_path / "ignore.sig"
    model_signing_cli("sign", "key", model, "--signature", sig, "--private_key", priv,
                      "--ignore-paths", model / "sub-notes.txt", check=0)
    payload = json.loads(__import__("base64").b64decode(json.loads(sig.read_text())["dsseEnvelope"]["payload"]))
    assert "sub-notes.txt" in payload["predicate"]["serialization"]["ignore_paths"]
    (model / "sub-notes.txt").write_text("changed, but ignored by the signer")
    mlsec("verify", model, "--signature", sig, "--public-key", pub, check=0)
    (model / "config.json").write_text("changed and signed")
    mlsec("verify", model, "--signature", sig, "--public-key", pub, check=1)


def test_wrong_key_is_a_key_mismatch(reference_signatures, keys):
    model, sig, _, _ = reference_signatures["cli-files-sha256-p256"]
    proc = mlsec("verify", model, "--signature", sig, "--public-key", keys["p384"][1], check=1)
    assert "key mismatch" in proc.stderr


def test_root_digest_matches_reference(reference_signatures):
    """`mlsec digest` computes the same root digest the reference put in its subject (part ordering trap)."""
    import base64
    for name, (model, sig, _, method) in reference_signatures.items():
        stmt = json.loads(base64.b64decode(json.loads(sig.read_text())["dsseEnvelope"]["payload"]))
        ser = stmt["predicate"]["serialization"]
        args = ["digest", model, "--hash", {"blake2": "blake2b"}.get(ser["hash_type"], ser["hash_type"]),
                "--method", ser["method"]]
        if ser["method"] == "shards":
            args += ["--shard-size", str(int(ser["shard_size"]))]
        out = mlsec(*args, check=0).stdout.strip()
        assert out == "sha256:" + stmt["subject"][0]["digest"]["sha256"], name
