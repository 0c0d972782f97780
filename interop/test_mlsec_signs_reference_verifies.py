"""Signatures made by `mlsec sign` verify with the reference tool's CLI and API."""
import base64
import json

import pytest
from model_signing import hashing, verifying

from conftest import mlsec, model_signing_cli, tamper


def payload_of(sig):
    return json.loads(base64.b64decode(json.loads(sig.read_text())["dsseEnvelope"]["payload"]))


@pytest.mark.parametrize("curve", ["p256", "p384"])
def test_reference_cli_verifies_mlsec_signature(tmp_path, keys, model, curve):
    priv, pub = keys[curve]
    sig = tmp_path / "m.sig"
    mlsec("sign", model, "--private-key", priv, "--signature", sig, check=0)
    model_signing_cli("verify", "key", model, "--signature", sig, "--public_key", pub, check=0)
    tamper(model, "byte-flip")
    model_signing_cli("verify", "key", model, "--signature", sig, "--public_key", pub, check=1)


def test_reference_verifies_mlsec_keygen_key(tmp_path, model):
    """Keys made by `mlsec keygen` work in the reference tool, and the key hint matches its PEM hash."""
    priv, pub = tmp_path / "k.pem", tmp_path / "k.pub"
    mlsec("keygen", "--algorithm", "p384", "--private-key", priv, "--public-key", pub, check=0)
    assert (priv.stat().st_mode & 0o777) == 0o600
    sig = tmp_path / "m.sig"
    mlsec("sign", model, "--private-key", priv, "--signature", sig, check=0)
    import hashlib
    hint = json.loads(sig.read_text())["verificationMaterial"]["publicKey"]["hint"]
    assert hint == hashlib.sha256(pub.read_bytes()).hexdigest()
    model_signing_cli("verify", "key", model, "--signature", sig, "--public_key", pub, check=0)


@pytest.mark.parametrize("method,hash_name,py_hash", [
    ("files", "blake2b", "blake2"), ("files", "blake3", "blake3"),
    ("shards", "sha256", "sha256"), ("shards", "blake2b", "blake2")])
def test_reference_api_verifies_other_methods(tmp_path, keys, model, method, hash_name, py_hash):
    priv, pub = keys["p256"]
    sig = tmp_path / "m.sig"
    args = ["sign", model, "--private-key", priv, "--signature", sig, "--method", method, "--hash", hash_name]
    if method == "shards":
        args += ["--shard-size", "1000000"]
    mlsec(*args, check=0)
    hc = hashing.Config()
    if method == "files":
        hc = hc.use_file_serialization(hashing_algorithm=py_hash)
    else:
        hc = hc.use_shard_serialization(hashing_algorithm=py_hash, shard_size=1_000_000)
    verifying.Config().use_elliptic_key_verifier(public_key=pub).set_hashing_config(hc).verify(model, sig)
    stmt = payload_of(sig)
    if method == "shards":
        # MLSec's own signed record of empty files, which the reference verifier ignores.
        assert stmt["predicate"]["mlsec"]["empty_files"] == ["sub/empty.bin"]
        assert isinstance(stmt["predicate"]["serialization"]["shard_size"], int)
    (model / "extra.bin").write_bytes(b"x")
    with pytest.raises(ValueError):
        verifying.Config().use_elliptic_key_verifier(public_key=pub).set_hashing_config(hc).verify(model, sig)


def test_mlsec_shards_signature_detects_added_empty_file(tmp_path, keys, model):
    priv, pub = keys["p256"]
    sig = tmp_path / "m.sig"
    mlsec("sign", model, "--private-key", priv, "--signature", sig, "--method", "shards", "--shard-size", "1000000",
          check=0)
    tamper(model, "empty-file-added")
    # The reference verifier cannot see it (its shards manifest has no items for empty files)...
    hc = hashing.Config().use_shard_serialization(hashing_algorithm="sha256", shard_size=1_000_000)
    verifying.Config().use_elliptic_key_verifier(public_key=pub).set_hashing_config(hc).verify(model, sig)
    # ...but MLSec's signed empty-file record catches it.
    proc = mlsec("verify", model, "--signature", sig, "--public-key", pub, "--format", "json", check=1)
    assert json.loads(proc.stdout)["added"] == ["sub/new-empty.bin"]
    (model / "sub" / "new-empty.bin").unlink()
    (model / "sub" / "empty.bin").unlink()
    proc = mlsec("verify", model, "--signature", sig, "--public-key", pub, "--format", "json", check=1)
    assert json.loads(proc.stdout)["removed"] == ["sub/empty.bin"]


def test_reference_verifies_mlsec_certificate_signature(tmp_path, pki, model):
    sig = tmp_path / "cert.sig"
    mlsec("sign", model, "--private-key", pki / "leaf-key.pem", "--signing-certificate", pki / "leaf-cert.pem",
          "--certificate-chain", pki / "ca-cert.pem", "--signature", sig, check=0)
    model_signing_cli("verify", "certificate", model, "--signature", sig,
                      "--certificate_chain", pki / "ca-cert.pem", check=0)
    mlsec("verify", model, "--signature", sig, "--certificate-chain", pki / "ca-cert.pem", check=0)


def test_signature_inside_model_is_ignored_and_recorded(tmp_path, keys, model):
    priv, pub = keys["p256"]
    sig = model / "model.sig"
    mlsec("sign", model, "--private-key", priv, "--signature", sig, check=0)
    assert "model.sig" in payload_of(sig)["predicate"]["serialization"]["ignore_paths"]
    mlsec("verify", model, "--signature", sig, "--public-key", pub, check=0)
    model_signing_cli("verify", "key", model, "--signature", sig, "--public_key", pub, check=0)


def test_signed_model_name_and_version_are_ignored_by_the_reference(tmp_path, keys, model):
    """`mlsec sign --model-name --model-version` records them in the predicate's MLSec extension: the reference
    verifier still verifies the signature, and the payload carries them for MLSec's loaders."""
    priv, pub = keys["p256"]
    sig = tmp_path / "m.sig"
    mlsec("sign", model, "--private-key", priv, "--signature", sig, "--model-name", "digits", "--model-version", "7", check=0)
    assert payload_of(sig)["predicate"]["mlsec"]["model"] == {"name": "digits", "version": "7"}
    model_signing_cli("verify", "key", model, "--signature", sig, "--public_key", pub, check=0)
    assert mlsec("sign", model, "--private-key", priv, "--signature", sig, "--model-name", "digits").returncode == 2
