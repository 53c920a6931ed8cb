#!/usr/bin/env bash
# Reruns the in-process benchmarks BENCHMARKS.md reports (release mode, ordo-one/benchmark, then
# DecisionMean, CheckMean and ScanMean; instruction counts: scripts/bench-instructions.sh).
#   scripts/bench.sh              all targets
#   scripts/bench.sh Decision     one target (ContentScan, Decision)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../Benchmarks"
targets=("${@:-ContentScan Decision}")
for target in ${targets[@]}; do
  swift package --allow-writing-to-package-directory benchmark --target "$target" --format markdown
done
swift build -c release --product DecisionMean
swift build -c release --product CheckMean
swift build -c release --product ScanMean
"$(swift build -c release --show-bin-path)/DecisionMean" 100000
"$(swift build -c release --show-bin-path)/CheckMean" 50000
"$(swift build -c release --show-bin-path)/ScanMean" 3000
