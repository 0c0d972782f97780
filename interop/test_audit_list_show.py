"""`mlsec audit list` and `mlsec audit show`, read back against Python's own view of the SQLite file and an
independent RFC 9162 inclusion check; and the same commands, with verify-checkpoint, on a log in PostgreSQL
(a private server started with scripts/postgres.sh, edited with its psql)."""
import glob
import json
import pathlib
import sqlite3
import subprocess
import tempfile

import pytest

from conftest import ROOT, mlsec, mlsec_bin
from test_audit_log import append, canonical, event, leaf_hash, mth, out_json, root_from_inclusion


def events_log(path, n=12):
    events = [event(i, reason=f"reason {i}" + (" " + "x" * 70 if i == 4 else "")) for i in range(n)]
    append(path, [json.dumps(e) for e in events], "--json")
    return events


def test_list_prints_lines_filters_and_pages(tmp_path):
    log = tmp_path / "a.db"
    events = events_log(log)
    lines = mlsec("audit", "list", "--log", log, check=0).stdout.splitlines()
    assert len(lines) == 12
    e = events[2]
    assert lines[2] == f"2  {e['time']}  {e['actor']}  infer  models/digits  {e['decision']}  {e['reason']}"
    # A long reason is shortened to 60 characters.
    assert lines[4].endswith("…") and len(lines[4].split("  ")[-1]) == 60
    # --since, exact filters (combined), --limit with the index to continue from on stderr.
    assert [l.split()[0] for l in mlsec("audit", "list", "--log", log, "--since", 9, check=0).stdout.splitlines()] == ["9", "10", "11"]
    denies = [i for i, e in enumerate(events) if e["decision"] == "deny"]
    got = mlsec("audit", "list", "--log", log, "--decision", "deny", check=0).stdout.splitlines()
    assert [int(l.split()[0]) for l in got] == denies
    both = [i for i, e in enumerate(events) if e["decision"] == "deny" and e["actor"] == "key:3"]
    got = mlsec("audit", "list", "--log", log, "--decision", "deny", "--actor", "key:3", check=0).stdout.splitlines()
    assert [int(l.split()[0]) for l in got] == both and both
    assert mlsec("audit", "list", "--log", log, "--action", "infe", check=0).stdout == ""
    proc = mlsec("audit", "list", "--log", log, "--action", "infer", "--limit", 5, check=0)
    assert len(proc.stdout.splitlines()) == 5 and "continue with --since 5" in proc.stderr
    proc = mlsec("audit", "list", "--log", log, "--decision", "deny", "--limit", 2, check=0)
    assert "continue with --since 6" in proc.stderr
    # A refusal's request id finds its entry.
    doc = out_json("audit", "list", "--log", log, "--request-id", "req-7", "--format", "json")
    assert doc == {"log_size": 12, "entries": [dict(events[7], index=7)], "next_since": None}
    # JSON: every field of each event plus its index, and where to continue.
    doc = out_json("audit", "list", "--log", log, "--since", 3, "--limit", 4, "--format", "json")
    assert doc["entries"] == [dict(events[i], index=i) for i in range(3, 7)] and doc["next_since"] == 7
    # Usage errors exit 2.
    assert mlsec("audit", "list", "--log", log, "--since", 13).returncode == 2
    assert mlsec("audit", "list", "--log", log, "--limit", 0).returncode == 2
    assert mlsec("audit", "list", "--log", log, "--decision", "maybe").returncode == 2
    assert mlsec("audit", "list", "--log", tmp_path / "missing.db").returncode == 2


def test_raw_entries_are_listed_but_match_no_filter(tmp_path):
    log = tmp_path / "raw.db"
    append(log, ["00ff", "1b5b33316d"], "--hex")
    lines = mlsec("audit", "list", "--log", log, check=0).stdout.splitlines()
    assert lines[0].startswith("0  (not an audit event: 2 bytes") and "\x1b" not in "".join(lines)
    assert mlsec("audit", "list", "--log", log, "--action", "infer", check=0).stdout == ""
    doc = out_json("audit", "list", "--log", log, "--format", "json")
    assert doc["entries"] == [{"index": 0, "data_hex": "00ff"}, {"index": 1, "data_hex": "1b5b33316d"}]
    assert out_json("audit", "show", "--log", log, 1, "--format", "json")["data_hex"] == "1b5b33316d"


def test_filters_see_through_json_escapes(tmp_path):
    """The byte-level shortcut that skips parsing entries a filter rules out must not skip an event whose
    field is written with an escape (a raw entry appended with --hex, valid JSON all the same)."""
    log = tmp_path / "esc.db"
    escaped = b'{"action":"infer","actor":"k\\u0065y:9","decision":"deny","resource":"r","time":"2026-11-29T08:00:00Z"}'
    append(log, [escaped.hex(), canonical(event(9)).hex()], "--hex")
    doc = out_json("audit", "list", "--log", log, "--actor", "key:9", "--format", "json")
    assert [e["index"] for e in doc["entries"]] == [0] and doc["entries"][0]["actor"] == "key:9"
    assert [e["index"] for e in out_json("audit", "list", "--log", log, "--actor", "key:2", "--format", "json")["entries"]] == [1]


def test_show_prints_the_entry_its_leaf_hash_and_a_proof_that_verifies(tmp_path):
    log = tmp_path / "s.db"
    events = events_log(log, n=13)
    leaves = [canonical(e) for e in events]
    for index in (0, 6, 12):
        doc = out_json("audit", "show", "--log", log, index, "--format", "json")
        assert {k: doc[k] for k in events[index]} == events[index] and doc["index"] == index
        assert doc["leaf_hash"] == leaf_hash(leaves[index]).hex()
        assert doc["log_size"] == 13 and doc["root"] == mth(leaves).hex() and doc["included"] is True
        proof = [bytes.fromhex(h) for h in doc["inclusion_proof"]]
        assert root_from_inclusion(index, 13, leaf_hash(leaves[index]), proof) == mth(leaves)
    text = mlsec("audit", "show", "--log", log, 6, check=0).stdout
    assert "index: 6\n" in text and f"actor: {events[6]['actor']}\n" in text and "request_id: req-6\n" in text
    assert f"leaf_hash: {leaf_hash(leaves[6]).hex()}\n" in text and "included: yes" in text
    # An index not in the log is a usage error (2), as for prove-inclusion.
    proc = mlsec("audit", "show", "--log", log, 13)
    assert proc.returncode == 2 and "13" in proc.stderr
    # An entry edited in place no longer leads to the root: printed, flagged, exit 1.
    with sqlite3.connect(log) as db:
        db.execute("UPDATE entries SET data = ? WHERE idx = 6", (canonical(event(6, decision="error")),))
    proc = mlsec("audit", "show", "--log", log, 6, "--format", "json")
    assert proc.returncode == 1 and json.loads(proc.stdout)["included"] is False and "audit verify" in proc.stderr


def test_help_shows_an_example_for_each_new_command():
    for command, example in (("list", "mlsec audit list --log audit.db"), ("show", "mlsec audit show --log audit.db 17"),
                             ("verify-checkpoint", "--verifier-key a.vkey \\\n    --log audit.db")):
        assert example in mlsec("audit", command, "--help", check=0).stdout


@pytest.fixture(scope="module")
def postgres_url():
    """A private server of our own (under /tmp: the server's own user must reach its directory as root)."""
    directory = pathlib.Path(tempfile.mkdtemp(prefix="mlsec-pg-audit-"))
    directory.rmdir()
    out = subprocess.run([str(ROOT / "scripts" / "postgres.sh"), "start", str(directory)], capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr
    env = dict(line.replace("export ", "").split("=", 1) for line in out.stdout.splitlines() if line.startswith("export "))
    yield env["MLSEC_TEST_POSTGRES_URL"]
    subprocess.run([str(ROOT / "scripts" / "postgres.sh"), "stop", str(directory)], timeout=120)


def psql(url, sql):
    binary = sorted(glob.glob("/usr/lib/postgresql/*/bin/psql"))[-1]
    subprocess.run([binary, url, "-v", "ON_ERROR_STOP=1", "-q", "-c", sql], check=True, capture_output=True, timeout=60)


def test_postgres_log_list_show_and_an_edited_entry(tmp_path, postgres_url):
    psql(postgres_url, "CREATE DATABASE audit_cli")
    url = postgres_url.replace("/postgres?", "/audit_cli?")
    db = ["--database", url]
    events = [event(i) for i in range(20)]
    proc = subprocess.run([mlsec_bin(), "audit", "append", *db, "--json"], input="".join(json.dumps(e) + "\n" for e in events),
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    doc = out_json("audit", "list", *db, "--since", 15, "--format", "json")
    assert doc["entries"] == [dict(events[i], index=i) for i in range(15, 20)]
    shown = out_json("audit", "show", *db, 9, "--format", "json")
    assert shown["included"] and shown["root"] == mth([canonical(e) for e in events]).hex()
    mlsec("audit", "keygen", "--name", "mlsec.test/audit", "--private-key", tmp_path / "k", "--verifier-key", tmp_path / "v", check=0)
    (tmp_path / "cp.txt").write_text(mlsec("audit", "checkpoint", *db, "--private-key", tmp_path / "k", "--origin",
                                           "mlsec.test/audit", check=0).stdout)
    verify_cp = ["audit", "verify-checkpoint", "--checkpoint", tmp_path / "cp.txt", "--verifier-key", tmp_path / "v", *db]
    assert out_json(*verify_cp)["log_size"] == 20
    psql(url, "UPDATE mlsec_audit_entries SET data = convert_to('{\"edited\":true}', 'UTF8') WHERE idx = 11")
    for args in (["audit", "verify", *db], verify_cp, ["audit", "show", *db, 11]):
        proc = mlsec(*args)
        assert proc.returncode == 1, (args, proc.stdout, proc.stderr)
        assert "entry 11" in proc.stderr

