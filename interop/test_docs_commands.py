"""Every `mlsec` command line in the README's and docs/' code blocks parses: each is run with MLSEC_PARSE_ONLY=1,
which makes mlsec parse and validate its arguments and exit without doing anything. Shell syntax around a command
(pipes, redirections, comments, `$(...)`) is cut away; a line written as a synopsis (`[--opt X]`, `...`) is skipped."""
import os
import re
import shlex
import subprocess

from conftest import ROOT, mlsec_bin

FENCE = re.compile(r"```(?:sh|bash|console|shell)\n(.*?)```", re.S)


def command_lines():
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for block in FENCE.findall(path.read_text()):
            text = re.sub(r"\\\n\s*", " ", block)  # continuation lines
            for line in text.splitlines():
                line = line.strip()
                if line.startswith("$ "):
                    line = line[2:]
                start = line.find("mlsec ")
                if start < 0 or (start > 0 and not re.search(r"(^|[|;&(]\s*|\$\(|^\w+=\S*\s+)$", line[:start])):
                    continue
                yield path.relative_to(ROOT), line[start:]


def argv(command):
    command = re.sub(r"\$\([^)]*\)", "VALUE", command)
    cut = []
    for token in shlex.split(command, comments=True):
        if token in ("|", "||", "&&", ";", "&") or token.startswith((">", "<", "2>")):
            break
        cut.append(token)
    return cut


def test_every_documented_mlsec_command_parses():
    checked, failures = 0, []
    for path, command in command_lines():
        if re.search(r"\[--|\.\.\.\]|<\w+>|\bPATH\b \[", command):
            continue  # a synopsis, not a command line
        args = argv(command)[1:]
        proc = subprocess.run([mlsec_bin(), *args], env=dict(os.environ, MLSEC_PARSE_ONLY="1"), capture_output=True,
                              text=True, timeout=30, stdin=subprocess.DEVNULL)
        checked += 1
        if proc.returncode != 0:
            failures.append(f"{path}: {command}\n    -> {proc.stderr.strip().splitlines()[-1:] }")
    assert checked >= 40, checked
    assert not failures, "\n".join(failures)
