#!/usr/bin/env bash
# MLSec's main job on a fresh machine: build, then serve the bundled digits model over KServe V2 on
# 127.0.0.1:8000 with every control on (API keys, RBAC, rate limits, validation, signed receipts, audit log).
# State (SQLite key database, audit log, keys, the signed model, demo-credentials.json) goes to ./mlsec-demo.
# Extra arguments go to `mlsec serve`, e.g. scripts/demo.sh --port 8080.
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --product mlsec >&2
exec .build/release/mlsec serve --demo --state-dir mlsec-demo "$@"
