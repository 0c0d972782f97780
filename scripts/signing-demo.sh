#!/usr/bin/env bash
# MLSec's main job, end to end on a fresh machine: build, create a key, sign a model, verify it,
# then tamper with it and watch verification name the change. Everything happens in a temporary directory.
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release >&2
MLSEC="$PWD/.build/release/mlsec"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
mkdir -p model/sub
head -c 3000000 /dev/urandom > model/weights.bin
echo '{"architectures": ["demo"]}' > model/config.json
head -c 100000 /dev/urandom > model/sub/tokenizer.bin
set -x
"$MLSEC" keygen --algorithm p256 --private-key signing.pem --public-key signing.pub
"$MLSEC" sign model --private-key signing.pem --signature model.sig
"$MLSEC" verify model --signature model.sig --public-key signing.pub
printf 'x' | dd of=model/weights.bin bs=1 seek=12345 conv=notrunc status=none
echo 'print("surprise")' > model/sub/extra.py
"$MLSEC" verify model --signature model.sig --public-key signing.pub || echo "verification failed as it should (exit $?)"
