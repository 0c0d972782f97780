"""age interop: MLSec's encryption against pyrage (rage) and, when installed, the age command-line tool (Go).

Both directions for X25519 and passphrases, sizes around the 64 KiB chunk boundary and several MiB, armor,
tampering through the CLI (exit 1, nothing written) and the keyring commands.
"""
import json
import os
import shutil
import subprocess

import pyrage
import pytest

from conftest import counter_bytes, mlsec, mlsec_bin

SIZES = [0, 1, 65535, 65536, 65537, 5 * 1024 * 1024 + 3]
AGE = shutil.which("age")


def plaintext(size):
    return counter_bytes(f"age-{size}", size)


@pytest.fixture
def identity(tmp_path):
    key = tmp_path / "id.key"
    proc = mlsec("keygen", "--algorithm", "x25519", "--private-key", key, check=0)
    recipient = proc.stdout.strip()
    assert recipient.startswith("age1")
    assert os.stat(key).st_mode & 0o777 == 0o600
    return key, recipient


def secret_of(key_path):
    return [l for l in key_path.read_text().splitlines() if l.startswith("AGE-SECRET-KEY-1")][0]


@pytest.mark.parametrize("size", SIZES)
def test_pyrage_encrypts_mlsec_decrypts_x25519(tmp_path, identity, size):
    key, recipient = identity
    data = plaintext(size)
    (tmp_path / "c.age").write_bytes(pyrage.encrypt(data, [pyrage.x25519.Recipient.from_str(recipient)]))
    mlsec("decrypt", "-i", key, "-o", tmp_path / "out", tmp_path / "c.age", check=0)
    assert (tmp_path / "out").read_bytes() == data


@pytest.mark.parametrize("size", SIZES)
def test_mlsec_encrypts_pyrage_decrypts_x25519(tmp_path, identity, size):
    key, recipient = identity
    data = plaintext(size)
    (tmp_path / "plain").write_bytes(data)
    mlsec("encrypt", "-r", recipient, "-o", tmp_path / "c.age", tmp_path / "plain", check=0)
    ident = pyrage.x25519.Identity.from_str(secret_of(key))
    assert pyrage.decrypt((tmp_path / "c.age").read_bytes(), [ident]) == data


@pytest.mark.parametrize("size", [0, 1, 65536, 65537, 3 * 1024 * 1024])
def test_passphrase_both_ways(tmp_path, size):
    data = plaintext(size)
    (tmp_path / "pass").write_text("correct horse battery staple\n")
    (tmp_path / "plain").write_bytes(data)
    # pyrage -> mlsec (rage picks its own work factor; mlsec accepts up to 22)
    (tmp_path / "p1.age").write_bytes(pyrage.passphrase.encrypt(data, "correct horse battery staple"))
    mlsec("decrypt", "--passphrase-file", tmp_path / "pass", "-o", tmp_path / "out1", tmp_path / "p1.age", check=0)
    assert (tmp_path / "out1").read_bytes() == data
    # mlsec -> pyrage
    mlsec("encrypt", "--passphrase-file", tmp_path / "pass", "--work-factor", "14", "-o", tmp_path / "p2.age",
          tmp_path / "plain", check=0)
    assert pyrage.passphrase.decrypt((tmp_path / "p2.age").read_bytes(), "correct horse battery staple") == data
    # the wrong passphrase: exit 1, nothing written
    (tmp_path / "wrong").write_text("wrong\n")
    proc = mlsec("decrypt", "--passphrase-file", tmp_path / "wrong", "-o", tmp_path / "out3", tmp_path / "p2.age")
    assert proc.returncode == 1 and not (tmp_path / "out3").exists()


def test_multiple_recipients_and_recipients_file(tmp_path, identity):
    key, recipient = identity
    other = pyrage.x25519.Identity.generate()
    (tmp_path / "rcpts").write_text(f"# team\n{recipient}\n\n{other.to_public()}\n")
    (tmp_path / "plain").write_bytes(b"shared weights")
    mlsec("encrypt", "-R", tmp_path / "rcpts", "-o", tmp_path / "c.age", tmp_path / "plain", check=0)
    assert pyrage.decrypt((tmp_path / "c.age").read_bytes(), [other]) == b"shared weights"
    proc = subprocess.run([mlsec_bin(), "decrypt", "-i", str(key), str(tmp_path / "c.age")], capture_output=True)
    assert proc.returncode == 0 and proc.stdout == b"shared weights"


def test_stdin_stdout_and_armor(tmp_path, identity):
    key, recipient = identity
    data = plaintext(200_000)
    enc = subprocess.run([mlsec_bin(), "encrypt", "-a", "-r", recipient], input=data, capture_output=True)
    assert enc.returncode == 0 and enc.stdout.startswith(b"-----BEGIN AGE ENCRYPTED FILE-----\n")
    dec = subprocess.run([mlsec_bin(), "decrypt", "-i", str(key)], input=enc.stdout, capture_output=True)
    assert dec.returncode == 0 and dec.stdout == data
    assert pyrage.decrypt(enc.stdout, [pyrage.x25519.Identity.from_str(secret_of(key))]) == data


@pytest.mark.skipif(AGE is None, reason="the Debian age tool is not installed")
@pytest.mark.parametrize("armor", [False, True])
def test_age_cli_both_ways(tmp_path, identity, armor):
    key, recipient = identity
    data = plaintext(3 * 65536 + 17)
    (tmp_path / "plain").write_bytes(data)
    flags = ["-a"] if armor else []
    subprocess.run([AGE, *flags, "-r", recipient, "-o", str(tmp_path / "g.age"), str(tmp_path / "plain")], check=True)
    mlsec("decrypt", "-i", key, "-o", tmp_path / "out", tmp_path / "g.age", check=0)
    assert (tmp_path / "out").read_bytes() == data
    mlsec("encrypt", *flags, "-r", recipient, "-o", tmp_path / "m.age", tmp_path / "plain", check=0)
    out = subprocess.run([AGE, "-d", "-i", str(key), str(tmp_path / "m.age")], capture_output=True, check=True)
    assert out.stdout == data


@pytest.mark.skipif(AGE is None, reason="the Debian age tool is not installed")
def test_age_keygen_identity_works_with_mlsec(tmp_path):
    subprocess.run(["age-keygen", "-o", str(tmp_path / "k.txt")], check=True, capture_output=True)
    recipient = [l for l in (tmp_path / "k.txt").read_text().splitlines() if "public key:" in l][0].split(": ")[1]
    (tmp_path / "plain").write_bytes(b"x" * 70000)
    mlsec("encrypt", "-r", recipient, "-o", tmp_path / "c.age", tmp_path / "plain", check=0)
    mlsec("decrypt", "-i", tmp_path / "k.txt", "-o", tmp_path / "out", tmp_path / "c.age", check=0)
    assert (tmp_path / "out").read_bytes() == b"x" * 70000


def tampered(blob):
    """Truncations at and between chunk boundaries and in the header, a swapped chunk, a flipped header byte."""
    sealed = 65536 + 16
    start = len(blob) - (3 * sealed + 100 + 16)  # payload nonce offset for a 3*64KiB+100 plaintext
    chunks = start + 16
    cases = {
        "cut-at-boundary-1": blob[:chunks + sealed],
        "cut-at-boundary-2": blob[:chunks + 2 * sealed],
        "cut-inside-chunk": blob[:chunks + sealed + 1000],
        "cut-last-byte": blob[:-1],
        "cut-in-header": blob[:start - 10],
        "swapped-chunks": blob[:chunks] + blob[chunks + sealed:chunks + 2 * sealed] + blob[chunks:chunks + sealed]
                          + blob[chunks + 2 * sealed:],
        "flipped-header-byte": blob[:30] + bytes([blob[30] ^ 1]) + blob[31:],
        "appended-byte": blob + b"\0",
    }
    return cases


def test_tampering_is_rejected_and_nothing_is_written(tmp_path, identity):
    key, recipient = identity
    data = plaintext(3 * 65536 + 100)
    (tmp_path / "plain").write_bytes(data)
    mlsec("encrypt", "-r", recipient, "-o", tmp_path / "c.age", tmp_path / "plain", check=0)
    blob = (tmp_path / "c.age").read_bytes()
    for name, bad in tampered(blob).items():
        (tmp_path / f"{name}.age").write_bytes(bad)
        proc = mlsec("decrypt", "-i", key, "-o", tmp_path / f"{name}.out", tmp_path / f"{name}.age")
        # A header that is not an age header is malformed input (2); a file that does not authenticate is 1.
        assert proc.returncode == (2 if name == "cut-in-header" else 1), (name, proc.stderr)
        assert not (tmp_path / f"{name}.out").exists(), name
        assert not [p for p in os.listdir(tmp_path) if ".tmp-" in p], name
    # A wrong identity: exit 1, nothing written.
    other = tmp_path / "other.key"
    mlsec("keygen", "--algorithm", "x25519", "--private-key", other, check=0)
    proc = mlsec("decrypt", "-i", other, "-o", tmp_path / "w.out", tmp_path / "c.age")
    assert proc.returncode == 1 and "no identity matched" in proc.stderr and not (tmp_path / "w.out").exists()
    # Input that is not an age file at all (armor or header) exits 2, like other malformed input.
    (tmp_path / "garbage.age").write_bytes(b"this is not an age file\n")
    proc = mlsec("decrypt", "-i", key, "-o", tmp_path / "g.out", tmp_path / "garbage.age")
    assert proc.returncode == 2 and not (tmp_path / "g.out").exists()
    assert "armor" in proc.stderr or "header" in proc.stderr
    # Usage errors exit 2.
    assert mlsec("decrypt", "-o", tmp_path / "x", tmp_path / "c.age").returncode == 2
    assert mlsec("encrypt", "-r", "age1notarecipient", tmp_path / "plain").returncode == 2


def test_keyring_create_rotate_rewrap_retire(tmp_path):
    ring = tmp_path / "ring"
    store = tmp_path / "store"
    store.mkdir()
    out = mlsec("keys", "create", "models", "--keyring", ring, check=0).stdout
    assert "created models" in out
    data = plaintext(150_000)
    (tmp_path / "plain").write_bytes(data)
    mlsec("encrypt", "--keyring", ring, "--key", "models", "-o", store / "m.age", tmp_path / "plain", check=0)
    before = (store / "m.age").read_bytes()
    listing = json.loads(mlsec("keys", "list", "--keyring", ring, "--format", "json", check=0).stdout)
    first = listing["keys"][0]
    assert first["status"] == "active" and first["recipient"].startswith("age1")
    assert os.stat(ring / "identities" / f"{first['id']}.key").st_mode & 0o777 == 0o600
    assert "AGE-SECRET-KEY" not in (ring / "keyring.json").read_text()

    rot = mlsec("keys", "rotate", "models", "--keyring", ring, "--rewrap", store, check=0).stdout
    assert f"re-wrapped {store / 'm.age'}" in rot
    after = (store / "m.age").read_bytes()
    assert after != before and after[-len(data):] == before[-len(data):]  # only the header changed
    listing = json.loads(mlsec("keys", "list", "--keyring", ring, "--format", "json", check=0).stdout)
    assert [k["status"] for k in listing["keys"]] == ["previous", "active"]
    second = listing["keys"][1]
    # The new key alone decrypts the re-wrapped file; pyrage agrees.
    new_identity = ring / "identities" / f"{second['id']}.key"
    mlsec("decrypt", "-i", new_identity, "-o", tmp_path / "out", store / "m.age", check=0)
    assert (tmp_path / "out").read_bytes() == data
    assert pyrage.decrypt(after, [pyrage.x25519.Identity.from_str(secret_of(new_identity))]) == data
    # Retire the old version: its secret is gone; the active one cannot be retired.
    assert mlsec("keys", "retire", second["id"], "--keyring", ring).returncode == 2
    mlsec("keys", "retire", first["id"], "--keyring", ring, check=0)
    assert not (ring / "identities" / f"{first['id']}.key").exists()
    mlsec("decrypt", "--keyring", ring, "-o", tmp_path / "out2", store / "m.age", check=0)
    assert (tmp_path / "out2").read_bytes() == data
