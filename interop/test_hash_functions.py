"""MLSec's BLAKE2b and BLAKE3 agree with Python's hashlib.blake2b and the blake3 package."""
import hashlib
import json
import os

import blake3
import pytest

from conftest import mlsec

SIZES = [0, 1, 63, 64, 65, 127, 128, 129, 1023, 1024, 1025, 2048, 4097, 65536, 1 << 20, (1 << 20) + 1,
         (2 << 20) - 1, 2 << 20, (3 << 20) + 5, 4 << 20, (5 << 20) + 12345]


@pytest.fixture(scope="module")
def hashed_model(tmp_path_factory):
    d = tmp_path_factory.mktemp("hashes") / "model"
    d.mkdir()
    data = os.urandom(max(SIZES))
    for s in SIZES:
        (d / f"f{s:08d}.bin").write_bytes(data[:s])
    return d, data


@pytest.mark.parametrize("hash_name,ref", [
    ("blake2b", lambda b: hashlib.blake2b(b).hexdigest()),
    ("blake3", lambda b: blake3.blake3(b).hexdigest()),
    ("sha256", lambda b: hashlib.sha256(b).hexdigest())])
def test_file_digests_match_python(hashed_model, hash_name, ref):
    model, data = hashed_model
    out = json.loads(mlsec("digest", model, "--hash", hash_name, "--format", "json", check=0).stdout)
    got = {r["name"]: r["digest"] for r in out["resources"]}
    for s in SIZES:
        assert got[f"f{s:08d}.bin"] == ref(data[:s]), (hash_name, s)


def test_blake3_is_thread_count_independent(hashed_model):
    model, _ = hashed_model
    one = mlsec("digest", model, "--hash", "blake3", "--threads", "1", check=0).stdout
    many = mlsec("digest", model, "--hash", "blake3", "--threads", "4", check=0).stdout
    assert one == many
