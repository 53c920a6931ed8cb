#!/usr/bin/env bash
# See scripts/bench_grpc.py for what it measures. Uses the release binary (built if missing) and the e2e venv.
#   scripts/bench-grpc.sh [--rounds N] [--seconds S] [--json] ...
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
bash scripts/e2e-env.sh >/dev/null
if [ -z "${REMIT_BIN:-}" ]; then
  swift build -c release --product remit --scratch-path .build-release >/dev/null
  export REMIT_BIN="$(swift build -c release --scratch-path .build-release --show-bin-path)/remit"
fi
exec "${REMIT_E2E_VENV:-$REPO/.venv}/bin/python" scripts/bench_grpc.py "$@"
