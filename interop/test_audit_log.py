"""The audit log from the command line: the RFC 6962 reference tree, proofs checked by an independent Python
verifier, JSON events, tamper detection, signed checkpoints checked with `cryptography`, and a real crash test
(kill -9 in the middle of appends, reopen, verify, every acknowledged entry present)."""
import base64
import hashlib
import json
import os
import random
import signal
import sqlite3
import subprocess
import threading
import time

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from conftest import mlsec, mlsec_bin

REFERENCE_LEAVES = ["", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"]
REFERENCE_ROOTS = {
    1: "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    3: "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    8: "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
}


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def mth(leaves):
    """RFC 6962 section 2.1 Merkle tree hash, recursively (an independent reference)."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return leaf_hash(leaves[0])
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return node_hash(mth(leaves[:k]), mth(leaves[k:]))


def root_from_inclusion(index, size, leaf, proof):
    """RFC 9162 section 2.1.3.2."""
    assert index < size
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        assert sn != 0
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    assert sn == 0
    return r


def consistent(m, n, proof, root1, root2):
    """RFC 9162 section 2.1.4.2."""
    if m == n:
        return not proof and root1 == root2
    if m & (m - 1) == 0:
        proof = [root1] + proof
    fn, sn = m - 1, n - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = proof[0]
    for c in proof[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            while not fn & 1 and fn:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == root1 and sr == root2


def append(log, lines, *flags, check=0):
    proc = subprocess.run([mlsec_bin(), "audit", "append", "--log", str(log), *flags],
                          input="".join(l + "\n" for l in lines), capture_output=True, text=True, timeout=120)
    assert proc.returncode == check, proc.stderr
    return proc


def out_json(*args):
    return json.loads(mlsec(*args, check=0).stdout)


def event(i, **extra):
    e = {"time": "2026-11-29T08:00:00Z", "actor": f"key:{i % 7}", "action": "infer", "resource": "models/digits",
         "decision": "allow" if i % 3 else "deny", "request_id": f"req-{i}"}
    e.update(extra)
    return e


def canonical(e) -> bytes:
    return json.dumps(e, sort_keys=True, separators=(",", ":")).encode()


def test_reference_tree_roots_and_proofs(tmp_path):
    log = tmp_path / "a.db"
    proc = append(log, REFERENCE_LEAVES, "--hex", "--print-index")
    assert proc.stdout.split() == [str(i) for i in range(8)]
    leaves = [bytes.fromhex(h) for h in REFERENCE_LEAVES]
    for n in range(1, 9):
        root = out_json("audit", "root", "--log", log, "--size", n)
        assert root == {"size": n, "root": mth(leaves[:n]).hex()}
        if n in REFERENCE_ROOTS:
            assert root["root"] == REFERENCE_ROOTS[n]
        for m in range(n):
            p = out_json("audit", "prove-inclusion", "--log", log, "--index", m, "--size", n)
            assert p["index"] == m and p["size"] == n
            proof = [bytes.fromhex(h) for h in p["proof"]]
            assert root_from_inclusion(m, n, leaf_hash(leaves[m]), proof) == mth(leaves[:n])
        for m in range(1, n + 1):
            c = out_json("audit", "prove-consistency", "--log", log, "--from", m, "--to", n)
            assert c["from"] == m and c["to"] == n
            assert consistent(m, n, [bytes.fromhex(h) for h in c["proof"]], mth(leaves[:m]), mth(leaves[:n]))
    assert out_json("audit", "root", "--log", log) == {"size": 8, "root": REFERENCE_ROOTS[8]}
    # Out-of-range requests are usage errors.
    assert mlsec("audit", "prove-inclusion", "--log", log, "--index", 8).returncode == 2
    assert mlsec("audit", "prove-consistency", "--log", log, "--from", 0, "--to", 3).returncode == 2
    assert mlsec("audit", "root", "--log", log, "--size", 9).returncode == 2


def test_json_events_are_validated_and_stored_canonically(tmp_path):
    log = tmp_path / "e.db"
    events = [event(i) for i in range(5)]
    lines = [json.dumps(e, indent=None) for e in events]
    proc = append(log, lines, "--json", "--print-index")
    assert proc.stdout.split() == ["0", "1", "2", "3", "4"]
    with sqlite3.connect(log) as db:
        stored = [row[0] for row in db.execute("SELECT data FROM entries ORDER BY idx")]
    assert stored == [canonical(e) for e in events]
    # A bad line stops the command before its batch is written; earlier batches stay.
    bad = [json.dumps(event(5)), json.dumps(event(6, prompt="raw user input"))]
    proc = append(log, bad, "--json", check=2)
    assert "line 2" in proc.stderr and "unknown audit event field" in proc.stderr
    assert out_json("audit", "root", "--log", log)["size"] == 5
    for broken in ['{"time": "2026-11-29T08:00:00Z"}', "not json", json.dumps(event(7, model_digest="md5:abc"))]:
        append(log, [broken], "--json", check=2)
    assert out_json("audit", "verify", "--log", log) == {
        "verified": True, "size": 5, "root": out_json("audit", "root", "--log", log)["root"]}


def test_tampering_is_detected_and_named(tmp_path):
    log = tmp_path / "t.db"
    append(log, [json.dumps(event(i)) for i in range(40)], "--json")
    assert mlsec("audit", "verify", "--log", log).returncode == 0
    with sqlite3.connect(log) as db:
        db.execute("UPDATE entries SET data = ? WHERE idx = 17", (canonical(event(17, decision="allow")) + b" ",))
    proc = mlsec("audit", "verify", "--log", log)
    assert proc.returncode == 1 and "entry 17" in proc.stderr
    # Rewriting an entry together with its leaf hash is caught by the tree above it.
    forged = canonical(event(17, decision="error"))
    with sqlite3.connect(log) as db:
        db.execute("UPDATE entries SET data = ?, leaf_hash = ? WHERE idx = 17", (forged, leaf_hash(forged)))
    proc = mlsec("audit", "verify", "--log", log)
    assert proc.returncode == 1 and "16...17" in proc.stderr
    # A deleted entry is named too.
    log2 = tmp_path / "t2.db"
    append(log2, [json.dumps(event(i)) for i in range(10)], "--json")
    with sqlite3.connect(log2) as db:
        db.execute("DELETE FROM entries WHERE idx = 4")
    proc = mlsec("audit", "verify", "--log", log2)
    assert proc.returncode == 1 and "entry 4" in proc.stderr


def verify_note_independently(note: str, vkey: str) -> str:
    """C2SP signed-note verification written from the spec, with the cryptography package."""
    name, key_id, key_b64 = vkey.strip().split("+", 2)
    raw = base64.b64decode(key_b64)
    assert raw[0] == 1 and len(raw) == 33
    assert hashlib.sha256(name.encode() + b"\n" + raw).digest()[:4].hex() == key_id
    text, sigs = note.rsplit("\n\n", 1)
    text += "\n"
    found = False
    for line in sigs.rstrip("\n").split("\n"):
        assert line.startswith("\u2014 ")
        sig_name, blob = line[2:].split(" ")
        blob = base64.b64decode(blob)
        if sig_name == name and blob[:4].hex() == key_id:
            Ed25519PublicKey.from_public_bytes(raw[1:]).verify(blob[4:], text.encode())
            found = True
    assert found
    return text


def test_signed_checkpoints(tmp_path):
    log = tmp_path / "c.db"
    append(log, [json.dumps(event(i)) for i in range(13)], "--json")
    vkey = mlsec("audit", "keygen", "--name", "mlsec.test/audit", "--private-key", tmp_path / "note.key",
                 "--verifier-key", tmp_path / "note.vkey", check=0).stdout.strip()
    assert os.stat(tmp_path / "note.key").st_mode & 0o777 == 0o600
    note = mlsec("audit", "checkpoint", "--log", log, "--private-key", tmp_path / "note.key", "--origin",
                 "mlsec.test/audit", check=0).stdout
    (tmp_path / "cp.txt").write_text(note)
    text = verify_note_independently(note, vkey)
    origin, size, root_b64 = text.rstrip("\n").split("\n")
    assert origin == "mlsec.test/audit" and size == "13"
    assert base64.b64decode(root_b64).hex() == out_json("audit", "root", "--log", log)["root"]
    # Verified by mlsec, also after the log grew.
    append(log, [json.dumps(event(i)) for i in range(13, 30)], "--json")
    r = out_json("audit", "verify-checkpoint", "--checkpoint", tmp_path / "cp.txt", "--verifier-key", vkey, "--log", log)
    assert r["verified"] and r["consistent"] and r["size"] == 13 and r["log_size"] == 30
    # A changed size line breaks the signature; a rewritten log breaks consistency.
    (tmp_path / "bad.txt").write_text(note.replace("\n13\n", "\n12\n"))
    assert mlsec("audit", "verify-checkpoint", "--checkpoint", tmp_path / "bad.txt",
                 "--verifier-key", tmp_path / "note.vkey").returncode == 1
    other = tmp_path / "other.db"
    append(other, [json.dumps(event(i, actor="mallory")) for i in range(30)], "--json")
    proc = mlsec("audit", "verify-checkpoint", "--checkpoint", tmp_path / "cp.txt", "--verifier-key", vkey,
                 "--log", other)
    assert proc.returncode == 1 and "rewritten" in proc.stderr


def test_checkpoint_check_recomputes_the_tree_from_the_entries(tmp_path):
    """Issue 16: an entry whose data alone was edited in the file (its stored leaf hash and the tree left as they
    were) fails `audit verify` and `audit verify-checkpoint --log` alike, inside the checkpoint or after it."""
    def build(path):
        append(path, [json.dumps(event(i)) for i in range(20)], "--json")
        return path

    first = build(tmp_path / "first.db")
    mlsec("audit", "keygen", "--name", "mlsec.test/audit", "--private-key", tmp_path / "note.key",
          "--verifier-key", tmp_path / "note.vkey", check=0)
    (tmp_path / "cp.txt").write_text(mlsec("audit", "checkpoint", "--log", first, "--private-key", tmp_path / "note.key",
                                           "--origin", "mlsec.test/audit", check=0).stdout)
    checkpoint_root = out_json("audit", "root", "--log", first)["root"]
    for edited in (7, 25, 31):
        log = build(tmp_path / f"edited-{edited}.db")
        append(log, [json.dumps(event(i)) for i in range(20, 32)], "--json")
        verify_cp = ["audit", "verify-checkpoint", "--checkpoint", tmp_path / "cp.txt",
                     "--verifier-key", tmp_path / "note.vkey", "--log", log]
        r = out_json(*verify_cp)
        assert r["verified"] and r["consistent"] and r["size"] == 20 and r["log_size"] == 32
        assert r["log_root"] == out_json("audit", "root", "--log", log)["root"]
        checked = " | ".join(r["checked"])
        assert "signature" in checked and "all 32 entries" in checked and "first 20 entries" in checked
        assert "consistency proof from 20 to 32" in checked
        with sqlite3.connect(log) as db:
            db.execute("UPDATE entries SET data = ? WHERE idx = ?", (canonical(event(edited, decision="allow", reason="edited")), edited))
        # The stored tree is untouched: it still gives the checkpoint's root (what the old check trusted).
        assert out_json("audit", "root", "--log", log, "--size", 20)["root"] == checkpoint_root
        for args in (["audit", "verify", "--log", log], verify_cp):
            proc = mlsec(*args)
            assert proc.returncode == 1, (args, proc.stdout, proc.stderr)
            assert f"entry {edited}" in proc.stderr and proc.stdout == ""


@pytest.mark.parametrize("round_", range(4))
def test_kill_9_mid_append_loses_no_acknowledged_entry(tmp_path, round_):
    """A writer streams events; the test kills it with SIGKILL at a random moment, then reopens the log:
    it must verify, and every index the writer acknowledged must hold exactly the event sent for it."""
    log = tmp_path / "crash.db"
    rng = random.Random(round_)
    sent_total = 0
    acknowledged = []
    for cycle in range(3):
        start_index = out_json("audit", "root", "--log", log)["size"] if log.exists() else 0
        proc = subprocess.Popen([mlsec_bin(), "audit", "append", "--log", str(log), "--json", "--print-index"],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        acked = []
        stop = threading.Event()

        def feed():
            i = start_index
            try:
                while not stop.is_set() and i < start_index + 200_000:
                    batch = "".join(json.dumps(event(n)) + "\n" for n in range(i, i + rng.randint(1, 300)))
                    proc.stdin.write(batch.encode())
                    proc.stdin.flush()
                    i += batch.count("\n")
            except (BrokenPipeError, ValueError):
                pass

        def read():
            for line in proc.stdout:
                acked.append(int(line))

        writer = threading.Thread(target=feed)
        reader = threading.Thread(target=read)
        writer.start()
        reader.start()
        time.sleep(rng.uniform(0.3, 1.2))
        os.kill(proc.pid, signal.SIGKILL)
        stop.set()
        proc.wait(timeout=30)
        reader.join(timeout=30)
        writer.join(timeout=30)
        assert acked, "the writer acknowledged nothing before it was killed"
        assert acked == list(range(start_index, start_index + len(acked)))
        acknowledged += acked
        # Reopen: the log verifies and holds every acknowledged entry, byte for byte.
        report = out_json("audit", "verify", "--log", log)
        assert report["size"] >= acknowledged[-1] + 1
        with sqlite3.connect(log) as db:
            rows = dict(db.execute("SELECT idx, data FROM entries WHERE idx >= ?", (start_index,)))
        for index in acked:
            assert rows[index] == canonical(event(index)), index
        sent_total = report["size"]
    assert sent_total >= len(acknowledged)
