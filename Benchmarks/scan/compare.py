#!/usr/bin/env python3
"""Detection comparison over the scanner corpus: mlsec, picklescan, modelscan and fickling (its Python API).

  .venv/bin/python Benchmarks/scan/compare.py --tools-python /path/to/venv/bin/python [--mlsec PATH] [--corpus DIR]

The tools venv needs picklescan, modelscan and fickling (pip install picklescan modelscan fickling numpy). The
corpus is interop/scan_corpus/make_corpus.py's (built into a temporary folder unless --corpus is given). A sample
must be flagged when its expected verdict is unsafe or malformed, and must pass when it is clean or unsupported.
A tool flags a file when it exits with its "issues found" code (picklescan 1, modelscan 1; mlsec 1) or, for
fickling, when `scan_file(graceful=True)` rates it above LIKELY_SAFE or reports an error. Prints the totals and
the same table per corpus folder (the classes of issue 15 are under loaders/).
"""
import argparse
import collections
import json
import pathlib
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parents[2]

FICKLING = r"""
import json, sys
from fickling import scan_file
from fickling.analysis import Severity
out = {}
for path in sys.argv[1:]:
    try:
        result = scan_file(path, graceful=True)
        out[path] = bool(result.errors) or result.severity.severity > Severity.LIKELY_SAFE.severity
    except Exception as e:  # a crash on a hostile file counts as flagging it
        out[path] = True
print("FICKLING-RESULT " + json.dumps(out))
"""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tools-python", required=True)
    ap.add_argument("--mlsec", default=str(ROOT / ".build" / "release" / "mlsec"))
    ap.add_argument("--corpus")
    args = ap.parse_args()
    bindir = pathlib.Path(args.tools_python).parent
    corpus = pathlib.Path(args.corpus) if args.corpus else pathlib.Path(tempfile.mkdtemp(prefix="scan-corpus-"))
    if not args.corpus:
        subprocess.run([sys.executable, str(ROOT / "interop" / "scan_corpus" / "make_corpus.py"), str(corpus)],
                       check=True, capture_output=True)
    expected = json.loads((corpus / "expected.json").read_text())
    files = sorted(expected)
    report = json.loads(subprocess.run([args.mlsec, "scan", str(corpus), "--format", "json"], capture_output=True,
                                       text=True).stdout)
    mlsec = {str(pathlib.Path(f["path"]).relative_to(corpus)): f["verdict"] in ("unsafe", "malformed")
             for f in report["files"]}
    flagged = {"mlsec": mlsec, "picklescan": {}, "modelscan": {}}
    for rel in files:
        path = str(corpus / rel)
        flagged["picklescan"][rel] = subprocess.run([str(bindir / "picklescan"), "-p", path],
                                                    capture_output=True).returncode == 1
        flagged["modelscan"][rel] = subprocess.run([str(bindir / "modelscan"), "-p", path],
                                                   capture_output=True).returncode == 1
    out = subprocess.run([args.tools_python, "-c", FICKLING, *[str(corpus / r) for r in files]], capture_output=True,
                         text=True)
    fick = json.loads(next(l for l in out.stdout.splitlines() if l.startswith("FICKLING-RESULT ")).split(" ", 1)[1])
    flagged["fickling"] = {rel: fick[str(corpus / rel)] for rel in files}

    def table(selection, title):
        print(f"\n{title} ({len(selection)} samples)\n")
        print("| tool | caught | missed | false alarms | clean passed |\n|---|---|---|---|---|")
        for tool, marks in flagged.items():
            counts = collections.Counter()
            for rel in selection:
                must_flag = expected[rel]["verdict"] in ("unsafe", "malformed")
                got = marks.get(rel, False)
                counts[("caught" if got else "missed") if must_flag else ("false alarms" if got else "clean passed")] += 1
            print(f"| {tool} | {counts['caught']} | {counts['missed']} | {counts['false alarms']} | {counts['clean passed']} |")
    table(files, "Whole corpus")
    table([f for f in files if f.startswith("loaders/")], "Issue 15's classes (loaders/)")
    table([f for f in files if "template" in f or f.endswith(("tokenizer_config.json", ".jinja"))], "Chat templates")


if __name__ == "__main__":
    main()
