#!/usr/bin/env bash
# Instructions per operation of the in-process benchmarks, with callgrind: stable across machines
# and load, unlike times. Each figure is the difference of a short and a long run of the same
# case, so the policy compile at start-up cancels out.
#   scripts/bench-instructions.sh                      the cases BENCHMARKS.md reports
#   scripts/bench-instructions.sh profile ids          top self costs inside DecisionEngine.decide
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO/Benchmarks"
if ! command -v valgrind >/dev/null 2>&1; then
  as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
  as_root apt-get install -y -q valgrind
fi
swift build -c release --product DecisionMean >/dev/null
swift build -c release --product CheckMean >/dev/null
bin="$(swift build -c release --show-bin-path)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# Stripped of debug info, so valgrind starts quickly; symbols stay for the profile.
strip --strip-debug -o "$work/DecisionMean" "$bin/DecisionMean"
strip --strip-debug -o "$work/CheckMean" "$bin/CheckMean"

# Swift seeds its hash per process; a fixed seed makes dictionary probes, and so the counts, repeat.
export SWIFT_DETERMINISTIC_HASHING=1
refs() { valgrind --tool=callgrind --callgrind-out-file="$work/out" "$@" 2>&1 | grep -o 'refs: *[0-9,]*' | tr -d ', ' | cut -d: -f2; }
per() { # TOOL CASE
  local short long
  short=$(refs "$work/$1" 1000 "$2")
  long=$(refs "$work/$1" 5000 "$2")
  printf '%-28s %8d instructions\n' "$1 $2" $(((long - short) / 4000))
}

if [ "${1:-}" = profile ]; then
  valgrind --tool=callgrind --toggle-collect='$s11RemitEngine08DecisionB0V6decide*' \
    --callgrind-out-file="$work/profile" "$work/DecisionMean" 2000 "${2:-ids}" >/dev/null 2>&1
  callgrind_annotate "$work/profile" 2>/dev/null | awk 'NR>20 && $1 ~ /^[0-9,]+$/ {gsub(",","",$1); printf "%8d  %s\n", $1/3000, $(NF-1)}' | head -40
  exit 0
fi
for name in ids prose identity_unmapped; do per DecisionMean "$name"; done
for name in decode-message decode-bytes engine encode check-bytes check-message noop; do per CheckMean "$name"; done
