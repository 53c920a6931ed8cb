#!/usr/bin/env bash
# Resident memory of `remit serve` with the benchmark policy, idle and under load (SPEC section 13:
# <= 64 MiB with 10,000 agents). Uses the release binary dist/remit (built if missing; REMIT_BIN overrides) and the e2e venv.
#   scripts/bench-memory.sh [--agents N ...] [--seconds S] [--concurrency C] [--json]
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
bash scripts/e2e-env.sh >/dev/null
if [ -z "${REMIT_BIN:-}" ]; then
  # The binary that ships: static Swift runtime, stripped (scripts/build-release.sh).
  [ -x dist/remit ] || bash scripts/build-release.sh dist >/dev/null
  export REMIT_BIN="$REPO/dist/remit"
fi
exec "${REMIT_E2E_VENV:-$REPO/.venv}/bin/python" scripts/bench_memory.py "$@"
