"""Shared fixtures for the interop tests: the mlsec binary, a deterministic model, keys and a small PKI."""
import datetime
import hashlib
import json
import os
import pathlib
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

ROOT = pathlib.Path(__file__).resolve().parents[1]
VENV_BIN = pathlib.Path(sys.executable).parent


def mlsec_bin() -> str:
    path = os.environ.get("MLSEC_BIN") or str(ROOT / ".build" / "release" / "mlsec")
    if not os.path.exists(path):
        pytest.fail(f"mlsec binary not found at {path}; build it first (scripts/test.sh does)")
    return path


def run(args, cwd=None, check=None):
    """Runs a command, returns CompletedProcess with text output."""
    proc = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=600)
    if check is not None and proc.returncode != check:
        raise AssertionError(
            f"{args} exited {proc.returncode}, expected {check}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}")
    return proc


def mlsec(*args, cwd=None, check=None):
    return run([mlsec_bin(), *map(str, args)], cwd=cwd, check=check)


def serve(args, log, banner="mlsec gateway listening on ", timeout=90):
    """Starts `mlsec serve ARGS` (stderr to `log`) and returns (process, url) once it listens."""
    proc = subprocess.Popen([mlsec_bin(), "serve", *map(str, args)], stdout=subprocess.PIPE, stderr=open(log, "w"), text=True)
    deadline = time.time() + timeout
    while time.time() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        if line.startswith(banner):
            return proc, line.split()[-1]
    proc.kill()
    pytest.fail(f"{args} did not start:\n" + open(log).read()[-3000:])


def http_call(url, method, path, body=None, key=None, timeout=10):
    """One request with an optional JSON body and bearer key: (status, headers, parsed JSON body or None)."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url + path, data=data, method=method)
    if key:
        req.add_header("Authorization", f"Bearer {key}")
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, dict(r.headers), json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), json.loads(e.read() or b"null")


def demo_state(tmp_path):
    """A demo state directory (model v1 signed, receipt and checkpoint keys, API keys), made by one short
    `serve --demo` run."""
    state = tmp_path / "state"
    proc, _ = serve(["--demo", "--state-dir", state, "--port", "0"], tmp_path / "demo.log", banner="mlsec gateway listening on")
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0
    return state


def model_signing_cli(*args, cwd=None, check=None):
    return run([str(VENV_BIN / "model_signing"), *map(str, args)], cwd=cwd, check=check)


def counter_bytes(name: str, size: int) -> bytes:
    """Deterministic content: SHA-256 in counter mode, as the reference fixtures use."""
    out = bytearray()
    i = 0
    while len(out) < size:
        out += hashlib.sha256(b"swift-mlsec-model-signing-fixture-v1" + name.encode() + i.to_bytes(8, "big")).digest()
        i += 1
    return bytes(out[:size])


MODEL_FILES = {
    "weights.bin": 2_500_000,
    "sub/layer1.bin": 1_048_576,
    "sub/empty.bin": 0,
    "config.json": 59,
    "sub-notes.txt": 67,
}


def make_model(path: pathlib.Path) -> pathlib.Path:
    for name, size in MODEL_FILES.items():
        f = path / name
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_bytes(counter_bytes(name, size))
    return path


@pytest.fixture
def model(tmp_path) -> pathlib.Path:
    return make_model(tmp_path / "model")


def write_ec_key(dir: pathlib.Path, name: str, curve) -> tuple[pathlib.Path, pathlib.Path]:
    key = ec.generate_private_key(curve)
    priv = dir / f"{name}-private.pem"
    pub = dir / f"{name}-public.pem"
    priv.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    pub.write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM,
                                                  serialization.PublicFormat.SubjectPublicKeyInfo))
    return priv, pub


@pytest.fixture(scope="session")
def keys(tmp_path_factory) -> dict:
    d = tmp_path_factory.mktemp("keys")
    return {"p256": write_ec_key(d, "p256", ec.SECP256R1()), "p384": write_ec_key(d, "p384", ec.SECP384R1())}


def make_pki(d: pathlib.Path, leaf_not_after_days: int = 365, leaf_not_before_days: int = -1):
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "MLSec Test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=30))
          .not_valid_after(now + datetime.timedelta(days=3650))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                       content_commitment=False, key_encipherment=False, data_encipherment=False,
                                       key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    leaf = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "model publisher")]))
            .issuer_name(ca_name).public_key(leaf_key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now + datetime.timedelta(days=leaf_not_before_days))
            .not_valid_after(now + datetime.timedelta(days=leaf_not_after_days))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=False, crl_sign=False,
                                         content_commitment=False, key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    d.mkdir(parents=True, exist_ok=True)
    (d / "ca-cert.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    (d / "leaf-cert.pem").write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    (d / "leaf-key.pem").write_bytes(leaf_key.private_bytes(serialization.Encoding.PEM,
                                                            serialization.PrivateFormat.PKCS8,
                                                            serialization.NoEncryption()))
    (d / "ca-key.pem").write_bytes(ca_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                        serialization.NoEncryption()))
    return d


def issue_leaf(d: pathlib.Path, name: str, email=None, dns=None, eku=ExtendedKeyUsageOID.CODE_SIGNING,
               common_name="model publisher"):
    """Another leaf from make_pki's CA in `d`: `<name>-cert.pem` and `<name>-key.pem`, KeyUsage digitalSignature,
    the extended key usage `eku` and a SAN email or DNS name (a TLS server certificate: eku=SERVER_AUTH, dns=...)."""
    ca = x509.load_pem_x509_certificate((d / "ca-cert.pem").read_bytes())
    ca_key = serialization.load_pem_private_key((d / "ca-key.pem").read_bytes(), password=None)
    now = datetime.datetime.now(datetime.timezone.utc)
    key = ec.generate_private_key(ec.SECP256R1())
    names = [x509.RFC822Name(email)] if email else [x509.DNSName(dns)]
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
            .issuer_name(ca.subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=False, crl_sign=False,
                                         content_commitment=False, key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([eku]), critical=False)
            .add_extension(x509.SubjectAlternativeName(names), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    (d / f"{name}-cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (d / f"{name}-key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                          serialization.NoEncryption()))
    return d / f"{name}-cert.pem", d / f"{name}-key.pem"


@pytest.fixture(scope="session")
def pki(tmp_path_factory) -> pathlib.Path:
    return make_pki(tmp_path_factory.mktemp("pki"))


# Tamper recipes (mirroring the reference fixtures' cases).
def tamper(model: pathlib.Path, case: str):
    if case == "pristine":
        return
    if case == "byte-flip":
        f = model / "weights.bin"
        data = bytearray(f.read_bytes())
        data[1_500_000] ^= 0x01
        f.write_bytes(bytes(data))
    elif case == "file-added":
        (model / "extra.bin").write_bytes(b"sixteen bytes!!!")
    elif case == "empty-file-added":
        (model / "sub" / "new-empty.bin").write_bytes(b"")
    elif case == "file-removed":
        (model / "config.json").unlink()
    elif case == "file-renamed":
        (model / "sub" / "layer1.bin").rename(model / "sub" / "layer2.bin")
    elif case == "git-dir-added":
        (model / ".git").mkdir()
        (model / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    else:
        raise ValueError(case)


EXPECTED_CHANGE = {
    "byte-flip": ("modified", "weights.bin"),
    "file-added": ("added", "extra.bin"),
    "empty-file-added": ("added", "sub/new-empty.bin"),
    "file-removed": ("removed", "config.json"),
    "file-renamed": ("renamed", {"from": "sub/layer1.bin", "to": "sub/layer2.bin"}),
}


def copy_model(src: pathlib.Path, dst: pathlib.Path) -> pathlib.Path:
    shutil.copytree(src, dst)
    return dst
