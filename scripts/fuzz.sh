#!/usr/bin/env bash
# Runs the libFuzzer targets in Fuzz/ (address sanitizer on) for a bounded time each:
#   scripts/fuzz.sh [SECONDS] [TARGET...]     default 60 s, every target
# Each target starts from its committed seed corpus (Fuzz/Corpus/<name>) and writes what it
# finds to a scratch corpus, so the committed one only changes by hand. A crash leaves
# crash-* in Fuzz/artifacts/ and fails the script; turn each into a regression test.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO/Fuzz"
seconds="${1:-60}"
shift || true
if [ "$#" -gt 0 ]; then
  targets=("$@")
else
  targets=(FuzzCheckRequest FuzzJSONBody FuzzWorkloadIdentity FuzzRequestPath FuzzBodyDecoder FuzzDLPScan FuzzPolicyDocument)
fi
# swiftc keeps only the last of several -sanitize= options, and SwiftPM passes `fuzzer` and
# `address` as two, in no fixed order: with `address` last the Swift code had no coverage
# counters and libFuzzer ran blind. One combined option gives Swift code both.
build=(swift build --sanitize fuzzer --sanitize address -Xswiftc -sanitize=fuzzer,address)
"${build[@]}" 2>&1 | grep -vE '^\[[0-9]+/[0-9]+\] (Compiling|Write|Linking)' || true
"${build[@]}" >/dev/null
bin="$("${build[@]}" --show-bin-path)"
mkdir -p artifacts
status=0
for target in "${targets[@]}"; do
  name="${target#Fuzz}"
  scratch="$(mktemp -d)"
  cp Corpus/"$name"/* "$scratch"/
  echo "fuzz: $target for ${seconds}s"
  # The Swift runtime's backtracer and the address sanitizer's report can deadlock on a crash:
  # the sanitizer's report is the one wanted. The outer timeout is a backstop.
  if ! SWIFT_BACKTRACE=enable=no LSAN_OPTIONS="suppressions=$REPO/Fuzz/lsan.supp" timeout --kill-after=10 "$((seconds + 120))" \
      "$bin/$target" -max_total_time="$seconds" -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
      -artifact_prefix=artifacts/ -print_final_stats=1 "$scratch" 2>&1 | tee "/tmp/fuzz-$target.log" \
      | grep -E 'stat::number_of_executed_units|stat::peak_rss_mb|ERROR|==ERROR|Fatal error|SUMMARY|#[0-9]+ *DONE'; then
    :
  fi
  if grep -qE '==ERROR|Fatal error|deadly signal|SUMMARY: libFuzzer' "/tmp/fuzz-$target.log"; then
    echo "fuzz: $target FOUND A CRASH (see Fuzz/artifacts/ and /tmp/fuzz-$target.log)"
    status=1
  elif ! grep -q 'stat::number_of_executed_units' "/tmp/fuzz-$target.log"; then
    echo "fuzz: $target did not finish its run (see /tmp/fuzz-$target.log)"
    status=1
  fi
  # Coverage-guided only if the Swift code has counters (tens of thousands; the C modules alone
  # have a few thousand): otherwise the run was random input, not fuzzing.
  counters="$(grep -oE 'Loaded [0-9]+ modules +\(([0-9]+) inline 8-bit counters' "/tmp/fuzz-$target.log" | grep -oE '\(([0-9]+)' | tr -d '(' | head -1)"
  echo "fuzz: $target coverage counters: ${counters:-none}"
  if [ "${counters:-0}" -lt 20000 ]; then
    echo "fuzz: $target ran without coverage of the Swift code (${counters:-no} counters)"
    status=1
  fi
  rm -rf "$scratch"
done
exit $status
