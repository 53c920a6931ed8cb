#!/usr/bin/env bash
# Builds the release binary the Dockerfile ships (Swift standard library and Foundation linked
# statically) and runs it through a smoke test, so a release is never a binary nobody ran:
#   scripts/build-release.sh [OUT_DIR]          default OUT_DIR: dist/
# Then runs the end-to-end suite against it when REMIT_RELEASE_E2E=1 (the same tests CI runs
# against the debug build: REMIT_BIN=dist/remit Tests/e2e/run.sh).
# A release build from scratch takes 15-25 minutes on a 2-core machine; CI runs the debug build.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
OUT="${1:-dist}"
# A separate build folder, so a release build never waits for (or invalidates) the debug one.
SCRATCH="${REMIT_RELEASE_SCRATCH:-.build-release}"

swift build -c release --static-swift-stdlib --product remit --scratch-path "$SCRATCH"
BIN="$(swift build -c release --scratch-path "$SCRATCH" --show-bin-path)/remit"
mkdir -p "$OUT"
install -m 0755 "$BIN" "$OUT/remit"
# Symbols halve the size (measured: 233 MB -> 107 MB); crash reports still carry addresses.
strip "$OUT/remit"

echo "==> smoke test of $OUT/remit"
# Static Swift runtime: no libswift*.so / libFoundation*.so left to find at run time.
if ldd "$OUT/remit" | grep -E 'libswift|libFoundation|libdispatch'; then
  echo "release: the binary still links the Swift runtime dynamically" >&2
  exit 1
fi
"$OUT/remit" --help >/dev/null
"$OUT/remit" policy validate examples/policy.yaml
set +e
"$OUT/remit" check --policy examples/policy.yaml --request examples/requests/tools-call-allowed.json >/dev/null
allowed=$?
"$OUT/remit" check --policy examples/policy.yaml --request examples/requests/tools-call-denied.json >/dev/null
denied=$?
set -e
if [ "$allowed" -ne 0 ] || [ "$denied" -ne 3 ]; then
  echo "release: example decisions wrong (allowed exit $allowed, denied exit $denied)" >&2
  exit 1
fi
"$OUT/remit" mesh snippet >/dev/null
echo "release: $OUT/remit ($(du -h "$OUT/remit" | cut -f1)) passed the smoke test"

if [ "${REMIT_RELEASE_E2E:-0}" = 1 ]; then
  REMIT_BIN="$REPO/$OUT/remit" bash Tests/e2e/run.sh
fi
