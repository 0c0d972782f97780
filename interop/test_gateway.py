"""End to end against a real `mlsec serve --demo` on 127.0.0.1: KServe V2 with tritonclient (JSON and binary
tensors), receipts verified independently, and the controls an OWASP API Top 10 review asks for:
authentication, object- and function-level authorization, validation, resource limits, rate limiting,
revocation, security headers, the audit log and its signed checkpoints."""
import base64
import hashlib
import json
import os
import pathlib
import signal
import subprocess
import time
import urllib.error
import urllib.request

import numpy as np
import pytest
import tritonclient.http as httpclient
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from conftest import ROOT, mlsec, mlsec_bin

DIGITS = None


@pytest.fixture(scope="module")
def gateway(tmp_path_factory):
    state = tmp_path_factory.mktemp("gateway") / "state"
    log = open(state.parent / "gateway.log", "w")  # a file, not a pipe: a full pipe would block the server
    proc = subprocess.Popen([mlsec_bin(), "serve", "--demo", "--state-dir", str(state), "--port", "0"],
                            stdout=subprocess.PIPE, stderr=log, text=True)
    url = None
    banner = []
    deadline = time.time() + 120
    while time.time() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        banner.append(line)
        if line.startswith("mlsec gateway listening on "):
            url = line.split()[-1]
            break
    if url is None:
        proc.kill()
        pytest.fail("the gateway did not start:\n" + "".join(banner) + (state.parent / "gateway.log").read_text())
    creds = json.loads((state / "demo-credentials.json").read_text())
    yield {"url": url, "state": state, "creds": creds, "banner": "".join(banner), "proc": proc,
           "log": state.parent / "gateway.log"}
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()


def call(gw, method, path, body=None, key=None, headers=None, raw=False):
    data = body if isinstance(body, (bytes, type(None))) else json.dumps(body).encode()
    req = urllib.request.Request(gw["url"] + path, data=data, method=method)
    if key:
        req.add_header("Authorization", f"Bearer {key}")
    if data is not None and not (headers and "Content-Type" in headers):
        req.add_header("Content-Type", "application/json")
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            payload = r.read()
            return r.status, dict(r.headers), payload if raw else (json.loads(payload) if payload else None)
    except urllib.error.HTTPError as e:
        payload = e.read()
        return e.code, dict(e.headers), json.loads(payload) if payload else None


def digits_test_set():
    """The bundled digits test split, exported by the engine's bench command."""
    global DIGITS
    if DIGITS is None:
        out = subprocess.run([mlsec_bin(), "bench", "export-digits", "--split", "test"], capture_output=True, text=True,
                             check=True)
        doc = json.loads(out.stdout)
        DIGITS = (np.array(doc["x"], dtype=np.float32), np.array(doc["y"]))
    return DIGITS


def infer_body(x):
    return {"inputs": [{"name": "input", "shape": list(x.shape), "datatype": "FP32", "data": x.flatten().tolist()}]}


def verify_receipt(receipt_b64, public_pem: bytes, request: bytes, response: bytes):
    """Independent check of an MLSec-Receipt: canonical JSON of the other fields, Ed25519."""
    padded = receipt_b64 + "=" * (-len(receipt_b64) % 4)
    fields = json.loads(base64.urlsafe_b64decode(padded))
    assert set(fields) == {"model", "model_version", "model_digest", "request_sha256", "response_sha256", "time",
                           "key_id", "receipt_id", "signature"}
    sig = base64.urlsafe_b64decode(fields["signature"] + "=" * (-len(fields["signature"]) % 4))
    signed = {k: v for k, v in fields.items() if k != "signature"}
    message = json.dumps(signed, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    load_pem_public_key(public_pem).verify(sig, message)
    assert fields["request_sha256"] == hashlib.sha256(request).hexdigest()
    assert fields["response_sha256"] == hashlib.sha256(response).hexdigest()
    return fields


def test_demo_banner_and_credentials(gateway):
    creds = gateway["creds"]
    assert creds["url"] == gateway["url"] and creds["model"] == "digits"
    assert creds["rate_limit"] == {"requests_per_second": 50, "burst": 100}
    assert set(creds["api_keys"]) == {"admin", "inference"}
    assert os.stat(gateway["state"] / "demo-credentials.json").st_mode & 0o777 == 0o600
    # The banner never prints a key (standard output ends up in logs); its commands, run as printed, work.
    banner = gateway["banner"]
    assert "curl -s" in banner and all(key not in banner for key in creds["api_keys"].values())
    lines = banner[banner.index("KEY=$("):].split("\n\n")[0].splitlines()
    script = "\n".join(line.strip() for line in lines)
    out = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0 and json.loads(out.stdout)["outputs"][0]["name"] == "output", out.stdout + out.stderr


def test_health_is_public_and_everything_else_needs_a_key(gateway):
    assert call(gateway, "GET", "/v2/health/live")[::2] == (200, {"live": True})
    assert call(gateway, "GET", "/v2/health/ready")[::2] == (200, {"ready": True})
    for path in ["/v2", "/v2/models/digits", "/v2/models/digits/ready", "/admin/keys"]:
        status, headers, body = call(gateway, "GET", path)
        assert status == 401 and body == {"error": "authentication required"} and headers.get("WWW-Authenticate") == "Bearer"
        assert call(gateway, "GET", path, key="mlsec_000000000000_" + "A" * 43)[0] == 401
        assert call(gateway, "GET", path, key="not-a-key")[0] == 401


def test_metadata(gateway):
    key = gateway["creds"]["api_keys"]["inference"]
    status, _, meta = call(gateway, "GET", "/v2/models/digits", key=key)
    assert status == 200
    assert meta["name"] == "digits" and meta["inputs"] == [{"name": "input", "datatype": "FP32", "shape": [-1, 64]}]
    assert meta["outputs"] == [{"name": "output", "datatype": "FP32", "shape": [-1, 10]}]
    assert call(gateway, "GET", "/v2/models/digits/versions/1", key=key)[0] == 200
    assert call(gateway, "GET", "/v2/models/digits/ready", key=key)[2]["ready"] is True
    assert call(gateway, "GET", "/v2", key=key)[2]["extensions"] == ["binary_tensor_data"]


def test_json_inference_is_right_and_carries_a_verifiable_receipt(gateway, tmp_path):
    x, y = digits_test_set()
    key = gateway["creds"]["api_keys"]["inference"]
    body = json.dumps(infer_body(x[:32])).encode()
    status, headers, raw = call(gateway, "POST", "/v2/models/digits/infer", body=body, key=key, raw=True)
    assert status == 200, raw
    response = json.loads(raw)
    out = np.array(response["outputs"][0]["data"], dtype=np.float32).reshape(response["outputs"][0]["shape"])
    assert out.shape == (32, 10) and np.allclose(out.sum(axis=1), 1, atol=1e-4)  # the demo model ends in softmax
    assert (out.argmax(axis=1) == y[:32]).mean() >= 0.9
    pem = pathlib.Path(gateway["creds"]["receipt_public_key"]).read_bytes()
    fields = verify_receipt(headers["MLSec-Receipt"], pem, body, raw)
    assert fields["model"] == "digits" and fields["model_digest"].startswith("sha256:")
    # And with the CLI, offline.
    (tmp_path / "req").write_bytes(body)
    (tmp_path / "resp").write_bytes(raw)
    mlsec("receipt", "verify", "--receipt", headers["MLSec-Receipt"], "--public-key", gateway["creds"]["receipt_public_key"],
          "--request", tmp_path / "req", "--response", tmp_path / "resp", check=0)
    (tmp_path / "resp").write_bytes(raw + b" ")
    assert mlsec("receipt", "verify", "--receipt", headers["MLSec-Receipt"], "--public-key",
                 gateway["creds"]["receipt_public_key"], "--response", tmp_path / "resp").returncode == 1


@pytest.mark.parametrize("binary", [True, False])
def test_tritonclient(gateway, binary):
    x, y = digits_test_set()
    # A key of its own: the demo inference key's 50/s (a batch of 16 costs 16) is shared with the other tests.
    status, _, created = call(gateway, "POST", "/admin/keys", key=gateway["creds"]["api_keys"]["admin"],
                              body={"name": f"triton-{binary}", "role": "inference", "models": ["digits"],
                                    "rate_limit": {"requests_per_second": 10000, "burst": 10000}})
    assert status == 201, created
    key = created["key"]
    auth = {"Authorization": f"Bearer {key}"}
    client = httpclient.InferenceServerClient(url=gateway["url"].removeprefix("http://"))
    assert client.is_server_live()
    assert client.is_model_ready("digits", headers=auth)
    meta = client.get_model_metadata("digits", headers=auth)
    assert meta["inputs"][0]["name"] == "input"
    inp = httpclient.InferInput("input", [16, 64], "FP32")
    inp.set_data_from_numpy(x[16:32], binary_data=binary)
    out = httpclient.InferRequestedOutput("output", binary_data=binary)
    result = client.infer("digits", [inp], outputs=[out], headers=auth)
    probs = result.as_numpy("output")
    assert probs.shape == (16, 10)
    assert (probs.argmax(axis=1) == y[16:32]).mean() >= 0.85
    # Without an explicit output list (server default: all outputs).
    result = client.infer("digits", [inp], headers=auth)
    assert result.as_numpy("output").shape == (16, 10)
    # Without credentials the client gets the gateway's 401.
    with pytest.raises(Exception) as excinfo:
        client.infer("digits", [inp])
    assert "authentication required" in str(excinfo.value)


def test_validation_and_resource_limits(gateway):
    key = gateway["creds"]["api_keys"]["admin"]
    good = np.full((1, 64), 0.5, dtype=np.float32)
    cases = [
        (infer_body(np.full((1, 63), 0.5, dtype=np.float32)), 400),           # wrong shape
        (infer_body(np.full((1, 64), 2.0, dtype=np.float32)), 400),           # outside the declared range
        (infer_body(np.full((65, 64), 0.5, dtype=np.float32)), 400),          # batch over the cap
        ({"inputs": [{"name": "secret", "shape": [1, 64], "datatype": "FP32", "data": [0.5] * 64}]}, 400),
        ({"inputs": [{"name": "input", "shape": [1, 64], "datatype": "BYTES", "data": ["x"] * 64}]}, 400),
        ({"inputs": infer_body(good)["inputs"], "__proto__": {}}, 400),
        (b"{not json", 400),
        (b"[" * 10000, 400),
    ]
    for body, expected in cases:
        status, _, payload = call(gateway, "POST", "/v2/models/digits/infer", body=body, key=key)
        assert status == expected, (body if isinstance(body, bytes) else json.dumps(body)[:80], status, payload)
        assert set(payload) == {"error"}
    huge = b'{"inputs": [' + b" " * (9 << 20) + b"]}"
    assert call(gateway, "POST", "/v2/models/digits/infer", body=huge, key=key)[0] == 413
    assert call(gateway, "POST", "/v2/models/digits/infer", body=json.dumps(infer_body(good)).encode(), key=key,
                headers={"Content-Type": "text/plain"})[0] == 415


def test_object_and_function_level_authorization(gateway):
    admin = gateway["creds"]["api_keys"]["admin"]
    # A fresh inference key: the demo's has spent its burst on the batches of the tests before (a batch costs its size).
    status, _, fresh = call(gateway, "POST", "/admin/keys", key=admin, body={"name": "bfla", "role": "inference", "models": ["digits"]})
    assert status == 201
    inference = fresh["key"]
    # An inference key cannot manage keys or read the audit log (function level).
    for method, path in [("GET", "/admin/keys"), ("POST", "/admin/keys"), ("GET", "/admin/audit/checkpoint"),
                         ("DELETE", "/admin/keys/abc")]:
        status, _, body = call(gateway, method, path, body={} if method == "POST" else None, key=inference)
        assert status == 403 and body == {"error": "forbidden"}, (method, path, status)
    # A key scoped to another model sees no "digits": the same 404 as a model that does not exist (object level).
    status, _, created = call(gateway, "POST", "/admin/keys", key=admin,
                              body={"name": "other-team", "role": "inference", "models": ["other-*"]})
    assert status == 201 and created["key"].startswith("mlsec_")
    other = created["key"]
    x = np.full((1, 64), 0.5, dtype=np.float32)
    s1, _, b1 = call(gateway, "POST", "/v2/models/digits/infer", body=infer_body(x), key=other)
    s2, _, b2 = call(gateway, "POST", "/v2/models/nonexistent/infer", body=infer_body(x), key=other)
    assert (s1, b1) == (404, {"error": "model digits not found"}) and s2 == 404
    assert call(gateway, "GET", "/v2/models/digits", key=other)[0] == 404
    # An auditor reads the audit log but cannot infer.
    status, _, auditor = call(gateway, "POST", "/admin/keys", key=admin, body={"name": "aud", "role": "auditor", "models": ["*"]})
    assert status == 201
    assert call(gateway, "POST", "/v2/models/digits/infer", body=infer_body(x), key=auditor["key"])[0] == 403
    assert call(gateway, "GET", "/admin/audit/checkpoint", key=auditor["key"])[0] == 200
    # Listing keys shows no secrets; revocation takes effect at once.
    status, _, listing = call(gateway, "GET", "/admin/keys", key=admin)
    assert status == 200 and other not in json.dumps(listing) and "secret" not in json.dumps(listing)
    assert call(gateway, "DELETE", f"/admin/keys/{created['id']}", key=admin)[0] == 204
    assert call(gateway, "GET", "/v2/models/nonexistent", key=other)[0] == 401
    # Bad key requests are refused.
    for bad in [{"name": "x", "role": "root"}, {"name": "", "role": "admin"}, {"name": "x", "role": "admin", "extra": 1},
                {"name": "x", "role": "inference", "expires_at": "2001-01-01T00:00:00Z"},
                {"name": "x", "role": "inference", "rate_limit": {"requests_per_second": 1e-300, "burst": 5}},
                {"name": "x", "role": "inference", "rate_limit": {"requests_per_second": 10, "burst": 0}}]:
        assert call(gateway, "POST", "/admin/keys", key=admin, body=bad)[0] == 400


def test_rate_limit_returns_429_with_headers(gateway):
    admin = gateway["creds"]["api_keys"]["admin"]
    status, _, created = call(gateway, "POST", "/admin/keys", key=admin, body={
        "name": "limited", "role": "inference", "models": ["digits"], "rate_limit": {"requests_per_second": 2, "burst": 5}})
    key = created["key"]
    results = [call(gateway, "GET", "/v2/models/digits", key=key) for _ in range(12)]
    statuses = [r[0] for r in results]
    assert statuses[:5] == [200] * 5 and 429 in statuses[5:]
    limited = next(r for r in results if r[0] == 429)
    assert int(limited[1]["Retry-After"]) >= 1
    assert "RateLimit" in limited[1] and "RateLimit-Policy" in limited[1]
    assert "q=5" in limited[1]["RateLimit-Policy"]
    assert limited[2] == {"error": "rate limit exceeded; retry later"}
    assert "RateLimit" in results[0][1]


def test_security_headers_and_request_ids(gateway):
    status, headers, _ = call(gateway, "GET", "/v2/health/live")
    for name in ["X-Content-Type-Options", "X-Frame-Options", "Content-Security-Policy", "Cache-Control", "X-Request-Id"]:
        assert name in headers, name
    # Structured logs: one JSON object per line, with the same request id and the route template.
    time.sleep(0.2)
    records = [json.loads(l) for l in gateway["log"].read_text().splitlines() if l.startswith("{")]
    mine = [r for r in records if r.get("request_id") == headers["X-Request-Id"]]
    assert mine and mine[0]["route"] == "/v2/health/live" and mine[0]["status"] == "200"
    for secret in gateway["creds"]["api_keys"].values():
        assert secret not in gateway["log"].read_text()
    assert call(gateway, "GET", "/nowhere", key=gateway["creds"]["api_keys"]["admin"])[0] == 404
    status, headers, body = call(gateway, "GET", "/nowhere")
    assert status == 401 and "X-Request-Id" in headers and "Access-Control-Allow-Origin" not in headers


def test_openapi_document_is_served(gateway):
    status, _, doc = call(gateway, "GET", "/openapi.json")
    assert status == 200 and doc == json.loads((ROOT / "docs" / "openapi.json").read_text())


def test_audit_log_records_decisions_and_checkpoints_verify(gateway, tmp_path):
    admin = gateway["creds"]["api_keys"]["admin"]
    status, _, cp = call(gateway, "GET", "/admin/audit/checkpoint", key=admin)
    assert status == 200 and cp["size"] > 5
    (tmp_path / "cp.txt").write_text(cp["note"])
    state = gateway["state"]
    r = json.loads(mlsec("audit", "verify-checkpoint", "--checkpoint", tmp_path / "cp.txt",
                         "--verifier-key", state / "audit-note.vkey", "--log", state / "audit.db", check=0).stdout)
    assert r["verified"] and r["consistent"]
    status, _, proof = call(gateway, "GET", f"/admin/audit/proof?index=0&size={cp['size']}", key=admin)
    assert status == 200 and proof["root"] == cp["root"]
    assert mlsec("audit", "verify", "--log", state / "audit.db").returncode == 0
    import sqlite3
    with sqlite3.connect(state / "audit.db") as db:
        events = [json.loads(row[0]) for row in db.execute("SELECT data FROM entries ORDER BY idx")]
    actions = {(e["action"], e["decision"]) for e in events}
    assert ("model.load", "allow") in actions and ("infer", "allow") in actions
    assert ("authenticate", "deny") in actions and ("rate_limit", "deny") in actions
    raw = json.dumps(events)
    for secret in gateway["creds"]["api_keys"].values():
        assert secret not in raw and secret[19:] not in raw  # mlsec_<12 hex>_<secret>
    infer = next(e for e in events if e["action"] == "infer" and e["decision"] == "allow")
    assert infer["receipt_digest"].startswith("sha256:") and infer["model_digest"].startswith("sha256:")


def test_metrics_need_a_role_and_have_bounded_labels(gateway):
    admin = gateway["creds"]["api_keys"]["admin"]
    assert call(gateway, "GET", "/metrics", key=gateway["creds"]["api_keys"]["inference"])[0] == 403
    status, headers, raw = call(gateway, "GET", "/metrics", key=admin, raw=True)
    text = raw.decode()
    assert status == 200 and headers["Content-Type"].startswith("text/plain")
    assert 'mlsec_requests_total{route="/v2/models/{model}/infer"' in text
    assert 'mlsec_inferences_total{model="digits"}' in text
    assert 'reason="unauthenticated"' in text and 'reason="rate_limited"' in text
    # Raw paths never become labels: /nowhere and model names typed by clients are absent.
    assert "/nowhere" not in text and "nonexistent" not in text


def self_signed(tmp_path):
    import datetime
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(__import__("ipaddress").ip_address("127.0.0.1"))]), False)
            .sign(key, hashes.SHA256()))
    (tmp_path / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                         serialization.NoEncryption()))


def start(config):
    log = open(pathlib.Path(config).with_suffix(".log"), "w")
    proc = subprocess.Popen([mlsec_bin(), "serve", "--config", str(config)], stdout=subprocess.PIPE,
                            stderr=log, text=True)
    deadline = time.time() + 60
    while time.time() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        if line.startswith("mlsec gateway listening on "):
            return proc, line.split()[-1]
    proc.kill()
    return proc, None


def test_tls_config_serves_tls13_and_plaintext_is_refused_off_loopback(gateway, tmp_path):
    import ssl
    demo = gateway["state"]
    self_signed(tmp_path)
    key = json.loads(mlsec("apikey", "create", "--state-dir", tmp_path / "state", "--init", "--name", "ops", "--role", "admin",
                           "--models", "*", check=0).stdout)["key"]
    config = {
        "listen": {"host": "127.0.0.1", "port": 0},
        "tls": {"certificate": "cert.pem", "private_key": "key.pem"},
        "state_dir": "state",
        "models": [{"name": "digits", "path": str(demo / "models/digits/1"), "signature": str(demo / "models/digits-1.sig"),
                    "public_keys": [str(demo / "publisher.pub")], "input_range": [0, 1]}],
    }
    (tmp_path / "gateway.json").write_text(json.dumps(config))
    proc, url = start(tmp_path / "gateway.json")
    try:
        assert url and url.startswith("https://127.0.0.1:")
        ctx = ssl.create_default_context(cafile=str(tmp_path / "cert.pem"))
        req = urllib.request.Request(url + "/v2/models/digits", headers={"Authorization": f"Bearer {key}"})
        with urllib.request.urlopen(req, context=ctx, timeout=20) as r:
            assert r.status == 200 and json.loads(r.read())["name"] == "digits"
        host, port = url.removeprefix("https://").split(":")
        import socket
        with socket.create_connection((host, int(port)), timeout=10) as raw:
            with ctx.wrap_socket(raw, server_hostname=host) as tls:
                assert tls.version() == "TLSv1.3"
        old = ssl.create_default_context(cafile=str(tmp_path / "cert.pem"))
        old.maximum_version = ssl.TLSVersion.TLSv1_2
        with pytest.raises((ssl.SSLError, urllib.error.URLError)):
            urllib.request.urlopen(url + "/v2/health/live", context=old, timeout=10)
        # Certificate reload: replace the files (atomically) and the next handshakes use the new pair.
        first = (tmp_path / "cert.pem").read_bytes()
        renewed = tmp_path / "renewed"
        renewed.mkdir()
        self_signed(renewed)
        for name in ["key.pem", "cert.pem"]:
            os.replace(renewed / name, tmp_path / name)
        assert (tmp_path / "cert.pem").read_bytes() != first
        new_ctx = ssl.create_default_context(cafile=str(tmp_path / "cert.pem"))
        deadline = time.time() + 15
        served = None
        while time.time() < deadline:
            time.sleep(1)
            try:
                with socket.create_connection((host, int(port)), timeout=10) as raw:
                    with new_ctx.wrap_socket(raw, server_hostname=host) as tls:
                        served = tls.getpeercert(binary_form=True)
                        break
            except ssl.SSLError:
                continue
        from cryptography import x509 as _x509
        assert served == _x509.load_pem_x509_certificate((tmp_path / "cert.pem").read_bytes()).public_bytes(
            __import__("cryptography.hazmat.primitives.serialization", fromlist=["Encoding"]).Encoding.DER)
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    # A model whose signature does not verify is never served: the gateway refuses to start.
    bad = dict(config, models=[dict(config["models"][0], public_keys=[str(tmp_path / "cert.pem")])])
    (tmp_path / "bad.json").write_text(json.dumps(bad))
    assert mlsec("serve", "--config", tmp_path / "bad.json").returncode in (1, 2)
    # Plain HTTP on a non-loopback address needs allow_plaintext.
    plain = {k: v for k, v in config.items() if k != "tls"}
    plain["listen"] = {"host": "0.0.0.0", "port": 0}
    (tmp_path / "plain.json").write_text(json.dumps(plain))
    proc = mlsec("serve", "--config", tmp_path / "plain.json")
    assert proc.returncode == 2 and "refusing plain HTTP" in proc.stderr



def start_jwt_gateway(tmp_path, demo, jwks, **extra):
    """A gateway for the demo model that accepts JWTs signed by the keys of `jwks` (issuer https://idp.example,
    audience mlsec-gateway); `extra` adds configuration sections. Returns (process, {"url": ...})."""
    (tmp_path / "jwks.json").write_text(json.dumps(jwks))
    config = {
        "listen": {"host": "127.0.0.1", "port": 0}, "state_dir": "state",
        "jwt": {"jwks": "jwks.json", "issuer": "https://idp.example", "audience": "mlsec-gateway"},
        "models": [{"name": "digits", "path": str(demo / "models/digits/1"), "signature": str(demo / "models/digits-1.sig"),
                    "public_keys": [str(demo / "publisher.pub")], "input_range": [0, 1]}],
        **extra,
    }
    (tmp_path / "gateway.json").write_text(json.dumps(config))
    proc, url = start(tmp_path / "gateway.json")
    assert url, "the JWT gateway did not start"
    return proc, {"url": url}

def test_jwt_authentication(gateway, tmp_path):
    """ES256, EdDSA and RS256 tokens from a JWKS file; exp, nbf, iss and aud checked; role and model claims;
    algorithm confusion (HS256 with the public key, alg none) and tampering refused."""
    import jwt as pyjwt
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
    from cryptography.hazmat.primitives import serialization
    from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm
    demo = gateway["state"]
    ec_key = ec.generate_private_key(ec.SECP256R1())
    ed_key = ed25519.Ed25519PrivateKey.generate()
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwks = {"keys": []}
    for kid, key, alg, cls in [("ec1", ec_key, "ES256", ECAlgorithm), ("ed1", ed_key, "EdDSA", OKPAlgorithm),
                               ("rsa1", rsa_key, "RS256", RSAAlgorithm)]:
        jwk = json.loads(cls.to_jwk(key.public_key()))
        jwk.update({"kid": kid, "alg": alg, "use": "sig"})
        jwks["keys"].append(jwk)
    proc, gw = start_jwt_gateway(tmp_path, demo, jwks)
    now = int(time.time())
    base = {"sub": "alice", "iss": "https://idp.example", "aud": "mlsec-gateway", "exp": now + 300, "role": "inference",
            "models": ["digits"]}

    def token(key, alg, kid, **changes):
        claims = dict(base, **changes)
        claims = {k: v for k, v in claims.items() if v is not None}
        return pyjwt.encode(claims, key, algorithm=alg, headers={"kid": kid})

    x = np.full((1, 64), 0.5, dtype=np.float32)
    try:
        for key, alg, kid in [(ec_key, "ES256", "ec1"), (ed_key, "EdDSA", "ed1"), (rsa_key, "RS256", "rsa1")]:
            t = token(key, alg, kid)
            assert call(gw, "GET", "/v2/models/digits", key=t)[0] == 200, alg
            assert call(gw, "GET", "/v2/models/digits", key=t)[0] == 200, alg  # cached
        status, headers, _ = call(gw, "POST", "/v2/models/digits/infer", body=infer_body(x), key=token(ec_key, "ES256", "ec1"))
        assert status == 200 and "MLSec-Receipt" in headers
        refused = {
            "expired": token(ec_key, "ES256", "ec1", exp=now - 10),
            "not yet valid": token(ec_key, "ES256", "ec1", nbf=now + 600),
            "wrong audience": token(ec_key, "ES256", "ec1", aud="someone-else"),
            "wrong issuer": token(ec_key, "ES256", "ec1", iss="https://evil.example"),
            "unknown role": token(ec_key, "ES256", "ec1", role="root"),
            "no exp": token(ec_key, "ES256", "ec1", exp=None),
            "unknown key": pyjwt.encode(base, ec.generate_private_key(ec.SECP256R1()), algorithm="ES256", headers={"kid": "ec1"}),
        }
        public_pem = rsa_key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        header = base64.urlsafe_b64encode(json.dumps({"alg": "HS256", "kid": "rsa1", "typ": "JWT"}).encode()).rstrip(b"=")
        payload = base64.urlsafe_b64encode(json.dumps(base).encode()).rstrip(b"=")
        import hmac
        sig = base64.urlsafe_b64encode(hmac.new(public_pem, header + b"." + payload, hashlib.sha256).digest()).rstrip(b"=")
        refused["HS256 with the public key"] = (header + b"." + payload + b"." + sig).decode()
        none_header = base64.urlsafe_b64encode(json.dumps({"alg": "none", "typ": "JWT"}).encode()).rstrip(b"=")
        refused["alg none"] = (none_header + b"." + payload + b".").decode()
        good = token(ec_key, "ES256", "ec1").split(".")
        evil = base64.urlsafe_b64encode(json.dumps(dict(base, role="admin", models=["*"])).encode()).rstrip(b"=").decode()
        refused["tampered claims"] = ".".join([good[0], evil, good[2]])
        for name, t in refused.items():
            assert call(gw, "GET", "/v2/models/digits", key=t)[0] == 401, name
        # The role claim maps to RBAC: an auditor token cannot infer.
        assert call(gw, "POST", "/v2/models/digits/infer", body=infer_body(x),
                    key=token(ed_key, "EdDSA", "ed1", role="auditor", models=["*"]))[0] == 403
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    # The refusals' audit reasons are sentences, not JWTKit's debug dumps (issue 16).
    entries = json.loads(mlsec("audit", "list", "--log", tmp_path / "state" / "audit.db", "--decision", "deny",
                               "--format", "json", check=0).stdout)["entries"]
    reasons = [e.get("reason", "") for e in entries if e.get("reason", "").startswith("jwt")]
    assert any(r.startswith("jwt mismatch: a claim of the token is not valid: expired") for r in reasons), reasons
    assert not any("JWTKitError" in r or "errorType" in r or "DecodingError" in r for r in reasons), reasons


def test_schemathesis_bounded_run_finds_no_server_errors_or_schema_violations(gateway, tmp_path):
    """Property-based requests generated from docs/openapi.json (bounded: 25 examples per operation, coverage
    and fuzzing phases): no 5xx, every response conforms to the document."""
    import sys
    st = pathlib.Path(sys.executable).parent / "st"  # schemathesis, installed in the peers' venv
    admin = gateway["creds"]["api_keys"]["admin"]
    proc = subprocess.run(
        [str(st), "run", str(ROOT / "docs" / "openapi.json"), "--url", gateway["url"],
         "--header", f"Authorization: Bearer {admin}",
         "--checks", "not_a_server_error,response_schema_conformance,content_type_conformance,status_code_conformance",
         "--phases", "coverage,fuzzing", "--max-examples", "25", "--request-timeout", "10",
         "--exclude-path", "/admin/keys/{id}", "--seed", "7"],
        capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]


def test_encrypted_model_is_decrypted_in_memory_only(gateway, tmp_path):
    """A model stored as age files (signed as stored) loads with its identity; no plaintext reaches the disk."""
    demo = gateway["state"]
    model = tmp_path / "enc-model"
    model.mkdir()
    identity = tmp_path / "model.key"
    recipient = mlsec("keygen", "--algorithm", "x25519", "--private-key", identity, check=0).stdout.strip()
    for name in ["model.json", "weights.safetensors"]:
        mlsec("encrypt", "-r", recipient, "-o", model / f"{name}.age", demo / "models/digits/1" / name, check=0)
    mlsec("sign", model, "--private-key", demo / "publisher.pem", "--signature", tmp_path / "enc.sig", check=0)
    key = json.loads(mlsec("apikey", "create", "--state-dir", tmp_path / "state", "--init", "--name", "ops", "--role", "admin",
                           "--models", "*", check=0).stdout)["key"]
    config = {
        "listen": {"host": "127.0.0.1", "port": 0}, "state_dir": "state",
        "models": [{"name": "digits", "path": str(model), "signature": str(tmp_path / "enc.sig"),
                    "public_keys": [str(demo / "publisher.pub")], "identities": [str(identity)], "input_range": [0, 1]}],
    }
    (tmp_path / "gateway.json").write_text(json.dumps(config))
    proc, url = start(tmp_path / "gateway.json")
    try:
        assert url, "the gateway did not start with an encrypted model"
        x, y = digits_test_set()
        status, _, out = call({"url": url}, "POST", "/v2/models/digits/infer", body=infer_body(x[:8]), key=key)
        assert status == 200
        probs = np.array(out["outputs"][0]["data"]).reshape(8, 10)
        assert (probs.argmax(axis=1) == y[:8]).mean() >= 0.75
        assert sorted(p.name for p in model.iterdir()) == ["model.json.age", "weights.safetensors.age"]
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    # Without the identity the model is refused and the gateway does not start.
    config["models"][0]["identities"] = []
    (tmp_path / "noid.json").write_text(json.dumps(config))
    assert mlsec("serve", "--config", tmp_path / "noid.json").returncode == 2


def test_certificate_signed_model_needs_the_expected_signer(gateway, tmp_path):
    """models[].certificate_chain with certificate_identity: a model signed by that code-signing identity is served;
    one signed by a TLS server certificate of the same CA is refused (the gateway does not start); without an
    identity it is served with a warning at start."""
    from cryptography.x509.oid import ExtendedKeyUsageOID
    from conftest import issue_leaf, make_pki
    demo = gateway["state"]
    pki = make_pki(tmp_path / "pki")
    sigs = {}
    for name, leaf in [("publisher", issue_leaf(pki, "publisher", email="publisher@example.com")),
                       ("tls", issue_leaf(pki, "tls", dns="models.example.com", eku=ExtendedKeyUsageOID.SERVER_AUTH))]:
        sigs[name] = tmp_path / f"{name}.sig"
        mlsec("sign", demo / "models/digits/1", "--private-key", leaf[1], "--signing-certificate", leaf[0],
              "--certificate-chain", pki / "ca-cert.pem", "--signature", sigs[name], check=0)
    key = json.loads(mlsec("apikey", "create", "--state-dir", tmp_path / "state", "--init", "--name", "ops", "--role", "admin",
                           "--models", "*", check=0).stdout)["key"]
    model = {"name": "digits", "path": str(demo / "models/digits/1"), "signature": str(sigs["publisher"]),
             "certificate_chain": ["pki/ca-cert.pem"], "certificate_identity": "email:publisher@example.com",
             "input_range": [0, 1]}
    config = {"listen": {"host": "127.0.0.1", "port": 0}, "state_dir": "state", "models": [model]}
    (tmp_path / "gateway.json").write_text(json.dumps(config))
    proc, url = start(tmp_path / "gateway.json")
    try:
        assert url, "the gateway did not start with a model signed by the expected identity"
        x, y = digits_test_set()
        status, _, out = call({"url": url}, "POST", "/v2/models/digits/infer", body=infer_body(x[:4]), key=key)
        assert status == 200
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    assert "without an expected signer identity" not in (tmp_path / "gateway.log").read_text()
    # Signed by a TLS server certificate of the same CA: refused, the gateway does not start.
    (tmp_path / "tls.json").write_text(json.dumps(dict(config, models=[dict(model, signature=str(sigs["tls"]))])))
    refused = mlsec("serve", "--config", tmp_path / "tls.json")
    assert refused.returncode in (1, 2) and "not a code-signing certificate" in refused.stderr
    # Without an identity any certificate of the CA is accepted, and a warning at start says so.
    unpinned = {k: v for k, v in model.items() if k != "certificate_identity"}
    (tmp_path / "unpinned.json").write_text(json.dumps(dict(config, models=[dict(unpinned, signature=str(sigs["tls"]))])))
    proc, url = start(tmp_path / "unpinned.json")
    try:
        assert url
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    assert "any certificate the CA issued is accepted" in (tmp_path / "unpinned.log").read_text()


def test_mutual_tls_maps_client_certificates_to_principals(gateway, tmp_path):
    import datetime
    import socket
    import ssl
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    demo = gateway["state"]
    self_signed(tmp_path)  # the server's certificate
    now = datetime.datetime.now(datetime.timezone.utc)

    def name(cn):
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    def ca(cn):
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (x509.CertificateBuilder().subject_name(name(cn)).issuer_name(name(cn)).public_key(key.public_key())
                .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
                .not_valid_after(now + datetime.timedelta(days=1))
                .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                             data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                             crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
                .sign(key, hashes.SHA256()))
        return key, cert

    def client(ca_key, ca_cert, cn, prefix):
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (x509.CertificateBuilder().subject_name(name(cn)).issuer_name(ca_cert.subject).public_key(key.public_key())
                .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
                .not_valid_after(now + datetime.timedelta(days=1))
                .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
                .sign(ca_key, hashes.SHA256()))
        (tmp_path / f"{prefix}.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        (tmp_path / f"{prefix}.key").write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                                                   serialization.PrivateFormat.PKCS8,
                                                                   serialization.NoEncryption()))

    ca_key, ca_cert = ca("mlsec test client CA")
    (tmp_path / "client-ca.pem").write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    client(ca_key, ca_cert, "team-a-service", "good")
    client(ca_key, ca_cert, "unmapped-service", "unmapped")
    other_key, other_cert = ca("someone else's CA")
    client(other_key, other_cert, "team-a-service", "foreign")
    config = {
        "listen": {"host": "127.0.0.1", "port": 0},
        "tls": {"certificate": "cert.pem", "private_key": "key.pem", "client_ca": "client-ca.pem"},
        "client_certificates": {"team-a-service": {"role": "inference", "models": ["digits"]}},
        "state_dir": "state",
        "models": [{"name": "digits", "path": str(demo / "models/digits/1"), "signature": str(demo / "models/digits-1.sig"),
                    "public_keys": [str(demo / "publisher.pub")], "input_range": [0, 1]}],
    }
    (tmp_path / "gateway.json").write_text(json.dumps(config))
    proc, url = start(tmp_path / "gateway.json")
    assert url, "the mTLS gateway did not start"

    def get(path, prefix=None):
        ctx = ssl.create_default_context(cafile=str(tmp_path / "cert.pem"))
        if prefix:
            ctx.load_cert_chain(str(tmp_path / f"{prefix}.crt"), str(tmp_path / f"{prefix}.key"))
        try:
            with urllib.request.urlopen(url + path, context=ctx, timeout=10) as r:
                return r.status
        except urllib.error.HTTPError as e:
            return e.code

    try:
        assert get("/v2/models/digits", "good") == 200
        x = np.full((1, 64), 0.5, dtype=np.float32)
        ctx = ssl.create_default_context(cafile=str(tmp_path / "cert.pem"))
        ctx.load_cert_chain(str(tmp_path / "good.crt"), str(tmp_path / "good.key"))
        req = urllib.request.Request(url + "/v2/models/digits/infer", data=json.dumps(infer_body(x)).encode(),
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, context=ctx, timeout=10) as r:
            assert r.status == 200 and "MLSec-Receipt" in r.headers
        assert get("/admin/keys", "good") == 403       # the mapped role is inference
        assert get("/v2/models/digits", "unmapped") == 401
        for prefix in [None, "foreign"]:                # no certificate, or one from another CA: no handshake
            with pytest.raises((ssl.SSLError, urllib.error.URLError, ConnectionError)):
                get("/v2/health/live", prefix)
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_deploy_model_version_with_every_check_and_roll_back(gateway, tmp_path):
    """PUT /admin/models/{m} {"version"}: only versions whose files the configuration names ({version} in the
    path), signed by a trusted key and clean; anything else leaves the served version alone."""
    import shutil
    state, admin, inference = gateway["state"], gateway["creds"]["api_keys"]["admin"], gateway["creds"]["api_keys"]["inference"]
    models = state / "models"
    shutil.copytree(models / "digits" / "1", models / "digits" / "2")
    mlsec("sign", str(models / "digits" / "2"), "--private-key", str(state / "publisher.pem"),
          "--signature", str(models / "digits-2.sig"), check=0)
    # Version 3: signed, then its weights changed after signing.
    shutil.copytree(models / "digits" / "1", models / "digits" / "3")
    mlsec("sign", str(models / "digits" / "3"), "--private-key", str(state / "publisher.pem"),
          "--signature", str(models / "digits-3.sig"), check=0)
    weights = models / "digits" / "3" / "weights.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 1
    weights.write_bytes(bytes(data))
    # Version 4: signed by a key the gateway does not trust.
    shutil.copytree(models / "digits" / "1", models / "digits" / "4")
    mlsec("keygen", "--algorithm", "p256", "--private-key", str(tmp_path / "rogue.pem"), "--public-key", str(tmp_path / "rogue.pub"), check=0)
    mlsec("sign", str(models / "digits" / "4"), "--private-key", str(tmp_path / "rogue.pem"),
          "--signature", str(models / "digits-4.sig"), check=0)

    # Version 6: signed by the trusted key, but for version 2 (a signature that names its version): refused.
    shutil.copytree(models / "digits" / "1", models / "digits" / "6")
    mlsec("sign", str(models / "digits" / "6"), "--private-key", str(state / "publisher.pem"),
          "--signature", str(models / "digits-6.sig"), "--model-name", "digits", "--model-version", "2", check=0)

    def served_version():
        status, _, doc = call(gateway, "GET", "/v2/models/digits", key=admin)
        assert status == 200
        return doc["versions"][0]

    assert call(gateway, "PUT", "/admin/models/digits", {"version": "2"}, key=inference)[0] == 403
    assert call(gateway, "PUT", "/admin/models/digits", {"version": "2"})[0] == 401
    assert call(gateway, "PUT", "/admin/models/nope", {"version": "2"}, key=admin)[0] == 404
    for bad in ["../1", "2/../../1", "", "a" * 65, ".hidden"]:
        status, _, body = call(gateway, "PUT", "/admin/models/digits", {"version": bad}, key=admin)
        assert status == 400, (bad, body)
    assert call(gateway, "PUT", "/admin/models/digits", {"version": "2", "path": "/etc"}, key=admin)[0] == 400
    for refused in ["3", "4", "6"]:
        status, _, body = call(gateway, "PUT", "/admin/models/digits", {"version": refused}, key=admin)
        assert status == 422 and "refused" in body["error"] and str(state) not in body["error"], body
    status, _, body = call(gateway, "PUT", "/admin/models/digits", {"version": "9"}, key=admin)
    assert status == 422 and "could not be loaded" in body["error"] and str(state) not in body["error"]
    assert served_version() == "1"

    status, _, body = call(gateway, "PUT", "/admin/models/digits", {"version": "2"}, key=admin)
    assert status == 200 and body["version"] == "2" and body["previous_version"] == "1" and body["digest"].startswith("sha256:")
    assert served_version() == "2"
    x, _ = digits_test_set()
    status, headers, _ = call(gateway, "POST", "/v2/models/digits/infer", infer_body(x[:1]), key=inference, raw=True)
    assert status == 200
    receipt = json.loads(base64.urlsafe_b64decode(headers["MLSec-Receipt"] + "=" * (-len(headers["MLSec-Receipt"]) % 4)))
    assert receipt["model_version"] == "2"
    # Version 1 is older than the served version 2: installing it is a rollback, which must be asked for
    # (so that old files copied under the model's store cannot replace a newer version silently).
    status, _, body = call(gateway, "PUT", "/admin/models/digits", {"version": "1"}, key=admin)
    assert status == 409 and "rollback" in body["error"], body
    assert served_version() == "2"
    assert call(gateway, "PUT", "/admin/models/digits", {"version": "1", "rollback": "yes"}, key=admin)[0] == 400
    assert call(gateway, "PUT", "/admin/models/digits", {"version": "1", "rollback": True}, key=admin)[0] == 200
    assert served_version() == "1"


def test_key_management_is_bounded_by_the_callers_own_powers(gateway):
    """BFLA against the running server: an admin key scoped to one model cannot mint a key for every model,
    cannot see or revoke keys outside its scope, and can still manage keys within it."""
    admin = gateway["creds"]["api_keys"]["admin"]

    def create(key, role, models):
        return call(gateway, "POST", "/admin/keys", {"name": "bfla", "role": role, "models": models}, key=key)

    status, _, scoped = create(admin, "admin", ["digits"])
    assert status == 201
    status, _, outsider = create(admin, "inference", ["other-model"])
    assert status == 201
    team = scoped["key"]
    assert create(team, "admin", ["*"])[0] == 403
    assert create(team, "inference", ["other-model"])[0] == 403
    assert create(team, "inference", ["digits-*"])[0] == 403
    status, _, mine = create(team, "inference", ["digits"])
    assert status == 201
    ids = {k["id"] for k in call(gateway, "GET", "/admin/keys", key=team)[2]["keys"]}
    assert mine["id"] in ids and scoped["id"] in ids and outsider["id"] not in ids
    assert call(gateway, "DELETE", f"/admin/keys/{outsider['id']}", key=team)[0] == 404
    assert outsider["id"] in {k["id"] for k in call(gateway, "GET", "/admin/keys", key=admin)[2]["keys"]}
    assert call(gateway, "DELETE", f"/admin/keys/{mine['id']}", key=team)[0] == 204


def test_invalid_inference_requests_spend_the_keys_rate_limit(gateway):
    """Malformed bodies, wrong content types and out-of-scope shapes are charged before parsing, so a key's limit
    bounds all the work it can cause (against the running server)."""
    admin = gateway["creds"]["api_keys"]["admin"]
    status, _, created = call(gateway, "POST", "/admin/keys", {
        "name": "charged", "role": "inference", "models": ["digits"],
        "rate_limit": {"requests_per_second": 0.01, "burst": 3}}, key=admin)
    assert status == 201
    key = created["key"]
    path = "/v2/models/digits/infer"
    assert call(gateway, "POST", path, b"{not json", key=key)[0] == 400
    assert call(gateway, "POST", path, b"{}", key=key, headers={"Content-Type": "text/plain"})[0] == 415
    assert call(gateway, "POST", "/v2/models/someone-elses/infer", b"{}", key=key)[0] == 404
    x, _ = digits_test_set()
    status, headers, _ = call(gateway, "POST", path, infer_body(x[:1]), key=key)
    assert status == 429 and "Retry-After" in headers


def test_jwt_algorithm_is_pinned_by_the_key_not_the_token(gateway, tmp_path):
    """An RSA JWK without `alg` is pinned to RS256 at load: a PS512 token signed with that key is refused, before
    and after RS256 tokens (jwt-kit alone pinned whatever algorithm the first token named); a JWK that declares
    an algorithm outside the documented set refuses the configuration."""
    import jwt as pyjwt
    from cryptography.hazmat.primitives.asymmetric import rsa
    from jwt.algorithms import RSAAlgorithm
    demo = gateway["state"]
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(RSAAlgorithm.to_jwk(rsa_key.public_key()))
    jwk.update({"kid": "rsa2", "use": "sig"})
    jwk.pop("alg", None)
    proc, gw = start_jwt_gateway(tmp_path, demo, {"keys": [jwk]})
    claims = {"sub": "bob", "iss": "https://idp.example", "aud": "mlsec-gateway", "exp": int(time.time()) + 300,
              "role": "inference", "models": ["digits"]}
    try:
        ps512 = pyjwt.encode(claims, rsa_key, algorithm="PS512", headers={"kid": "rsa2"})
        rs256 = pyjwt.encode(claims, rsa_key, algorithm="RS256", headers={"kid": "rsa2"})
        assert call(gw, "GET", "/v2/models/digits", key=ps512)[0] == 401
        assert call(gw, "GET", "/v2/models/digits", key=rs256)[0] == 200
        assert call(gw, "GET", "/v2/models/digits", key=ps512)[0] == 401
        assert call(gw, "GET", "/v2/models/digits", key=pyjwt.encode(claims, rsa_key, algorithm="RS256",
                                                                     headers={"kid": "rsa2"}))[0] == 200
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    jwk["alg"] = "PS256"
    (tmp_path / "jwks.json").write_text(json.dumps({"keys": [jwk]}))
    proc, url = start(tmp_path / "gateway.json")
    assert url is None and proc.wait(timeout=20) == 2
    assert "only RS256" in (tmp_path / "gateway.log").read_text()


def test_jwt_principals_get_per_subject_limits_by_role(gateway, tmp_path):
    """`principal_limits`: each JWT subject of a role gets its own rate limit (a second subject is unaffected)."""
    import jwt as pyjwt
    from cryptography.hazmat.primitives.asymmetric import ec
    from jwt.algorithms import ECAlgorithm
    demo = gateway["state"]
    key = ec.generate_private_key(ec.SECP256R1())
    jwk = json.loads(ECAlgorithm.to_jwk(key.public_key()))
    jwk.update({"kid": "ec9", "alg": "ES256"})
    proc, gw = start_jwt_gateway(tmp_path, demo, {"keys": [jwk]},
                                 principal_limits={"inference": {"rate_limit": {"requests_per_second": 0.01, "burst": 2}}})

    def token(sub):
        return pyjwt.encode({"sub": sub, "iss": "https://idp.example", "aud": "mlsec-gateway", "exp": int(time.time()) + 300,
                             "role": "inference", "models": ["digits"]}, key, algorithm="ES256", headers={"kid": "ec9"})
    try:
        x, _ = digits_test_set()
        carol, dave = token("carol"), token("dave")
        statuses = [call(gw, "POST", "/v2/models/digits/infer", infer_body(x[:1]), key=carol)[0] for _ in range(3)]
        assert statuses == [200, 200, 429], statuses
        assert call(gw, "POST", "/v2/models/digits/infer", infer_body(x[:1]), key=dave)[0] == 200
    finally:
        proc.terminate()
        proc.wait(timeout=20)
