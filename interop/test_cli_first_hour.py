"""Issue 16, "Things a new user needs": the CLI's rough edges in a user's first hour, each run on the real binary."""
import base64
import hashlib
import json
import os
import re
import stat
import subprocess

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from conftest import mlsec, mlsec_bin
from test_docs_commands import argv

TRAIN = ("train", "--data", "digits-train", "--label-column", "label", "--architecture", "mlp:64-16-10", "--epochs", "1")
DATA = ("--data", "digits-test", "--label-column", "label")


def mlsec_env(env, *args, cwd=None):
    """`mlsec ARGS` with exactly `env` (no inherited $MLSEC_KEYRING), text output."""
    return subprocess.run([mlsec_bin(), *map(str, args)], env=env, cwd=cwd, capture_output=True, text=True, timeout=600)


def train(out, *extra, check=None):
    return mlsec(*TRAIN, "--out", out, *extra, check=check)


# 1 and 7: the README's keyring commands on a fresh machine (empty HOME), decrypt using the default keyring.
def test_keyring_commands_work_with_an_empty_home(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    env = {"HOME": str(home), "PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    proc = mlsec_env(env, "keys", "list")
    assert proc.returncode == 2 and "mlsec keys create" in proc.stderr
    proc = mlsec_env(env, "keys", "create", "models")
    assert proc.returncode == 0, proc.stderr
    assert "created models" in proc.stdout
    for folder in (home / ".mlsec", home / ".mlsec" / "keyring", home / ".mlsec" / "keyring" / "identities"):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder
    listed = json.loads(mlsec_env(env, "keys", "list", "--format", "json").stdout)["keys"]
    assert [(k["name"], k["status"]) for k in listed] == [("models", "active")]
    plain = tmp_path / "weights.bin"
    plain.write_bytes(os.urandom(70_000))
    sealed = tmp_path / "enc" / "weights.bin.age"
    sealed.parent.mkdir()
    assert mlsec_env(env, "encrypt", "--key", "models", "-o", sealed, plain).returncode == 0
    # 7: decrypt finds the default keyring as encrypt --key does, with no -i or --keyring.
    out = tmp_path / "out.bin"
    proc = mlsec_env(env, "decrypt", "-o", out, sealed)
    assert proc.returncode == 0, proc.stderr
    assert out.read_bytes() == plain.read_bytes()
    proc = mlsec_env(env, "keys", "rotate", "models", "--rewrap", sealed.parent)
    assert proc.returncode == 0 and "re-wrapped" in proc.stdout, proc.stderr
    old = listed[0]["id"]
    assert mlsec_env(env, "keys", "retire", old).returncode == 0
    out.unlink()
    proc = mlsec_env(env, "decrypt", "--key", "models", "-o", out, sealed)
    assert proc.returncode == 0 and out.read_bytes() == plain.read_bytes(), proc.stderr
    proc = mlsec_env(env, "decrypt", "--key", "other", "-o", tmp_path / "x", sealed)
    assert proc.returncode == 2 and "no key named other" in proc.stderr
    # Without a keyring and without an identity, decrypt says what to give.
    bare = {"HOME": str(tmp_path / "nobody"), "PATH": env["PATH"]}
    proc = mlsec_env(bare, "decrypt", "-o", tmp_path / "y", sealed)
    assert proc.returncode == 2 and "give an identity" in proc.stderr


# 2: diff reports changes as changes, not as a failed verification.
def test_diff_reports_changes_not_a_verification_verdict(tmp_path, keys, model):
    sig = tmp_path / "m.sig"
    mlsec("sign", model, "--private-key", keys["p256"][0], "--signature", sig, check=0)
    proc = mlsec("diff", model, "--signature", sig, check=0)
    assert proc.stdout.startswith("No changes:")
    (model / "weights.bin").write_bytes(b"changed")
    proc = mlsec("diff", model, "--signature", sig, check=1)
    assert "Verification failed" not in proc.stdout + proc.stderr
    assert "1 change(s) in" in proc.stdout and "since it was signed" in proc.stdout
    assert "modified: weights.bin" in proc.stdout
    report = json.loads(mlsec("diff", model, "--signature", sig, "--format", "json", check=1).stdout)
    assert report["changed"] is True and "verified" not in report


# 3: each model file may be plain or .age independently; the signature covers the files as they lie on disk.
def test_encrypted_model_files_plain_or_age_independently(tmp_path, keys):
    model = tmp_path / "digits"
    train(model, check=0)
    identity = tmp_path / "model.key"
    recipient = mlsec("keygen", "--algorithm", "x25519", "--private-key", identity, check=0).stdout.strip()
    weights = model / "weights.safetensors"
    mlsec("encrypt", "-r", recipient, "-o", model / "weights.safetensors.age", weights, check=0)
    weights.unlink()  # model.json stays plain next to weights.safetensors.age
    sig = tmp_path / "digits.sig"
    mlsec("sign", model, "--private-key", keys["p256"][0], "--signature", sig, check=0)
    signed = ("--model", model, "--signature", sig, "--public-key", keys["p256"][1])
    out = json.loads(mlsec("evaluate", *signed, "--identity", identity, *DATA, check=0).stdout)
    assert out["n"] > 0
    proc = mlsec("evaluate", *signed, *DATA)
    assert proc.returncode == 2 and "weights.safetensors.age is encrypted" in proc.stderr
    proc = mlsec("evaluate", "--model", model, *DATA)
    assert proc.returncode == 2 and "encrypted model loads only verified" in proc.stderr


def test_a_model_encrypted_after_signing_is_named(tmp_path, keys):
    model = tmp_path / "digits"
    train(model, check=0)
    sig = tmp_path / "digits.sig"
    mlsec("sign", model, "--private-key", keys["p256"][0], "--signature", sig, check=0)
    identity = tmp_path / "model.key"
    recipient = mlsec("keygen", "--algorithm", "x25519", "--private-key", identity, check=0).stdout.strip()
    mlsec("encrypt", "-r", recipient, "-o", model / "model.json.age", model / "model.json", check=0)
    (model / "model.json").unlink()
    proc = mlsec("evaluate", "--model", model, "--signature", sig, "--public-key", keys["p256"][1],
                 "--identity", identity, *DATA)
    assert proc.returncode == 1
    assert "model.json.age was encrypted after the model was signed" in proc.stderr
    assert "encrypt first, then sign" in proc.stderr
    assert "cannot open" not in proc.stderr


# 4: reasons are sentences, never Swift debug dumps.
def test_a_changed_signed_model_is_refused_with_a_sentence(tmp_path, keys):
    model = tmp_path / "digits"
    train(model, check=0)
    sig = tmp_path / "digits.sig"
    mlsec("sign", model, "--private-key", keys["p256"][0], "--signature", sig, check=0)
    data = bytearray((model / "weights.safetensors").read_bytes())
    data[-1] ^= 1
    (model / "weights.safetensors").write_bytes(bytes(data))
    proc = mlsec("evaluate", "--model", model, "--signature", sig, "--public-key", keys["p256"][1], *DATA)
    assert proc.returncode == 1
    assert "signature check failed: weights.safetensors was modified" in proc.stderr
    assert "ManifestComparison" not in proc.stderr and "modified: [" not in proc.stderr


# 5: apikey --expires-at, revoke says what it revoked, --state-dir must hold gateway state.
def test_apikey_expiry_revoke_and_state_dir(tmp_path):
    state = tmp_path / "state"
    proc = mlsec("apikey", "create", "--state-dir", state, "--name", "ops", "--role", "admin", "--models", "*")
    assert proc.returncode == 2 and "holds no gateway state" in proc.stderr and "--init" in proc.stderr
    assert not (state / "gateway.db").exists()
    assert mlsec("apikey", "list", "--state-dir", state).returncode == 2
    created = json.loads(mlsec("apikey", "create", "--state-dir", state, "--init", "--name", "ops", "--role", "admin",
                               "--models", "*", check=0).stdout)
    assert (state / "gateway.db").exists() and "expires_at" not in created
    ci = json.loads(mlsec("apikey", "create", "--state-dir", state, "--name", "ci", "--role", "inference",
                          "--models", "digits", "--expires-at", "2099-01-01T00:00:00Z", check=0).stdout)
    assert ci["expires_at"].startswith("2099-01-01T00:00:00")
    listed = {k["id"]: k for k in json.loads(mlsec("apikey", "list", "--state-dir", state, check=0).stdout)["keys"]}
    assert listed[ci["id"]]["expires_at"].startswith("2099-01-01") and listed[created["id"]]["expires_at"] is None
    for bad, needle in [("2001-01-01T00:00:00Z", "in the past"), ("next week", "not an RFC 3339 time")]:
        proc = mlsec("apikey", "create", "--state-dir", state, "--name", "x", "--role", "inference", "--models", "digits",
                     "--expires-at", bad)
        assert proc.returncode == 2 and needle in proc.stderr
    proc = mlsec("apikey", "revoke", "--state-dir", state, ci["id"], check=0)
    assert json.loads(proc.stdout)["revoked"]["revoked"] is True
    assert f'revoked key {ci["id"]} (name "ci", role inference, models digits)' in proc.stderr
    proc = mlsec("apikey", "revoke", "--state-dir", state, ci["id"], check=0)
    assert "was already revoked" in proc.stderr
    proc = mlsec("apikey", "revoke", "--state-dir", state, "000000000000")
    assert proc.returncode == 2 and "no key with id" in proc.stderr


# 6: train --out refuses to overwrite a model without --force.
def test_train_refuses_to_overwrite_a_model_without_force(tmp_path):
    out = tmp_path / "m"
    train(out, check=0)
    before = (out / "weights.safetensors").read_bytes()
    proc = train(out, "--seed", "9")
    assert proc.returncode == 2 and "already holds a model" in proc.stderr and "--force" in proc.stderr
    assert (out / "weights.safetensors").read_bytes() == before
    train(out, "--seed", "9", "--force", check=0)
    assert (out / "weights.safetensors").read_bytes() != before
    proc = mlsec("model", "prune", "--model", out, "--fraction", "0.5", "--out", out)
    assert proc.returncode == 2 and "--force" in proc.stderr


# 8: clearer errors.
def test_wrong_passphrase_and_malformed_recipient_say_so(tmp_path):
    (tmp_path / "right.txt").write_text("correct horse\n")
    (tmp_path / "wrong.txt").write_text("battery staple\n")
    (tmp_path / "p.txt").write_text("secret")
    mlsec("encrypt", "--passphrase-file", tmp_path / "right.txt", "--work-factor", "10", "-o", tmp_path / "p.age",
          tmp_path / "p.txt", check=0)
    proc = mlsec("decrypt", "--passphrase-file", tmp_path / "wrong.txt", "-o", tmp_path / "out", tmp_path / "p.age")
    assert proc.returncode == 1 and "the passphrase is wrong" in proc.stderr
    identity = tmp_path / "k"
    mlsec("keygen", "--algorithm", "x25519", "--private-key", identity, check=0)
    proc = mlsec("decrypt", "-i", identity, "-o", tmp_path / "out", tmp_path / "p.age")
    assert proc.returncode == 1 and "encrypted with a passphrase" in proc.stderr
    for bad in ["age1notarecipient", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAA"]:
        proc = mlsec("encrypt", "-r", bad, "-o", tmp_path / "x.age", tmp_path / "p.txt")
        assert proc.returncode == 2 and "is not an age recipient" in proc.stderr, proc.stderr
    secret = identity.read_text().split("AGE-SECRET-KEY-1")[1].split()[0]
    proc = mlsec("encrypt", "-r", "AGE-SECRET-KEY-1" + secret, "-o", tmp_path / "x.age", tmp_path / "p.txt")
    assert proc.returncode == 2 and "where an age recipient (age1...) belongs" in proc.stderr
    assert secret[:8] not in proc.stderr


def test_unknown_architecture_lists_the_forms(tmp_path):
    for text, needle in [("cnn:1", 'the form "cnn" is not known'), ("mlp64", "neither a known form"),
                         ("mlp:64", "sizes must be")]:
        proc = mlsec("train", "--data", "digits-train", "--label-column", "label", "--architecture", text,
                     "--epochs", "1", "--out", tmp_path / "m")
        assert proc.returncode == 2 and needle in proc.stderr, proc.stderr
        assert "mlp:IN-H-...-OUT" in proc.stderr and "logreg:IN-OUT" in proc.stderr and "model.json" in proc.stderr
        assert not (tmp_path / "m").exists()


def test_a_policy_allowing_an_always_dangerous_callable_is_refused(tmp_path):
    target = tmp_path / "weights.safetensors"
    header = b'{"__metadata__":{"format":"pt"}}'
    target.write_bytes(len(header).to_bytes(8, "little") + header)
    policy = tmp_path / "policy.json"
    for entry in ["os.system", "builtins.eval", "__builtin__.exec", "subprocess.*", "os.path.*"]:
        policy.write_text(json.dumps({"allow": [entry]}))
        proc = mlsec("scan", target, "--policy", policy)
        assert proc.returncode == 2 and "always-dangerous" in proc.stderr and entry in proc.stderr, (entry, proc.stderr)
    # Broad patterns that merely contain dangerous callables are accepted (the list still wins for those).
    policy.write_text(json.dumps({"allow": ["torch.*", "mypkg.models.*"], "deny": ["os.system"]}))
    assert mlsec("scan", target, "--policy", policy).returncode == 0


# 9: receipt verify says when it checked the signature only.
def test_receipt_verify_says_what_it_checked(tmp_path):
    key = ed25519.Ed25519PrivateKey.generate()
    pub = tmp_path / "receipt.pub.pem"
    pub.write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    request, response = b'{"inputs": []}', b'{"outputs": []}'
    fields = {"key_id": "0123456789abcdef", "model": "digits", "model_digest": "sha256:" + "0" * 64, "model_version": "1",
              "receipt_id": "ab" * 16, "request_sha256": hashlib.sha256(request).hexdigest(),
              "response_sha256": hashlib.sha256(response).hexdigest(), "time": "2026-01-01T00:00:00.000Z"}
    signed = json.dumps(fields, sort_keys=True, separators=(",", ":")).encode()
    fields["signature"] = base64.urlsafe_b64encode(key.sign(signed)).rstrip(b"=").decode()
    receipt = base64.urlsafe_b64encode(json.dumps(fields, sort_keys=True, separators=(",", ":")).encode()).rstrip(b"=").decode()
    (tmp_path / "req.json").write_bytes(request)
    (tmp_path / "resp.json").write_bytes(response)
    proc = mlsec("receipt", "verify", "--receipt", receipt, "--public-key", pub, check=0)
    assert "signature only" in proc.stderr and json.loads(proc.stdout)["checked"] == ["signature"]
    proc = mlsec("receipt", "verify", "--receipt", receipt, "--public-key", pub, "--request", tmp_path / "req.json", check=0)
    assert "not the response" in proc.stderr and json.loads(proc.stdout)["checked"] == ["signature", "request"]
    proc = mlsec("receipt", "verify", "--receipt", receipt, "--public-key", pub, "--request", tmp_path / "req.json",
                 "--response", tmp_path / "resp.json", check=0)
    assert proc.stderr == "" and json.loads(proc.stdout)["checked"] == ["signature", "request", "response"]


# 10: help texts: commands in the order a user meets them, an example for every command, examples never wrapped.
def command_paths():
    tree = json.loads(subprocess.run([mlsec_bin(), "--experimental-dump-help"], capture_output=True, text=True,
                                     check=True).stdout)["command"]
    paths = []

    def walk(command, prefix):
        for sub in command.get("subcommands", []):
            if sub["commandName"] == "help" or sub.get("shouldDisplay", True) is False:
                continue
            paths.append(prefix + [sub["commandName"]])
            walk(sub, prefix + [sub["commandName"]])

    walk(tree, [])
    return paths




def help_text(path):
    env = dict(os.environ, COLUMNS="80")
    return subprocess.run([mlsec_bin(), *path, "--help"], env=env, capture_output=True, text=True, check=True).stdout


def test_root_help_lists_commands_in_the_order_a_user_meets_them():
    text = help_text([])
    names = [line.split()[0] for line in text.split("SUBCOMMANDS:")[1].splitlines()
             if line.startswith("  ") and not line.startswith("   ") and line.split()]
    assert names[:5] == ["serve", "sign", "verify", "scan", "encrypt"], names
    assert "Examples" in text.split("USAGE:")[0]


def example_problems(path):
    """Why `mlsec PATH --help` (80 columns) lacks an example or wraps one, or [] when it is fine."""
    name = " ".join(["mlsec", *path])
    lines = help_text(path).split("USAGE:")[0].splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith("Example")]
    if not starts:
        return [f"{name} --help shows no example"]
    problems = []
    for start in starts:
        block = []
        for line in lines[start + 1:]:
            if not line.strip():
                break
            block.append(line)
        if not block or not block[0].lstrip().startswith("mlsec "):
            problems.append(f"{name}: the example block does not start with a command")
        # A wrapped example continues at column 0; an example line or its `\` continuation is indented.
        problems += [f"{name}: wrapped example line {line!r}" for line in block if not line.startswith("  ") or len(line) > 80]
    return problems


def test_every_command_has_an_unwrapped_example():
    paths = command_paths()
    assert {"serve", "audit", "privacy", "deployments"} <= {path[0] for path in paths}
    problems = [p for path in paths for p in example_problems(path)]
    assert not problems, "\n".join(problems)


def example_commands(path):
    """The `mlsec` command lines in `mlsec PATH --help`'s example blocks, continuations joined."""
    lines = help_text(path).split("USAGE:")[0].splitlines()
    for start in [i for i, line in enumerate(lines) if line.startswith("Example")]:
        block = []
        for line in lines[start + 1:]:
            if not line.strip():
                break
            block.append(line)
        for line in re.sub(r"\\\n\s*", " ", "\n".join(block)).splitlines():
            if (at := line.find("mlsec ")) >= 0:
                yield line[at:]


def test_every_help_example_parses():
    """Each example is a real command line: mlsec parses it (MLSEC_PARSE_ONLY=1) without a usage error."""
    env = dict(os.environ, MLSEC_PARSE_ONLY="1")
    checked, failures = 0, []
    for path in command_paths():
        for command in example_commands(path):
            proc = subprocess.run([mlsec_bin(), *argv(command)[1:]], env=env, capture_output=True, text=True,
                                  timeout=30, stdin=subprocess.DEVNULL)
            checked += 1
            if proc.returncode != 0:
                failures.append(f"mlsec {' '.join(path)} --help: {command}\n    -> {proc.stderr.strip()[-300:]}")
    assert checked >= 100, checked
    assert not failures, "\n".join(failures)


# 11: bench audit warns about its defaults before it starts.
def test_bench_audit_warns_about_its_defaults(tmp_path):
    proc = subprocess.Popen([mlsec_bin(), "bench", "audit"], cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        first = proc.stderr.readline()
    finally:
        proc.kill()
        proc.wait()
    assert first.startswith("warning:") and "10000000 entries" in first and "the current folder" in first
    assert "--entries" in first and "minute" in first
    proc = mlsec("bench", "audit", "--entries", "500", "--batch", "100", "--proof-size", "1000", "--proofs", "5",
                 "--directory", tmp_path, check=0)
    assert "warning" not in proc.stderr
    assert json.loads(proc.stdout)["proof_size"] == 1000
