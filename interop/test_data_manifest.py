"""Signed dataset manifests: `mlsec data sign|verify|prove|verify-proof` on CSV, JSON Lines and binary files, each
kind of edit named by record, and the bundle checked by an independent Python reading: the DSSE signature with
`cryptography`, the in-toto statement, and the RFC 6962 Merkle root recomputed from the rows."""
import base64
import hashlib
import json
import shutil

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from conftest import mlsec

HEADER = "a,b,label\n"


def rows(n):
    return [f"{i},{i * 0.5},{i % 3}\n" for i in range(n)]


def run_json(*args, check=0):
    return json.loads(mlsec(*args, check=check).stdout)


@pytest.fixture
def signed(tmp_path):
    mlsec("keygen", "--private-key", tmp_path / "k.pem", "--public-key", tmp_path / "k.pub", check=0)
    data = tmp_path / "d.csv"
    data.write_text(HEADER + "".join(rows(50)) + '50,"quoted\nnewline",1\n')
    out = run_json("data", "sign", data, "--private-key", tmp_path / "k.pem", "--out", tmp_path / "d.manifest")
    assert out["records"] == 51  # the quoted newline stays inside its row
    return tmp_path, data


def verify(tmp_path, data, check):
    return run_json("data", "verify", data, "--manifest", tmp_path / "d.manifest", "--public-key", tmp_path / "k.pub",
                    "--format", "json", check=check)


def test_unchanged_data_verifies(signed):
    tmp_path, data = signed
    result = verify(tmp_path, data, 0)
    assert result["verified"] and result["changed_records"] == result["added_records"] == result["removed_records"] == []


@pytest.mark.parametrize("edit,expected", [
    ("change", {"changed_records": [7], "added_records": [], "removed_records": []}),
    ("remove", {"changed_records": [], "added_records": [], "removed_records": [20]}),
    ("add", {"changed_records": [], "added_records": [30], "removed_records": []}),
    ("append", {"changed_records": [], "added_records": [51, 52], "removed_records": []}),
    ("swap", {"changed_records": [], "added_records": [4], "removed_records": [3]}),  # a move: out at 3, in at 4
    ("mixed", {"changed_records": [2], "added_records": [40], "removed_records": [10, 11]}),
])
def test_each_edit_is_named_by_record(signed, edit, expected):
    tmp_path, data = signed
    lines = data.read_text().split("\n")
    records = [l + "\n" for l in lines[1:-1]]  # the quoted row spans two lines; keep it intact at the end
    body = rows(50)
    if edit == "change":
        body[7] = "7,99,0\n"
    elif edit == "remove":
        del body[20]
    elif edit == "add":
        body.insert(30, "999,1,1\n")
    elif edit == "swap":
        body[3], body[4] = body[4], body[3]
    elif edit == "mixed":
        body[2] = "2,-1,2\n"
        del body[10:12]
        body.insert(40, "1234,5,0\n")
    tail = '50,"quoted\nnewline",1\n' + ("x,y,1\nz,w,0\n" if edit == "append" else "")
    data.write_text(HEADER + "".join(body) + tail)
    result = verify(tmp_path, data, 1)
    assert {k: result[k] for k in expected} == expected


def test_header_change_and_wrong_key_are_refused(signed):
    tmp_path, data = signed
    data.write_text(data.read_text().replace("a,b,label", "a,b,target", 1))
    assert verify(tmp_path, data, 1)["changed_headers"] == ["."]
    mlsec("keygen", "--private-key", tmp_path / "o.pem", "--public-key", tmp_path / "o.pub", check=0)
    proc = mlsec("data", "verify", data, "--manifest", tmp_path / "d.manifest", "--public-key", tmp_path / "o.pub")
    assert proc.returncode == 1 and "key" in proc.stderr


def test_record_proofs_verify_and_forgeries_fail(signed):
    tmp_path, data = signed
    proof = mlsec("data", "prove", data, "--manifest", tmp_path / "d.manifest", "--record", 41, check=0).stdout
    (tmp_path / "p.json").write_text(proof)
    ok = run_json("data", "verify-proof", "--manifest", tmp_path / "d.manifest", "--public-key", tmp_path / "k.pub",
                  "--proof", tmp_path / "p.json")
    assert ok["included"] and ok["record_text"] == "41,20.5,2\n"
    forged = json.loads(proof)
    forged["record_base64"] = base64.b64encode(b"41,20.5,1\n").decode()  # a user's row that was not in the data
    (tmp_path / "f.json").write_text(json.dumps(forged))
    proc = mlsec("data", "verify-proof", "--manifest", tmp_path / "d.manifest", "--public-key", tmp_path / "k.pub", "--proof", tmp_path / "f.json")
    assert proc.returncode == 1
    (tmp_path / "bad.json").write_text("{")
    proc = mlsec("data", "verify-proof", "--manifest", tmp_path / "d.manifest", "--public-key", tmp_path / "k.pub", "--proof", tmp_path / "bad.json")
    assert proc.returncode == 2
    assert mlsec("data", "prove", data, "--manifest", tmp_path / "d.manifest", "--record", 51).returncode == 2


def rfc6962_root(leaves):
    if len(leaves) == 1:
        return leaves[0]
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return hashlib.sha256(b"\x01" + rfc6962_root(leaves[:k]) + rfc6962_root(leaves[k:])).digest()


def test_python_checks_the_envelope_and_recomputes_the_root(signed):
    tmp_path, data = signed
    bundle = json.loads((tmp_path / "d.manifest").read_text())
    envelope = bundle["dsseEnvelope"]
    payload = base64.b64decode(envelope["payload"])
    ptype = envelope["payloadType"].encode()
    pae = b"DSSEv1 %d %s %d %s" % (len(ptype), ptype, len(payload), payload)
    key = serialization.load_pem_public_key((tmp_path / "k.pub").read_bytes())
    key.verify(base64.b64decode(envelope["signatures"][0]["sig"]), pae, ec.ECDSA(hashes.SHA256()))
    statement = json.loads(payload)
    assert statement["_type"] == "https://in-toto.io/Statement/v1"
    predicate = statement["predicate"]
    raw = data.read_bytes()
    body = raw[len(HEADER):]
    records = [l + b"\n" for l in body.split(b"\n")[:-1]]
    records = records[:50] + [records[50] + records[51]]  # the quoted row
    leaves = [hashlib.sha256(b"\x00" + r).digest() for r in records]
    assert rfc6962_root(leaves).hex() == predicate["merkle_root"] == statement["subject"][0]["digest"]["sha256"]
    assert predicate["record_count"] == 51 and predicate["files"][0]["sha256"] == hashlib.sha256(raw).hexdigest()


def test_directories_jsonl_and_binary_chunks(tmp_path):
    mlsec("keygen", "--private-key", tmp_path / "k.pem", "--public-key", tmp_path / "k.pub", check=0)
    d = tmp_path / "ds"
    (d / "sub").mkdir(parents=True)
    (d / "a.jsonl").write_text("".join(json.dumps({"i": i}) + "\n" for i in range(10)))
    (d / "sub" / "x.bin").write_bytes(bytes(range(256)) * 40)  # 10,240 bytes: 3 chunks of 4,096
    out = run_json("data", "sign", d, "--private-key", tmp_path / "k.pem", "--out", tmp_path / "m", "--chunk-size", 4096)
    assert out["records"] == 13 and out["files"] == 2
    blob = bytearray((d / "sub" / "x.bin").read_bytes())
    blob[5000] ^= 1
    (d / "sub" / "x.bin").write_bytes(bytes(blob))
    (d / "new.csv").write_text("h\n1\n")
    result = run_json("data", "verify", d, "--manifest", tmp_path / "m", "--public-key", tmp_path / "k.pub", "--format", "json", check=1)
    assert result["changed_records"] == [11] and result["added_files"] == ["new.csv"]
    (d / "link").symlink_to(d / "a.jsonl")
    assert mlsec("data", "sign", d, "--private-key", tmp_path / "k.pem", "--out", tmp_path / "m2").returncode == 2
