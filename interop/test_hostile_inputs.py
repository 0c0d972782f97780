"""Malformed and hostile signature files and model trees: clear errors, exit 2 (or 1), no crash, no partial file."""
import base64
import json
import os
import socket

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from conftest import mlsec

MEDIA = "application/vnd.dev.sigstore.bundle.v0.3+json"
PTYPE = "application/vnd.in-toto+json"


def pae(payload: bytes) -> bytes:
    return b"DSSEv1 %d %s %d " % (len(PTYPE), PTYPE.encode(), len(payload)) + payload


def signed_bundle(statement, key_path, raw_payload=None):
    """A correctly signed bundle around an arbitrary (possibly hostile) statement."""
    key = serialization.load_pem_private_key(key_path.read_bytes(), None)
    payload = raw_payload if raw_payload is not None else json.dumps(statement).encode()
    sig = key.sign(pae(payload), ec.ECDSA(hashes.SHA256()))
    pub_pem = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    import hashlib
    return {"mediaType": MEDIA,
            "verificationMaterial": {"publicKey": {"hint": hashlib.sha256(pub_pem).hexdigest()}, "tlogEntries": []},
            "dsseEnvelope": {"payload": base64.b64encode(payload).decode(), "payloadType": PTYPE,
                             "signatures": [{"sig": base64.b64encode(sig).decode(), "keyid": ""}]}}


def statement(resources, method="files", root=None, extra_ser=None):
    import hashlib
    h = hashlib.sha256()
    for r in resources:
        try:
            h.update(bytes.fromhex(r["digest"]))
        except ValueError:
            pass
    ser = {"method": method, "hash_type": "sha256", "allow_symlinks": False}
    if method == "shards":
        ser["shard_size"] = 1000000
    ser.update(extra_ser or {})
    return {"_type": "https://in-toto.io/Statement/v1",
            "subject": [{"name": "model", "digest": {"sha256": root or h.hexdigest()}}],
            "predicateType": "https://model_signing/signature/v1.0",
            "predicate": {"serialization": ser, "resources": resources}}


D = "ab" * 32


def res(name, digest=D, alg="sha256"):
    return {"name": name, "algorithm": alg, "digest": digest}


HOSTILE_STATEMENTS = {
    "digest-wrong-length": (statement([res("config.json", "ab" * 20)]), "digest"),
    "unknown-method": (statement([res("config.json")], extra_ser={"method": "chunks"}), "unknown serialization method"),
    "dotdot-path": (statement([res("../etc/passwd")]), ".."),
    "absolute-path": (statement([res("/etc/passwd")]), "absolute path"),
    "duplicate-names": (statement([res("config.json"), res("config.json")]), "duplicate resource name"),
    "inconsistent-root": (statement([res("config.json")], root="00" * 32), "inconsistent"),
    "unknown-hash": (statement([res("config.json")], extra_ser={"hash_type": "md5"}), "unknown hash_type"),
    "bad-shard-range": (statement([res("w.bin:0:99999999", alg="sha256-sharded-1000000")], method="shards"),
                        "impossible byte range"),
    "wrong-predicate": (dict(statement([res("config.json")]), predicateType="https://example.com/x"), "predicate type"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE_STATEMENTS))
def test_hostile_statement_is_refused_with_exit_2(tmp_path, keys, model, case):
    stmt, needle = HOSTILE_STATEMENTS[case]
    sig = tmp_path / "hostile.sig"
    sig.write_text(json.dumps(signed_bundle(stmt, keys["p256"][0])))
    proc = mlsec("verify", model, "--signature", sig, "--public-key", keys["p256"][1])
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert needle in proc.stderr, proc.stderr
    assert "Fatal error" not in proc.stderr


BAD_FILES = {
    "invalid-json": (b"{not json", "not valid JSON"),
    "wrong-media-type": (json.dumps({"mediaType": "application/json"}).encode(), "media type"),
    "duplicate-keys": (b'{"mediaType": "x", "mediaType": "y"}', "duplicate key"),
    "deep-nesting": (b"[" * 100000 + b"]" * 100000, "nesting"),
    "not-base64": (json.dumps({"mediaType": MEDIA, "verificationMaterial": {"publicKey": {"hint": ""}},
                               "dsseEnvelope": {"payload": "!!!", "payloadType": PTYPE,
                                                "signatures": [{"sig": "AAAA"}]}}).encode(), "Base64"),
    "huge-base64-payload": (json.dumps({"mediaType": MEDIA, "verificationMaterial": {"publicKey": {"hint": ""}},
                                        "dsseEnvelope": {"payload": "QUFB" * 4_000_000, "payloadType": PTYPE,
                                                         "signatures": [{"sig": "A" * 100_000}]}}).encode(), "sig"),
    "empty": (b"", "not valid JSON"),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_malformed_signature_file(tmp_path, keys, model, case):
    content, needle = BAD_FILES[case]
    sig = tmp_path / "bad.sig"
    sig.write_bytes(content)
    proc = mlsec("verify", model, "--signature", sig, "--public-key", keys["p256"][1])
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert needle in proc.stderr, proc.stderr


def test_oversized_signature_file_is_refused_before_reading(tmp_path, keys, model):
    sig = tmp_path / "huge.sig"
    with open(sig, "wb") as f:
        f.truncate(300 * 1024 * 1024)  # sparse: costs no disk
    proc = mlsec("verify", model, "--signature", sig, "--public-key", keys["p256"][1])
    assert proc.returncode == 2
    assert "limit" in proc.stderr


def test_tampered_payload_fails_signature(tmp_path, keys, model):
    sig = tmp_path / "m.sig"
    mlsec("sign", model, "--private-key", keys["p256"][0], "--signature", sig, check=0)
    bundle = json.loads(sig.read_text())
    stmt = json.loads(base64.b64decode(bundle["dsseEnvelope"]["payload"]))
    stmt["predicate"]["resources"] = stmt["predicate"]["resources"][1:]
    bundle["dsseEnvelope"]["payload"] = base64.b64encode(json.dumps(stmt).encode()).decode()
    sig.write_text(json.dumps(bundle))
    proc = mlsec("verify", model, "--signature", sig, "--public-key", keys["p256"][1], check=1)
    assert "does not verify" in proc.stderr


def sign_fails_cleanly(tmp_path, keys, model, needle, *extra):
    sig = tmp_path / "out.sig"
    proc = mlsec("sign", model, "--private-key", keys["p256"][0], "--signature", sig, *extra)
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert needle in proc.stderr, proc.stderr
    assert not sig.exists(), "no signature may be written when signing fails"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out.sig.tmp")], "temporary file left behind"


def test_symlink_out_of_tree_is_refused(tmp_path, keys, model):
    (tmp_path / "outside.txt").write_text("secret")
    os.symlink(tmp_path / "outside.txt", model / "link.txt")
    sign_fails_cleanly(tmp_path, keys, model, "points outside the model")


def test_fifo_is_refused(tmp_path, keys, model):
    os.mkfifo(model / "pipe")
    sign_fails_cleanly(tmp_path, keys, model, "FIFO")


def test_socket_is_refused(tmp_path, keys, model):
    s = socket.socket(socket.AF_UNIX)
    path = model / "sock"
    s.bind(str(path))
    try:
        sign_fails_cleanly(tmp_path, keys, model, "socket")
    finally:
        s.close()


def test_broken_symlink_is_refused_even_when_allowed(tmp_path, keys, model):
    os.symlink(tmp_path / "missing", model / "dangling")
    sign_fails_cleanly(tmp_path, keys, model, "broken symbolic link", "--allow-symlinks")


def test_allowed_symlink_is_hashed_under_its_name(tmp_path, keys, model):
    (tmp_path / "blob").write_bytes(b"weights in a cache")
    os.symlink(tmp_path / "blob", model / "linked.bin")
    sig = tmp_path / "m.sig"
    mlsec("sign", model, "--private-key", keys["p256"][0], "--signature", sig, "--allow-symlinks", check=0)
    mlsec("verify", model, "--signature", sig, "--public-key", keys["p256"][1], check=0)
    (tmp_path / "blob").write_bytes(b"swapped weights!!!")
    proc = mlsec("verify", model, "--signature", sig, "--public-key", keys["p256"][1], check=1)
    assert "modified: linked.bin" in proc.stdout


def test_fifo_added_after_signing_fails_verification(tmp_path, keys, model):
    sig = tmp_path / "m.sig"
    mlsec("sign", model, "--private-key", keys["p256"][0], "--signature", sig, check=0)
    os.mkfifo(model / "pipe")
    proc = mlsec("verify", model, "--signature", sig, "--public-key", keys["p256"][1])
    assert proc.returncode == 1 and "FIFO" in proc.stderr


def test_bad_private_key_is_exit_2(tmp_path, model):
    k = tmp_path / "k.pem"
    k.write_text("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
    proc = mlsec("sign", model, "--private-key", k, "--signature", tmp_path / "s.sig")
    assert proc.returncode == 2 and "private key" in proc.stderr


def test_usage_errors_exit_2(tmp_path, model):
    assert mlsec("verify", model).returncode == 2
    assert mlsec("sign", model, "--private-key", "x", "--method", "bogus").returncode == 2
    assert mlsec("frobnicate").returncode == 2
