#!/usr/bin/env bash
# Runs Remit's whole test suite on a fresh machine (this is what .ci/run calls):
#   1. installs what the tests need (Python venv with Envoy 1.40, xds-protos, grpcio; see
#      scripts/e2e-env.sh),
#   2. builds the package and runs the Swift test suites (swift-testing),
#   3. runs the control plane's store and API suite again against a private PostgreSQL server
#      (Debian's postgresql, installed if missing; scripts/test-control-plane-postgres.sh),
#   4. runs the end-to-end suite through real Envoy sidecars against the `remit` binary,
#   5. builds the benchmark package (release) and runs every benchmark for a few iterations,
#   6. runs each libFuzzer target for 15 s (scripts/fuzz.sh) and the memory, gRPC, Envoy and
#      propagation benchmarks in smoke form, and a 30 s soak through Envoy (scripts/soak.py).
# Exit code is non-zero if anything failed. Set REMIT_SKIP_E2E=1 to run only the Swift suites
# while developing (CI never sets it).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"

step() { printf '\n==> %s\n' "$*"; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
failures=()

step "environment"
# Build dependency: the system zlib (gzip/deflate bodies are decoded with it).
if [ ! -f /usr/include/zlib.h ]; then
  echo "test: installing zlib1g-dev"
  export DEBIAN_FRONTEND=noninteractive
  as_root apt-get update -q
  as_root apt-get install -y -q zlib1g-dev
fi
bash scripts/e2e-env.sh

step "swift build (debug, with tests)"
swift build --build-tests 2>&1 | grep -vE '^\[[0-9]+/[0-9]+\] (Compiling|Write|Linking)' || true
# grep swallowed the exit status: build again to get it (a no-op when the first build succeeded).
swift build --build-tests >/dev/null

step "swift test"
set +e
swift test --skip-build 2>&1 | tee /tmp/remit-swift-test.log
swift_status=${PIPESTATUS[0]}
set -e
[ "$swift_status" -eq 0 ] || failures+=("swift test")
# swift-testing's closing line: "Test run with N tests in M suites passed|failed ... (with K issues)".
swift_total=$(grep -oE 'Test run with [0-9]+ test' /tmp/remit-swift-test.log | tail -1 | grep -oE '[0-9]+' || echo 0)
swift_failed=$(grep -cE '^✘ Test .*(failed|recorded)' /tmp/remit-swift-test.log || true)

step "control plane on PostgreSQL (a private server on loopback)"
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  echo "test: installing postgresql"
  export DEBIAN_FRONTEND=noninteractive
  as_root apt-get update -q
  as_root apt-get install -y -q postgresql
fi
set +e
bash scripts/test-control-plane-postgres.sh --skip-build 2>&1 | tee /tmp/remit-postgres-test.log
postgres_status=${PIPESTATUS[0]}
set -e
[ "$postgres_status" -eq 0 ] || failures+=("control plane on PostgreSQL")
postgres_total=$(grep -oE 'Test run with [0-9]+ test' /tmp/remit-postgres-test.log | tail -1 | grep -oE '[0-9]+' || echo 0)
postgres_failed=$(grep -cE '^✘ Test .*(failed|recorded)' /tmp/remit-postgres-test.log || true)
swift_total=$(( swift_total + postgres_total ))
swift_failed=$(( swift_failed + postgres_failed ))

if [ "${REMIT_SKIP_E2E:-0}" != 1 ]; then
  step "end-to-end through real Envoy"
  export REMIT_BIN="$REPO/.build/debug/remit"
  set +e
  E2E_SKIP_ENV=1 bash Tests/e2e/run.sh 2>&1 | tee /tmp/remit-e2e.log
  e2e_status=${PIPESTATUS[0]}
  set -e
  [ "$e2e_status" -eq 0 ] || failures+=("e2e")
  e2e_passed=$(grep -oE '[0-9]+ passed' /tmp/remit-e2e.log | tail -1 | grep -oE '[0-9]+' || echo 0)
  e2e_failed=$(grep -oE '[0-9]+ (failed|error)' /tmp/remit-e2e.log | tail -1 | grep -oE '[0-9]+' || echo 0)
fi

step "benchmarks (smoke: a few iterations each, release build; figures meaningless)"
# Keeps the benchmark package building and each benchmark running, including the checks that
# every deny benchmark still denies with its reason. The real runs: scripts/bench.sh.
set +e
(cd Benchmarks && REMIT_BENCH_SMOKE=1 swift package --allow-writing-to-package-directory benchmark --no-progress \
  > /tmp/remit-bench-smoke.log 2>&1)
bench_status=$?
set -e
tail -n 3 /tmp/remit-bench-smoke.log
[ "$bench_status" -eq 0 ] || failures+=("benchmarks smoke (see /tmp/remit-bench-smoke.log)")

step "fuzz (short: 15 s per target, address sanitizer; the full runs: scripts/fuzz.sh 600)"
set +e
bash scripts/fuzz.sh 15 > /tmp/remit-fuzz.log 2>&1
fuzz_status=$?
set -e
grep -E '^fuzz:|number_of_executed_units' /tmp/remit-fuzz.log || tail -n 5 /tmp/remit-fuzz.log
[ "$fuzz_status" -eq 0 ] || failures+=("fuzz (see /tmp/remit-fuzz.log)")

if [ "${REMIT_SKIP_E2E:-0}" != 1 ]; then
  step "memory benchmark (smoke: 100 agents, 2 s of load, debug build; figures meaningless)"
  set +e
  REMIT_BIN="$REPO/.build/debug/remit" "${REMIT_E2E_VENV:-$REPO/.venv}/bin/python" scripts/bench_memory.py --agents 100 --seconds 2 \
    > /tmp/remit-bench-memory.log 2>&1
  memory_status=$?
  set -e
  cat /tmp/remit-bench-memory.log
  [ "$memory_status" -eq 0 ] || failures+=("memory benchmark smoke (see /tmp/remit-bench-memory.log)")

  step "gRPC and Envoy benchmarks (smoke: 1 round of 1 s each, debug build; figures meaningless)"
  # Keeps remit bench load / serve-noop and the Envoy topology of the benchmark working; the
  # real runs are scripts/bench-grpc.sh and scripts/bench-envoy.sh on the release binary.
  set +e
  REMIT_BIN="$REPO/.build/debug/remit" "${REMIT_E2E_VENV:-$REPO/.venv}/bin/python" scripts/bench_grpc.py --rounds 1 --seconds 1 \
    > /tmp/remit-bench-grpc.log 2>&1
  grpc_bench_status=$?
  REMIT_BIN="$REPO/.build/debug/remit" "${REMIT_E2E_VENV:-$REPO/.venv}/bin/python" scripts/bench_envoy.py --rounds 1 --seconds 1 --connections 1 \
    > /tmp/remit-bench-envoy.log 2>&1
  envoy_bench_status=$?
  set -e
  tail -n 3 /tmp/remit-bench-grpc.log /tmp/remit-bench-envoy.log
  [ "$grpc_bench_status" -eq 0 ] || failures+=("gRPC benchmark smoke (see /tmp/remit-bench-grpc.log)")
  [ "$envoy_bench_status" -eq 0 ] || failures+=("Envoy benchmark smoke (see /tmp/remit-bench-envoy.log)")

  step "propagation benchmark (smoke: 3 changes, debug build)"
  set +e
  REMIT_BIN="$REPO/.build/debug/remit" "${REMIT_E2E_VENV:-$REPO/.venv}/bin/python" scripts/bench_propagation.py --rounds 3 \
    > /tmp/remit-bench-propagation.log 2>&1
  propagation_status=$?
  set -e
  tail -n 3 /tmp/remit-bench-propagation.log
  [ "$propagation_status" -eq 0 ] || failures+=("propagation benchmark smoke (see /tmp/remit-bench-propagation.log)")

  step "soak through Envoy (short: 30 s at 0.7 of saturation, debug build; the full run: scripts/soak.sh)"
  # Unlike the smoke runs above this one judges: zero failed checks, flat memory, no fd growth.
  set +e
  REMIT_BIN="$REPO/.build/debug/remit" "${REMIT_E2E_VENV:-$REPO/.venv}/bin/python" scripts/soak.py --seconds 30 \
    > /tmp/remit-soak.log 2>&1
  soak_status=$?
  set -e
  tail -n 4 /tmp/remit-soak.log
  [ "$soak_status" -eq 0 ] || failures+=("soak (see /tmp/remit-soak.log)")
fi

passed=$(( swift_total - swift_failed + ${e2e_passed:-0} ))
failed=$(( swift_failed + ${e2e_failed:-0} ))
if [ "${#failures[@]}" -gt 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi

if [ "${#failures[@]}" -gt 0 ]; then
  printf '\nFAILED: %s\n' "${failures[*]}"
  echo "remit: $passed passed, $failed failed"
  exit 1
fi
printf '\nAll test suites passed.\n'
echo "remit: $passed passed, $failed failed"
