"""Upstream V2 backends end to end on 127.0.0.1: a front `mlsec serve --config` whose model is served by two
upstream `mlsec serve --demo` gateways (each with its own API key). Balancing across both, failover when one
is killed (its breaker opens, then closes once it is back), a hanging upstream (timeouts, retries elsewhere),
and receipts/audit at the front. Bounded: a few hundred requests, every server stopped at the end."""
import json
import signal
import socket
import subprocess
import threading
import time
import urllib.request

import pytest

from conftest import http_call as call, mlsec, serve as start

BODY = {"inputs": [{"name": "input", "shape": [1, 64], "datatype": "FP32", "data": [0.25] * 64}]}


def stop(proc):
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


class Upstream:
    """An upstream: `mlsec serve --demo` on a fixed port (so it can be restarted there), with a service key."""

    def __init__(self, tmp_path, name):
        self.state = tmp_path / name
        self.log = tmp_path / f"{name}.log"
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.start()
        admin = json.loads((self.state / "demo-credentials.json").read_text())["api_keys"]["admin"]
        self.admin = admin
        status, _, body = call(self.url, "POST", "/admin/keys", {
            "name": "front", "role": "inference", "models": ["digits"], "max_concurrent": 1000,
            "rate_limit": {"requests_per_second": 100000, "burst": 100000}}, key=admin)
        assert status == 201
        self.token_file = tmp_path / f"{name}.token"
        self.token_file.write_text(body["key"] + "\n")

    def start(self):
        self.proc, self.url = start(["--demo", "--state-dir", self.state, "--port", self.port], self.log)

    def inferences(self):
        _, _, text = None, None, None
        req = urllib.request.Request(self.url + "/metrics", headers={"Authorization": f"Bearer {self.admin}"})
        with urllib.request.urlopen(req, timeout=10) as r:
            metrics = r.read().decode()
        for line in metrics.splitlines():
            if line.startswith('mlsec_inferences_total{model="digits"}'):
                return int(float(line.split()[-1]))
        return 0


def front_config(tmp_path, urls_and_tokens, policy):
    state = tmp_path / "front"
    config = tmp_path / "front.json"
    config.write_text(json.dumps({
        "listen": {"host": "127.0.0.1", "port": 0},
        "state_dir": str(state),
        "audit": {"origin": "test/front"},
        "models": [{"name": "digits", "upstreams": [{"url": u, **({"bearer_token_file": str(t)} if t else {})}
                                                    for u, t in urls_and_tokens],
                    "upstream_policy": policy, "softmax_output": True, "input_range": [0, 1]}],
    }))
    created = mlsec("apikey", "create", "--state-dir", state, "--init", "--name", "t", "--role", "admin", "--models", "*",
                    "--requests-per-second", "100000", "--burst", "100000", check=0)
    return config, json.loads(created.stdout)["key"]


def upstream_state(front_url, key):
    return call(front_url, "GET", "/admin/upstreams", key=key)[2]["models"][0]["upstreams"]


def wait_for(predicate, what, seconds=20):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    pytest.fail(f"timed out waiting for {what}")


def test_balancing_failover_breaker_and_recovery(tmp_path):
    a, b = Upstream(tmp_path, "a"), Upstream(tmp_path, "b")
    front = None
    try:
        config, key = front_config(tmp_path, [(a.url, a.token_file), (b.url, b.token_file)],
                                   {"timeout_ms": 2000, "health_interval_ms": 300, "failure_threshold": 3, "open_ms": 1000})
        front, url = start(["--config", config], tmp_path / "front.log")
        # Same model on both upstreams: the answers match a direct call, with the front's own receipt.
        direct = call(a.url, "POST", "/v2/models/digits/infer", BODY, key=a.token_file.read_text().strip())[2]
        status, headers, body = call(url, "POST", "/v2/models/digits/infer", BODY, key=key)
        assert status == 200 and "MLSec-Receipt" in headers
        assert body["outputs"][0]["data"] == pytest.approx(direct["outputs"][0]["data"], abs=1e-6)
        # Balancing: both upstreams serve.
        before = (a.inferences(), b.inferences())
        for _ in range(40):
            assert call(url, "POST", "/v2/models/digits/infer", BODY, key=key)[0] == 200
        served = (a.inferences() - before[0], b.inferences() - before[1])
        assert sum(served) >= 40 and min(served) >= 10, served

        # Kill upstream a: every request still succeeds (failover to b); a's breaker opens or it is marked down.
        a.proc.send_signal(signal.SIGKILL)
        a.proc.wait()
        results = [call(url, "POST", "/v2/models/digits/infer", BODY, key=key)[0] for _ in range(30)]
        assert results.count(200) == 30, results
        wait_for(lambda: any(u["url"] == a.url and (not u["healthy"] or u["breaker"] != "closed")
                             for u in upstream_state(url, key)), "upstream a marked down")

        # Bring a back on the same port: health checks find it, the breaker closes again, it serves again.
        a.start()
        wait_for(lambda: all(u["healthy"] for u in upstream_state(url, key)), "upstream a healthy again")
        before_a = a.inferences()
        for _ in range(30):
            assert call(url, "POST", "/v2/models/digits/infer", BODY, key=key)[0] == 200
        assert a.inferences() > before_a
        assert all(u["breaker"] == "closed" for u in upstream_state(url, key))
        # The front audited the inferences with its own receipts; its log verifies.
        stop(front)
        assert mlsec("audit", "verify", "--log", tmp_path / "front" / "audit.db").returncode == 0
    finally:
        for p in [front, a.proc, b.proc]:
            if p:
                stop(p)


def test_hanging_upstream_times_out_and_requests_go_elsewhere(tmp_path):
    """An upstream that accepts connections and never answers: requests time out on it and are retried on the
    healthy one (within the retry budget); its breaker opens; nothing hangs."""
    hang = socket.socket()
    hang.bind(("127.0.0.1", 0))
    hang.listen(64)
    held = []
    stop_accepting = threading.Event()

    def accept():
        hang.settimeout(0.2)
        while not stop_accepting.is_set():
            try:
                conn, _ = hang.accept()
                held.append(conn)  # read nothing, answer nothing
            except OSError:
                pass

    acceptor = threading.Thread(target=accept)
    acceptor.start()
    b = Upstream(tmp_path, "b")
    front = None
    hang_url = f"http://127.0.0.1:{hang.getsockname()[1]}"
    try:
        config, key = front_config(tmp_path, [(hang_url, None), (b.url, b.token_file)],
                                   {"timeout_ms": 300, "health_interval_ms": 60000, "failure_threshold": 2, "open_ms": 60000,
                                    "max_attempts": 2})
        front, url = start(["--config", config], tmp_path / "front.log")
        started = time.time()
        results = [call(url, "POST", "/v2/models/digits/infer", BODY, key=key, timeout=10)[0] for _ in range(20)]
        elapsed = time.time() - started
        assert results.count(200) == 20, results
        assert elapsed < 10, f"{elapsed:.1f} s for 20 requests"
        state = {u["url"]: u for u in upstream_state(url, key)}
        assert state[hang_url]["breaker"] == "open", state
    finally:
        stop_accepting.set()
        acceptor.join()
        for conn in held:
            conn.close()
        hang.close()
        for p in [front, b.proc]:
            if p:
                stop(p)


def test_unreachable_upstreams_are_named_in_words(tmp_path):
    """Issue 16: a start that reaches no upstream says why for each, in words (connection refused, an unknown
    host, a certificate that does not verify, TLS spoken to a plain HTTP server), never as a Swift error dump."""
    import datetime
    import http.server
    import ssl
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(hours=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
            .sign(key, hashes.SHA256()))
    (tmp_path / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                         serialization.NoEncryption()))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    tls = http.server.HTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
    tls.socket = context.wrap_socket(tls.socket, server_side=True)
    plain = http.server.HTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    threads = [threading.Thread(target=server.serve_forever, daemon=True) for server in (tls, plain)]
    for t in threads:
        t.start()
    try:
        upstreams = {
            "refused": f"http://127.0.0.1:{closed}",
            "unknown host": "http://upstream.invalid:8000",
            "self-signed": f"https://localhost:{tls.server_address[1]}",
            "plain HTTP": f"https://127.0.0.1:{plain.server_address[1]}",
        }
        config = tmp_path / "front.json"
        config.write_text(json.dumps({
            "listen": {"host": "127.0.0.1", "port": 0}, "state_dir": str(tmp_path / "state"),
            "models": [{"name": "digits", "upstreams": [{"url": u} for u in upstreams.values()],
                        "upstream_policy": {"timeout_ms": 2000}}],
        }))
        mlsec("apikey", "create", "--state-dir", tmp_path / "state", "--init", "--name", "t", "--role", "admin",
              "--models", "*", check=0)
        proc = mlsec("serve", "--config", config)
        assert proc.returncode != 0
        error = proc.stderr
        assert "no upstream answered its metadata" in error, error
        assert f"{upstreams['refused']}: connection refused" in error, error
        assert f"{upstreams['unknown host']}: cannot resolve upstream.invalid" in error, error
        assert f"{upstreams['self-signed']}: TLS handshake failed: certificate verify failed" in error, error
        assert f"{upstreams['plain HTTP']}: TLS handshake failed" in error, error
        for dump in ("NIOConnectionError", "HTTPClientError", "NIOSSLError", "BoringSSL", "IOError", "SocketAddressError", "errno:"):
            assert dump not in error, (dump, error)
    finally:
        for server in (tls, plain):
            server.shutdown()
            server.server_close()
