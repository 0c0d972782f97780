"""Beyond the reference: --only, --ignore-unsigned-files, diff, incremental re-signing, ed25519, expiry, keygen."""
import json
import os
import time

from cryptography.x509.oid import ExtendedKeyUsageOID

from conftest import issue_leaf, make_pki, mlsec, model_signing_cli, tamper


def sign(model, keys, sig, *extra):
    return mlsec("sign", model, "--private-key", keys["p256"][0], "--signature", sig, *extra, check=0)


def test_only_verifies_just_the_named_files(tmp_path, keys, model):
    sig = tmp_path / "m.sig"
    sign(model, keys, sig)
    tamper(model, "byte-flip")  # weights.bin changes
    pub = keys["p256"][1]
    mlsec("verify", model, "--signature", sig, "--public-key", pub, "--only", "config.json", "sub/layer1.bin", check=0)
    proc = mlsec("verify", model, "--signature", sig, "--public-key", pub, "--only", "weights.bin", check=1)
    assert "modified: weights.bin" in proc.stdout
    proc = mlsec("verify", model, "--signature", sig, "--public-key", pub, "--only", "not-signed.bin", check=1)
    assert "not covered by the signature" in proc.stderr


def test_ignore_unsigned_files_warns(tmp_path, keys, model):
    sig = tmp_path / "m.sig"
    sign(model, keys, sig)
    tamper(model, "file-added")
    pub = keys["p256"][1]
    mlsec("verify", model, "--signature", sig, "--public-key", pub, check=1)
    proc = mlsec("verify", model, "--signature", sig, "--public-key", pub, "--ignore-unsigned-files", check=0)
    assert "extra.bin" in proc.stderr and "warning" in proc.stderr
    tamper(model, "file-removed")
    proc = mlsec("verify", model, "--signature", sig, "--public-key", pub, "--ignore-unsigned-files", check=1)
    assert "removed:  config.json" in proc.stdout


def test_diff_lists_changes_without_a_key(tmp_path, keys, model):
    sig = tmp_path / "m.sig"
    sign(model, keys, sig)
    mlsec("diff", model, "--signature", sig, check=0)
    tamper(model, "file-renamed")
    tamper(model, "byte-flip")
    proc = mlsec("diff", model, "--signature", sig, "--format", "json", check=1)
    report = json.loads(proc.stdout)
    assert report["modified"] == ["weights.bin"]
    assert report["renamed"] == [{"from": "sub/layer1.bin", "to": "sub/layer2.bin"}]


def test_incremental_resigning_rehashes_only_changed_files(tmp_path, keys, model):
    first = tmp_path / "v1.sig"
    sign(model, keys, first)
    time.sleep(0.01)
    (model / "config.json").write_text('{"changed": true}')
    second = tmp_path / "v2.sig"
    proc = mlsec("sign", model, "--private-key", keys["p256"][0], "--signature", second, "--incremental",
                 "--previous-signature", first, "--format", "json", check=0)
    out = json.loads(proc.stdout)
    assert "config.json" not in out["reused_files"]
    assert set(out["reused_files"]) == {"weights.bin", "sub/layer1.bin", "sub/empty.bin", "sub-notes.txt"}
    assert out["bytes_hashed"] == len('{"changed": true}')
    # The incremental signature is a full, ordinary signature.
    mlsec("verify", model, "--signature", second, "--public-key", keys["p256"][1], check=0)
    model_signing_cli("verify", "key", model, "--signature", second, "--public_key", keys["p256"][1], check=0)
    full = tmp_path / "full.sig"
    sign(model, keys, full)
    d1 = mlsec("digest", model, check=0).stdout
    assert json.loads(mlsec("verify", model, "--signature", full, "--public-key", keys["p256"][1],
                            "--format", "json", check=0).stdout)["root_digest"] == d1.strip()


def test_incremental_refuses_a_signature_from_another_key(tmp_path, keys, model):
    other = tmp_path / "other.sig"
    mlsec("sign", model, "--private-key", keys["p384"][0], "--signature", other, check=0)
    proc = mlsec("sign", model, "--private-key", keys["p256"][0], "--signature", tmp_path / "n.sig",
                 "--incremental", "--previous-signature", other)
    assert proc.returncode == 1 and "previous signature" in proc.stderr


def test_ed25519_extension(tmp_path, model):
    priv, pub = tmp_path / "ed.pem", tmp_path / "ed.pub"
    mlsec("keygen", "--algorithm", "ed25519", "--private-key", priv, "--public-key", pub, check=0)
    sig = tmp_path / "ed.sig"
    proc = mlsec("sign", model, "--private-key", priv, "--signature", sig, check=0)
    assert "MLSec extension" in proc.stderr
    mlsec("verify", model, "--signature", sig, "--public-key", pub, check=0)
    # The reference refuses the key outright rather than misreading the signature.
    assert model_signing_cli("verify", "key", model, "--signature", sig, "--public_key", pub).returncode != 0
    tamper(model, "byte-flip")
    mlsec("verify", model, "--signature", sig, "--public-key", pub, check=1)


def test_expired_certificate_fails_now(tmp_path, model):
    """The reference checks the chain at the leaf's notBefore, so an expired leaf passes there; MLSec checks now."""
    pki = make_pki(tmp_path / "pki", leaf_not_after_days=-1, leaf_not_before_days=-10)
    sig = tmp_path / "cert.sig"
    mlsec("sign", model, "--private-key", pki / "leaf-key.pem", "--signing-certificate", pki / "leaf-cert.pem",
          "--certificate-chain", pki / "ca-cert.pem", "--signature", sig, check=0)
    proc = mlsec("verify", model, "--signature", sig, "--certificate-chain", pki / "ca-cert.pem", check=1)
    assert "not valid now" in proc.stderr


def test_untrusted_ca_fails(tmp_path, pki, model):
    other = make_pki(tmp_path / "other")
    sig = tmp_path / "cert.sig"
    mlsec("sign", model, "--private-key", pki / "leaf-key.pem", "--signing-certificate", pki / "leaf-cert.pem",
          "--certificate-chain", pki / "ca-cert.pem", "--signature", sig, check=0)
    proc = mlsec("verify", model, "--signature", sig, "--certificate-chain", other / "ca-cert.pem", check=1)
    assert "trusted" in proc.stderr


def test_certificate_identity_pins_the_signer(tmp_path, model):
    """--certificate-identity accepts the expected code-signing certificate only: a TLS server certificate or another
    signer from the same CA is refused; without an identity any certificate of the CA verifies, with a warning."""
    pki = make_pki(tmp_path / "pki")
    ca = pki / "ca-cert.pem"
    signers = {
        "publisher": issue_leaf(pki, "publisher", email="publisher@example.com"),
        "other": issue_leaf(pki, "other", email="other@example.com"),
        "tls": issue_leaf(pki, "tls", dns="models.example.com", eku=ExtendedKeyUsageOID.SERVER_AUTH, common_name="models.example.com"),
    }
    sigs = {}
    for name, (cert, key) in signers.items():
        sigs[name] = tmp_path / f"{name}.sig"
        mlsec("sign", model, "--private-key", key, "--signing-certificate", cert, "--certificate-chain", ca,
              "--signature", sigs[name], check=0)
    expected = ("--certificate-identity", "email:publisher@example.com")
    proc = mlsec("verify", model, "--signature", sigs["publisher"], "--certificate-chain", ca, *expected, check=0)
    assert "warning" not in proc.stderr
    mlsec("verify", model, "--signature", sigs["publisher"], "--certificate-chain", ca,
          "--certificate-identity", "publisher@example.com", check=0)
    proc = mlsec("verify", model, "--signature", sigs["tls"], "--certificate-chain", ca, *expected, check=1)
    assert "not a code-signing certificate" in proc.stderr and "serverAuth" in proc.stderr
    proc = mlsec("verify", model, "--signature", sigs["other"], "--certificate-chain", ca, *expected, check=1)
    assert "publisher@example.com" in proc.stderr and "other@example.com" in proc.stderr
    # Without an identity the TLS server certificate verifies, and a warning says why that is weak.
    proc = mlsec("verify", model, "--signature", sigs["tls"], "--certificate-chain", ca, "--format", "json", check=0)
    assert "--certificate-identity" in proc.stderr and "TLS server certificate" in proc.stderr
    assert any("any certificate the CA issued" in w for w in json.loads(proc.stdout)["warnings"])
    # The identity is for certificate mode only, and must be well formed.
    proc = mlsec("verify", model, "--signature", sigs["publisher"], "--public-key", ca, *expected)
    assert proc.returncode == 2 and "--certificate-chain" in proc.stderr
    proc = mlsec("verify", model, "--signature", sigs["publisher"], "--certificate-chain", ca, "--certificate-identity", "email:")
    assert proc.returncode == 2


def test_keygen_refuses_to_overwrite(tmp_path):
    priv = tmp_path / "k.pem"
    mlsec("keygen", "--private-key", priv, check=0)
    before = priv.read_bytes()
    proc = mlsec("keygen", "--private-key", priv)
    assert proc.returncode == 2 and "--force" in proc.stderr
    assert priv.read_bytes() == before
    mlsec("keygen", "--private-key", priv, "--force", check=0)
    assert priv.read_bytes() != before
    assert (os.stat(priv).st_mode & 0o777) == 0o600


def test_single_file_model(tmp_path, keys):
    f = tmp_path / "model.safetensors"
    f.write_bytes(os.urandom(3_000_000))
    sig = tmp_path / "m.sig"
    for method in (["--method", "files"], ["--method", "shards", "--shard-size", "1000000"]):
        mlsec("sign", f, "--private-key", keys["p256"][0], "--signature", sig, *method, check=0)
        mlsec("verify", f, "--signature", sig, "--public-key", keys["p256"][1], check=0)
    model_signing_cli("sign", "key", f, "--signature", tmp_path / "py.sig", "--private_key", keys["p256"][0], check=0)
    mlsec("verify", f, "--signature", tmp_path / "py.sig", "--public-key", keys["p256"][1], check=0)


def test_engine_commands_load_signed_models_through_the_pipeline(tmp_path, keys):
    """predict/evaluate/prune with --signature load a model only when it verifies (read once, hashed, scanned)."""
    model = tmp_path / "digits"
    mlsec("train", "--data", "digits-train", "--label-column", "label", "--architecture", "mlp:64-16-10",
          "--epochs", "1", "--out", model, check=0)
    sig = tmp_path / "digits.sig"
    sign(model, keys, sig)
    pub = keys["p256"][1]
    out = json.loads(mlsec("evaluate", "--model", model, "--signature", sig, "--public-key", pub,
                           "--data", "digits-test", "--label-column", "label", check=0).stdout)
    assert out["n"] > 0
    weights = model / "weights.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 1
    weights.write_bytes(bytes(data))
    proc = mlsec("evaluate", "--model", model, "--signature", sig, "--public-key", pub,
                 "--data", "digits-test", "--label-column", "label")
    assert proc.returncode == 1 and "weights.safetensors was modified" in proc.stderr
    proc = mlsec("evaluate", "--model", model, "--signature", sig, "--data", "digits-test", "--label-column", "label")
    assert proc.returncode == 2 and "--public-key" in proc.stderr


def test_engine_commands_load_certificate_signed_models(tmp_path):
    """predict/evaluate with --certificate-chain and --certificate-identity load only the expected signer's model."""
    model = tmp_path / "digits"
    mlsec("train", "--data", "digits-train", "--label-column", "label", "--architecture", "mlp:64-16-10",
          "--epochs", "1", "--out", model, check=0)
    pki = make_pki(tmp_path / "pki")
    ca = pki / "ca-cert.pem"
    sig = tmp_path / "digits.sig"
    cert, key = issue_leaf(pki, "publisher", email="publisher@example.com")
    mlsec("sign", model, "--private-key", key, "--signing-certificate", cert, "--certificate-chain", ca, "--signature", sig, check=0)
    data = ("--data", "digits-test", "--label-column", "label")
    proc = mlsec("evaluate", "--model", model, "--signature", sig, "--certificate-chain", ca,
                 "--certificate-identity", "email:publisher@example.com", *data, check=0)
    assert json.loads(proc.stdout)["n"] > 0 and "warning" not in proc.stderr
    proc = mlsec("evaluate", "--model", model, "--signature", sig, "--certificate-chain", ca,
                 "--certificate-identity", "email:other@example.com", *data)
    assert proc.returncode == 1 and "another signer" in proc.stderr
    proc = mlsec("evaluate", "--model", model, "--signature", sig, "--certificate-chain", ca, *data, check=0)
    assert "any certificate the CA issued is accepted" in proc.stderr
    proc = mlsec("evaluate", "--model", model, "--signature", sig, "--certificate-identity", "email:publisher@example.com", *data)
    assert proc.returncode == 2 and "--certificate-chain" in proc.stderr


def test_bench_commands_report_every_size(tmp_path):
    """`mlsec bench gemm` and `bench audit` (benchmark code lives in the executable, not the libraries)."""
    out = json.loads(mlsec("bench", "gemm", "--sizes", "8,24", "--repeats", "1", "--threads", "1", check=0).stdout)
    assert [r["size"] for r in out["results"]] == [8, 24] and all(r["gflops"] > 0 for r in out["results"])
    assert mlsec("bench", "gemm", "--sizes", "0").returncode == 2
