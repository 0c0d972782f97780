"""Start-up (issue 15, docs/scanning.md "Start-up"): `mlsec --version` and `mlsec scan PATH...` skip the argument
parser, so they must answer exactly as the parsed forms do; and the release binary keeps its start-up levers
(the executable's symbols not exported) with its hardening (PIE, full RELRO)."""
import json
import pathlib
import shutil
import subprocess
import signal
import sys

import pytest

from conftest import ROOT, mlsec, mlsec_bin, serve


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    out = tmp_path_factory.mktemp("corpus")
    subprocess.run([sys.executable, str(ROOT / "interop" / "scan_corpus" / "make_corpus.py"), str(out)], check=True,
                   capture_output=True)
    return out, json.loads((out / "expected.json").read_text())


def test_version_without_the_parser():
    proc = mlsec("--version")
    assert proc.returncode == 0 and proc.stderr == ""
    assert proc.stdout.strip() and proc.stdout.count("\n") == 1 and " " not in proc.stdout.strip()
    # `--version` with anything after it goes to the parser, which prints the same.
    parsed = mlsec("--version", "extra")
    assert (parsed.returncode, parsed.stdout) == (0, proc.stdout)


def test_plain_scan_answers_as_the_parsed_scan(corpus, tmp_path):
    out, expected = corpus
    samples = sorted(expected)
    assert len(samples) > 40
    cases = [[out / rel] for rel in samples]
    cases += [[out / "benign"], [out], [out / samples[0], out / samples[-1]], [tmp_path / "does-not-exist"]]
    for paths in cases:
        fast = mlsec("scan", *paths)  # paths only: no argument parser
        parsed = mlsec("scan", "--format", "text", *paths)  # an option: the argument parser and its defaults
        assert (fast.returncode, fast.stdout, fast.stderr) == (parsed.returncode, parsed.stdout, parsed.stderr), paths
    # The parsed form's other defaults: no --strict, no --policy, no --output.
    unsupported = tmp_path / "README.md"
    unsupported.write_text("not a model\n")
    assert mlsec("scan", unsupported).returncode == mlsec("scan", "--format", "text", unsupported).returncode == 0
    assert mlsec("scan", "--strict", unsupported).returncode == 1


def test_scan_usage_errors_still_come_from_the_parser():
    proc = mlsec("scan")
    assert proc.returncode == 2 and "path" in proc.stderr
    proc = mlsec("scan", "--no-such-option", "x")
    assert proc.returncode == 2 and "no-such-option" in proc.stderr


@pytest.mark.skipif(sys.platform != "linux" or not shutil.which("readelf"), reason="ELF checks need Linux and readelf")
def test_release_binary_keeps_its_hardening_and_a_static_runtime(tmp_path):
    binary = mlsec_bin()
    dynamic = subprocess.run(["readelf", "-d", "-W", binary], capture_output=True, text=True, check=True).stdout
    needed = [line.split("[", 1)[1].rstrip("]") for line in dynamic.splitlines() if "(NEEDED)" in line]
    # The Swift runtime and Foundation are linked in (14 shared libraries fewer to load and bind at start).
    assert not any("swift" in lib or "Foundation" in lib or "dispatch" in lib for lib in needed), needed
    # Statically linked, the runtime's swift_task_enqueueGlobal_hook is hidden from NIO's dlsym; `mlsec serve` must
    # still hand Swift Concurrency to NIO's event loops (ExecutorTakeover), and says so when it cannot.
    state = tmp_path / "state"
    proc, _ = serve(["--demo", "--state-dir", state, "--port", "0"], tmp_path / "demo.log")
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=30)
    assert "executor stays" not in (tmp_path / "demo.log").read_text()
    assert "BIND_NOW" in dynamic and "PIE" in dynamic, dynamic  # full RELRO with the GNU_RELRO segment below
    segments = subprocess.run(["readelf", "-l", "-W", binary], capture_output=True, text=True, check=True).stdout
    assert "GNU_RELRO" in segments
    # Symbols not exported: the Swift runtime's dladdr at start scans every exported symbol (60,000 exported
    # cost 0.6 ms a run); the executable imports a few thousand and exports almost none.
    symbols = subprocess.run(["readelf", "--dyn-syms", "-W", binary], capture_output=True, text=True, check=True).stdout
    assert symbols.count("\n") < 5_000, symbols.count("\n")


def test_every_command_names_itself():
    """A command without `commandName:` makes the argument parser derive its name with String(describing:), whose
    protocol checks scan every conformance record of the binary at each start (docs/scanning.md, step 3)."""
    import re
    unnamed = []
    for source in sorted((ROOT / "Sources" / "mlsec").rglob("*.swift")):
        text = source.read_text()
        for match in re.finditer(r"CommandConfiguration\(", text):
            head = text[match.end():match.end() + 200].lstrip()
            if not head.startswith("commandName:"):
                unnamed.append(f"{source.relative_to(ROOT)}:{text[:match.start()].count(chr(10)) + 1}")
    assert not unnamed, "commands without commandName: " + ", ".join(unnamed)
