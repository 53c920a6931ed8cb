#!/usr/bin/env bash
# Reruns every benchmark BENCHMARKS.md reports, in its order, on the release binary that ships
# (scripts/build-release.sh, built when dist/remit is missing or REMIT_BIN is unset):
#   scripts/bench-all.sh            full runs (about 25 minutes after the builds)
#   scripts/bench-all.sh --quick    one short round of each (a few minutes; figures rough)
# Each part can be run alone with the command named in BENCHMARKS.md.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
quick=0
[ "${1:-}" = --quick ] && quick=1
if [ -z "${REMIT_BIN:-}" ]; then
  [ -x dist/remit ] || bash scripts/build-release.sh dist
  export REMIT_BIN="$REPO/dist/remit"
fi
echo "==> machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) vCPU, $(free -g | awk '/Mem:/{print $2}') GiB; binary $REMIT_BIN"
if [ "$quick" = 1 ]; then
  (cd Benchmarks && REMIT_BENCH_SMOKE=1 swift package --allow-writing-to-package-directory benchmark --no-progress)
  bash scripts/bench-grpc.sh --rounds 1 --seconds 3
  bash scripts/bench-envoy.sh --rounds 1 --seconds 3 --connections 1
  bash scripts/bench-memory.sh --agents 10000 --seconds 5
  bash scripts/bench-propagation.sh --rounds 10
else
  bash scripts/bench.sh
  bash scripts/bench-instructions.sh
  bash scripts/bench-grpc.sh --rounds 3 --seconds 10
  bash scripts/bench-envoy.sh --rounds 5 --seconds 10 --connections 1
  bash scripts/bench-envoy.sh --rounds 5 --seconds 10 --connections 4
  bash scripts/bench-memory.sh
  bash scripts/bench-propagation.sh --rounds 50
fi
