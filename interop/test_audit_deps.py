"""`mlsec audit-deps`: PEP 440 and SemVer ordering against references, the offline OSV audit against an
independent evaluator (packaging) over the committed fixture records, --fail-on exit codes, CVSS scores against
the `cvss` library, and hostile inputs (exit 2 with a clear message, never a crash)."""
import functools
import json
import pathlib
import random
import re

import pytest
from cvss import CVSS2, CVSS3, CVSS4
from packaging.version import Version

from conftest import ROOT, mlsec

OSV = ROOT / "Tests" / "MLSecSupplyChainTests" / "Fixtures" / "osv"
HERE = pathlib.Path(__file__).resolve().parent / "audit_deps"


# ---------------------------------------------------------------- PEP 440 ordering against packaging

def random_pep440(rng):
    """A valid PEP 440 version in one of the spellings PEP 440 normalizes, from a small pool so that many
    versions tie or differ in one part only."""
    sep = lambda: rng.choice(["", ".", "-", "_"])
    num = lambda: str(rng.choice([0, 0, 1, 2, 3, 10, 11, 99, 2**70]))
    out = rng.choice(["", "", "", "v", "V"])
    if rng.random() < 0.15:
        out += rng.choice(["0", "1", "2", "00"]) + "!"
    out += ".".join(rng.choice(["0", "1", "2", "10", "01", "0"]) for _ in range(rng.randint(1, 4)))
    if rng.random() < 0.4:
        label = rng.choice(["a", "b", "rc", "c", "alpha", "beta", "pre", "preview", "A", "RC"])
        out += sep() + label + (sep() + num() if rng.random() < 0.8 else "")
    if rng.random() < 0.3:
        if rng.random() < 0.3:
            out += "-" + num()
        else:
            out += sep() + rng.choice(["post", "rev", "r", "POST"]) + (sep() + num() if rng.random() < 0.8 else "")
    if rng.random() < 0.3:
        out += sep() + rng.choice(["dev", "DEV"]) + (sep() + num() if rng.random() < 0.8 else "")
    if rng.random() < 0.25:
        out += "+" + rng.choice([".", "-", "_"]).join(rng.choice(["abc", "1", "ubuntu", "2", "x9", "00", "Z"])
                                                       for _ in range(rng.randint(1, 3)))
    if rng.random() < 0.05:
        out = " " + out + "\t"
    return out


def test_pep440_ordering_and_normalization_match_packaging(tmp_path):
    rng = random.Random(440)
    versions = [random_pep440(rng) for _ in range(5000)]
    for v in versions:
        Version(v)  # the generator only makes valid versions
    path = tmp_path / "versions.txt"
    path.write_text("\n".join(versions) + "\n")
    stripped = [v.strip() for v in versions]
    # Python's sort is stable and so is mlsec's: the outputs must be identical, ties included.
    expected = sorted(stripped, key=Version)
    out = mlsec("audit-deps", "sort-versions", "--ecosystem", "PyPI", path, check=0).stdout.splitlines()
    assert out == expected
    normalized = mlsec("audit-deps", "sort-versions", "--ecosystem", "pypi", path, "--normalized", check=0)
    assert normalized.stdout.splitlines() == [str(Version(v)) for v in expected]
    pairs = sum(1 for a, b in zip(expected, expected[1:]) if Version(a) == Version(b))
    assert pairs > 100  # the pool makes many equal neighbours (1.0 == 1.0.0 == v1.0), so ties are exercised


@pytest.mark.parametrize("bad", ["1.0-SNAPSHOT", "1.0.", "2.0.0-final", "1.0+", "latest"])
def test_invalid_pep440_versions_are_refused_naming_the_line(tmp_path, bad):
    path = tmp_path / "v.txt"
    path.write_text(f"1.0\n{bad}\n")
    proc = mlsec("audit-deps", "sort-versions", "--ecosystem", "PyPI", path, check=2)
    assert f"v.txt:2" in proc.stderr and "PEP 440" in proc.stderr
    with pytest.raises(Exception):
        Version(bad)


# ---------------------------------------------------------------- SemVer ordering against a reference

def semver_key(text):
    """SemVer 2.0.0 §11 precedence, written from the specification (reference for the test)."""
    text = text.strip().lstrip("vV").split("+", 1)[0]
    core, _, pre = text.partition("-")
    nums = [int(x) for x in core.split(".")] + [0] * (3 - len(core.split(".")))
    if not pre:
        return (nums, 1, [])
    ids = [(0, int(p), "") if p.isdigit() else (1, 0, p) for p in pre.split(".")]
    return (nums, 0, ids)


def semver_cmp(a, b):
    ka, kb = semver_key(a), semver_key(b)
    return (ka > kb) - (ka < kb)


def test_semver_ordering_matches_the_specification(tmp_path):
    rng = random.Random(2)
    ident = lambda: rng.choice(["alpha", "beta", "rc", "1", "2", "11", "x-y", "0"])
    versions = []
    for _ in range(3000):
        v = rng.choice(["", "v"]) + ".".join(str(rng.choice([0, 1, 2, 10])) for _ in range(rng.choice([1, 2, 3, 3, 3])))
        if rng.random() < 0.5:
            v += "-" + ".".join(ident() for _ in range(rng.randint(1, 3)))
        if rng.random() < 0.2:
            v += "+build." + str(rng.randint(0, 9))
        versions.append(v)
    path = tmp_path / "tags.txt"
    path.write_text("\n".join(versions))
    out = mlsec("audit-deps", "sort-versions", "--ecosystem", "SwiftURL", path, check=0).stdout.splitlines()
    assert out == sorted(versions, key=functools.cmp_to_key(semver_cmp))


# ---------------------------------------------------------------- the audit against an independent evaluator

def load_records():
    records = []
    for path in sorted(OSV.rglob("*.json")):
        record = json.loads(path.read_text())
        if not record.get("withdrawn"):
            records.append(record)
    return records


def canon(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def affected_and_fixes(record, name, version):
    """OSV evaluation, written from the schema text: versions[] OR any range whose last event at or below the
    version is an introduced (fixed exclusive, last_affected inclusive)."""
    v = Version(version)
    hit, fixes = False, []
    for entry in record.get("affected", []):
        pkg = entry.get("package", {})
        if pkg.get("ecosystem") != "PyPI" or canon(pkg.get("name", "")) != canon(name):
            continue
        if any(Version(x) == v for x in entry.get("versions", []) if _valid(x)):
            hit = True
        for rng in entry.get("ranges", []):
            if rng["type"] != "ECOSYSTEM":
                continue
            inside = False
            for ev in sorted(rng["events"], key=lambda e: Version("0") if e.get("introduced") == "0"
                             else Version(next(iter(e.values())))):
                kind, at = next(iter(ev.items()))
                if kind == "introduced" and (at == "0" or v >= Version(at)):
                    inside = True
                elif kind == "fixed" and v >= Version(at):
                    inside = False
                elif kind == "last_affected" and v > Version(at):
                    inside = False
            if inside:
                hit = True
                fixes += [Version(e["fixed"]) for e in rng["events"] if "fixed" in e and Version(e["fixed"]) > v]
    return hit, fixes


def _valid(x):
    try:
        Version(x)
        return True
    except Exception:
        return False


def expected_findings(name, version):
    """Groups of record ids (merged through shared ids/aliases) with their lowest fix above the version."""
    hits = [(r, f) for r in load_records() for hit, f in [affected_and_fixes(r, name, version)] if hit]
    groups = []
    for record, fixes in hits:
        names = {record["id"], *record.get("aliases", [])}
        merged = [g for g in groups if g["names"] & names]
        group = {"names": names, "ids": {record["id"]}, "fixes": list(fixes)}
        for g in merged:
            groups.remove(g)
            group["names"] |= g["names"]
            group["ids"] |= g["ids"]
            group["fixes"] += g["fixes"]
        groups.append(group)
    return {frozenset(g["ids"]): (str(min(g["fixes"])) if g["fixes"] else None) for g in groups}


PINS = ["jinja2==2.7.1", "Jinja2==2.10", "jinja2==2.10.1", "jinja2==3.1.2", "jinja2==3.1.4", "jinja2==3.1.5",
        "jinja2==3.1.6", "torch==1.13.0", "torch==1.13.1", "torch==1.0.1.post2", "Pillow==9.0.0", "pillow==9.0.1",
        "pillow==9.0.2", "requests==2.2.1", "requests==2.3.0", "numpy==1.26.4"]


def audit_json(tmp_path, requirements, *extra, check=None):
    req = tmp_path / "requirements.txt"
    req.write_text(requirements)
    proc = mlsec("audit-deps", "--osv", OSV, "--requirements", req, "--format", "json", *extra, check=check)
    return proc, json.loads(proc.stdout) if proc.stdout.strip() else None


def test_audit_agrees_with_an_independent_packaging_evaluator(tmp_path):
    proc, report = audit_json(tmp_path, "\n".join(PINS) + "\n")
    assert proc.returncode == 1, proc.stderr
    assert report["audited"] == len(PINS)
    for pin in PINS:
        name, version = pin.split("==")
        got = {frozenset(f["records"]): (f["fixed"][0] if f["fixed"] else None)
               for f in report["findings"] if f["package"] == name and f["version"] == version}
        assert got == expected_findings(name, version), pin


def test_audit_matches_the_committed_expected_results(tmp_path):
    """Spot checks written down from the advisory records themselves (audit_deps/SOURCE.md)."""
    expected = json.loads((HERE / "expected.json").read_text())
    pins = list(expected["pins"])
    _, report = audit_json(tmp_path, "\n".join(pins) + "\n")
    for pin, want in expected["pins"].items():
        name, version = pin.split("==")
        got = sorted(f["ids"][0] + " " + f["severity"]["rating"] + " " + (f["fixed"][0] if f["fixed"] else "-")
                     for f in report["findings"] if f["package"] == name and f["version"] == version)
        assert got == sorted(want), pin


def test_text_output_names_ids_severity_and_fix_and_reports_the_database(tmp_path):
    req = tmp_path / "r.txt"
    req.write_text("jinja2==2.10\nnumpy>=1.0\n")
    proc = mlsec("audit-deps", "--osv", OSV, "--requirements", req, check=1)
    assert "GHSA-462w-v97r-4m45, PYSEC-2019-217, CVE-2019-10906" in proc.stdout
    assert "severity: high 8.6 CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:N/A:N" in proc.stdout
    assert "fixed in: 2.10.1" in proc.stdout
    assert "loaded 9 OSV records" in proc.stderr and "1 withdrawn" in proc.stderr
    assert "newest modified 2025-05-01T03:31:17Z" in proc.stderr
    assert "days old (over --max-age-days 30)" in proc.stderr
    assert "numpy: not pinned, not audited" in proc.stderr
    assert "numpy" not in proc.stdout.split("known vulnerabilities")[0]


@pytest.mark.parametrize("pins, fail_on, code", [
    ("jinja2==3.1.6\n", "low", 0),        # clean
    ("jinja2==3.1.5\n", "low", 1),        # medium (v4-only record: CVSS v4.0 5.4)
    ("jinja2==3.1.5\n", "medium", 1),
    ("jinja2==3.1.5\n", "high", 0),
    ("jinja2==2.10\n", "high", 1),        # 8.6 high
    ("jinja2==2.10\n", "critical", 0),
    ("pillow==9.0.0\n", "critical", 1),   # 9.8 critical
    ("torch==1.13.0\n", "critical", 1),   # no severity at all: unknown fails closed
    ("numpy>=1\n", "low", 0),             # nothing pinned: nothing found
])
def test_fail_on_exit_codes(tmp_path, pins, fail_on, code):
    proc, report = audit_json(tmp_path, pins, "--fail-on", fail_on, check=code)
    assert report["verdict"] == ("vulnerable" if code else "clean")


def test_swift_package_resolved_and_sbom(tmp_path):
    resolved = tmp_path / "Package.resolved"
    resolved.write_text(json.dumps({"object": {"pins": [
        {"package": "swift-nio-http2", "repositoryURL": "https://github.com/apple/swift-nio-http2.git",
         "state": {"branch": None, "revision": "a", "version": "1.19.2"}},
        {"package": "swift-nio", "repositoryURL": "https://github.com/apple/swift-nio.git",
         "state": {"branch": None, "revision": "b", "version": None}}]}, "version": 1}))
    proc = mlsec("audit-deps", "--osv", OSV, "--package-resolved", resolved, "--format", "json", check=1)
    report = json.loads(proc.stdout)
    assert [f["ids"] for f in report["findings"]] == [["MLSEC-TEST-2025-0003", "CVE-2023-44487"]]
    assert report["not_audited"][0]["reason"] == "pinned by revision only, not audited"
    bom = tmp_path / "bom.json"
    bom.write_text(json.dumps({"bomFormat": "CycloneDX", "specVersion": "1.6", "components": [
        {"type": "library", "name": "jinja2", "purl": "pkg:pypi/jinja2@3.1.6"},
        {"type": "library", "name": "nio", "purl": "pkg:github/apple/swift-nio-http2@1.28.0"},
        {"type": "library", "name": "lodash", "purl": "pkg:npm/lodash@4.17.20"}]}))
    proc = mlsec("audit-deps", "--osv", OSV, "--sbom", bom, "--format", "json", check=0)
    report = json.loads(proc.stdout)
    assert report["audited"] == 2 and report["findings"] == []
    assert "unsupported ecosystem npm" in report["not_audited"][0]["reason"]


# ---------------------------------------------------------------- CVSS against the cvss library

def test_cvss_scores_match_the_cvss_library():
    rng = random.Random(3)
    values = {"AV": "NALP", "AC": "LH", "PR": "NLH", "UI": "NR", "S": "UC", "C": "HLN", "I": "HLN", "A": "HLN"}
    vectors = ["CVSS:3.%d/" % rng.choice([0, 1]) + "/".join(f"{k}:{rng.choice(v)}" for k, v in values.items())
               for _ in range(300)]
    v2 = {"AV": "LAN", "AC": "HML", "Au": "MSN", "C": "NPC", "I": "NPC", "A": "NPC"}
    vectors2 = ["/".join(f"{k}:{rng.choice(v)}" for k, v in v2.items()) for _ in range(100)]
    out = mlsec("audit-deps", "score", *vectors, *vectors2, check=0).stdout.splitlines()
    for line, vector in zip(out, vectors + vectors2):
        score, rating, echoed = line.split(" ")
        assert echoed == vector
        ref = CVSS3(vector) if vector.startswith("CVSS:3") else CVSS2(vector)
        assert float(score) == float(ref.base_score), vector
        if vector.startswith("CVSS:3"):
            assert rating == ref.severities()[0].lower(), vector


V4_BASE = {"AV": "NALP", "AC": "LH", "AT": "NP", "PR": "NLH", "UI": "NPA", "VC": "HLN", "VI": "HLN", "VA": "HLN",
           "SC": "HLN", "SI": "HLN", "SA": "HLN"}
V4_OPTIONAL = {"E": "XAPU", "CR": "XHML", "IR": "XHML", "AR": "XHML", "MAV": "XNALP", "MAC": "XLH", "MAT": "XNP",
               "MPR": "XNLH", "MUI": "XNPA", "MVC": "XHLN", "MVI": "XHLN", "MVA": "XHLN", "MSC": "XHLN",
               "MSI": "XSHLN", "MSA": "XSHLN", "S": "XNP", "AU": "XNY", "R": "XAUI", "V": "XDC", "RE": "XLMH",
               "U": ["X", "Clear", "Green", "Amber", "Red"]}


def test_cvss4_scores_match_the_cvss_library():
    """Random CVSS v4.0 vectors: 500 with base metrics only, 200 also with a random subset of the threat,
    environmental and supplemental metrics (in the specification's order), scored by mlsec and by `cvss`."""
    rng = random.Random(4)
    base = lambda: "CVSS:4.0/" + "/".join(f"{k}:{rng.choice(v)}" for k, v in V4_BASE.items())
    vectors = [base() for _ in range(500)]
    for _ in range(200):
        extra = [f"{k}:{rng.choice(v)}" for k, v in V4_OPTIONAL.items() if rng.random() < 0.35]
        vectors.append("/".join([base(), *extra]))
    out = mlsec("audit-deps", "score", *vectors, check=0).stdout.splitlines()
    assert len(out) == len(vectors)
    for line, vector in zip(out, vectors):
        score, rating, echoed = line.split(" ")
        assert echoed == vector
        ref = CVSS4(vector)
        assert float(score) == float(ref.base_score), vector
        assert rating == ref.severities()[0].lower(), vector


@pytest.mark.parametrize("vector, needle", [
    ("CVSS:4.0/AV:N/AC:L/AT:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N", "base metric PR"),
    ("CVSS:4.0/AC:L/AV:N/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N", "AV out of order"),
    ("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N/E:A/E:P", "repeats the metric E"),
    ("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:S/SA:N", "invalid SI value"),
    ("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N/XX:Y", "unknown metric XX"),
    ("CVSS:4.1/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N", "CVSS:4.0/"),
])
def test_cvss4_malformed_vectors_exit_2_naming_the_metric(vector, needle):
    proc = mlsec("audit-deps", "score", vector, check=2)
    assert needle in proc.stderr, proc.stderr


# ---------------------------------------------------------------- hostile inputs

def test_hostile_inputs_exit_2_with_a_clear_message(tmp_path):
    req = tmp_path / "r.txt"
    req.write_text("jinja2==3.1.6\n")
    empty = tmp_path / "empty-db"
    empty.mkdir()
    proc = mlsec("audit-deps", "--osv", empty, "--requirements", req, check=2)
    assert "no OSV records" in proc.stderr
    proc = mlsec("audit-deps", "--osv", tmp_path / "missing", "--requirements", req, check=2)
    assert "missing" in proc.stderr

    bad_db = tmp_path / "bad-db"
    bad_db.mkdir()
    (bad_db / "GHSA-bad.json").write_text('{"id": "GHSA-bad", "affected": [{"package": ')
    proc = mlsec("audit-deps", "--osv", bad_db, "--requirements", req, check=2)
    assert "GHSA-bad.json" in proc.stderr
    (bad_db / "GHSA-bad.json").write_text('{"id": "GHSA-bad", "affected": [{"package": {"ecosystem": "PyPI", '
                                          '"name": "x"}, "ranges": [{"type": "ECOSYSTEM", "events": [{"fixed": 1}]}]}]}')
    proc = mlsec("audit-deps", "--osv", bad_db, "--requirements", req, check=2)
    assert "GHSA-bad.json" in proc.stderr and "event" in proc.stderr
    (bad_db / "GHSA-bad.json").write_bytes(b"\xff\xfe" * 100)
    mlsec("audit-deps", "--osv", bad_db, "--requirements", req, check=2)
    (bad_db / "GHSA-bad.json").write_text("[" * 100000)
    mlsec("audit-deps", "--osv", bad_db, "--requirements", req, check=2)
    huge = bad_db / "GHSA-bad.json"
    with open(huge, "wb") as f:
        f.truncate(64 << 20)
    proc = mlsec("audit-deps", "--osv", bad_db, "--requirements", req, check=2)
    assert "limit" in proc.stderr

    big = tmp_path / "big.txt"
    with open(big, "wb") as f:
        f.truncate((64 << 20) + 1)
    proc = mlsec("audit-deps", "--osv", OSV, "--requirements", big, check=2)
    assert "limit" in proc.stderr
    for text, needle in [("jinja2==1.0-SNAPSHOT\n", "r.txt:1"), ("jinja2 == 2.10 ; os_name == 'nt'\n@@@\n", "r.txt:2"),
                         ("jinja2==3.1.6 \\\n  --hash=sha256:00\n-r r.txt\n", "includes itself"),
                         ("\x00\x00==1.0\n", "r.txt:1")]:
        req.write_text(text)
        proc = mlsec("audit-deps", "--osv", OSV, "--requirements", req, check=2)
        assert needle in proc.stderr, (text, proc.stderr)
    resolved = tmp_path / "Package.resolved"
    for text in ["{", '{"version": 9, "pins": []}', '{"version": 2, "pins": [{"location": "https://x/y", '
                 '"kind": "remoteSourceControl", "state": {"version": "not.a.version"}}]}', '{"version": 2}']:
        resolved.write_text(text)
        proc = mlsec("audit-deps", "--osv", OSV, "--package-resolved", resolved, check=2)
        assert "Package.resolved" in proc.stderr, proc.stderr
    bom = tmp_path / "bom.json"
    bom.write_text('{"bomFormat": "CycloneDX", "components": [{"purl": "pkg:pypi/%zz@1"}]}')
    proc = mlsec("audit-deps", "--osv", OSV, "--sbom", bom, check=2)
    assert "package URL" in proc.stderr
    proc = mlsec("audit-deps", "--osv", OSV, check=2)
    assert "--requirements" in proc.stderr
