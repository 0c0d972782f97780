#!/usr/bin/env bash
# Builds libFuzzer targets for the untrusted-format readers and runs each for a bounded time.
# Usage: scripts/fuzz.sh [SECONDS_PER_TARGET]   (default 60). Crashes are written to Fuzz/crashes/<target>/;
# commit each one as a regression test (Tests/MLSecFormatsTests) before fixing it.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
out=.build-fuzz
mkdir -p "$out" Fuzz/crashes
core=$(find Sources/MLSecCore -name '*.swift')
formats=$(find Sources/MLSecFormats -name '*.swift')
for target in pickle safetensors zip; do
  flag="FUZZ_$(echo "$target" | tr a-z A-Z)"
  echo "==> building fuzz-$target" >&2
  # MLSecCore and MLSecFormats are built as modules with coverage, then linked with libFuzzer's main.
  if [ ! -f "$out/MLSecFormats.swiftmodule" ]; then
    (cd "$out" && swiftc -O -sanitize=fuzzer,address -parse-as-library -module-name MLSecCore -emit-module \
      -emit-library -static $(printf '../%s ' $core) -o libMLSecCore.a)
    (cd "$out" && swiftc -O -sanitize=fuzzer,address -parse-as-library -module-name MLSecFormats -I . \
      -I ../Sources/CZlib -I ../Sources/CBZip2 -I ../Sources/CLZMA -emit-module -emit-library -static \
      $(printf '../%s ' $formats) -o libMLSecFormats.a)
  fi
  swiftc -O -sanitize=fuzzer,address -parse-as-library -module-name FuzzTarget -D "$flag" -I "$out" \
    -I Sources/CZlib -I Sources/CBZip2 -I Sources/CLZMA -L "$out" -lMLSecFormats -lMLSecCore -lz -lbz2 -llzma \
    Fuzz/FuzzTarget.swift -o "$out/fuzz-$target"
  mkdir -p "Fuzz/crashes/$target" "$out/corpus-$target"
  case "$target" in
    pickle) cp Tests/MLSecFormatsTests/Fixtures/pickle/*.pkl "$out/corpus-$target/" 2>/dev/null || true ;;
    safetensors) cp Tests/MLSecFormatsTests/Fixtures/*.safetensors "$out/corpus-$target/" 2>/dev/null || true ;;
    zip) cp Tests/MLSecFormatsTests/Fixtures/archives/*.zip "$out/corpus-$target/" 2>/dev/null || true ;;
  esac
  echo "==> fuzzing $target for ${seconds}s" >&2
  "$out/fuzz-$target" -max_total_time="$seconds" -rss_limit_mb=2048 -max_len=65536 \
    -artifact_prefix="Fuzz/crashes/$target/" "$out/corpus-$target"
done
