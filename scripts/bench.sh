#!/usr/bin/env bash
# Reruns the in-process benchmarks BENCHMARKS.md reports (release mode, ordo-one/benchmark).
#   scripts/bench.sh              all targets
#   scripts/bench.sh Decision     one target (ContentScan, Decision)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../Benchmarks"
targets=("${@:-ContentScan Decision}")
for target in ${targets[@]}; do
  swift package --allow-writing-to-package-directory benchmark --target "$target" --format markdown
done
swift build -c release --product DecisionMean
"$(swift build -c release --show-bin-path)/DecisionMean"
