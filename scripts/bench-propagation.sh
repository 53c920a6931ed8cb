#!/usr/bin/env bash
# Policy propagation from a control-plane write to the authorizer applying it (SPEC section 13:
# <= 1 s). Uses the release binary (built if missing) and the e2e venv.
#   scripts/bench-propagation.sh [--rounds N] [--json]
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
bash scripts/e2e-env.sh >/dev/null
if [ -z "${REMIT_BIN:-}" ]; then
  swift build -c release --product remit --scratch-path .build-release >/dev/null
  export REMIT_BIN="$(swift build -c release --scratch-path .build-release --show-bin-path)/remit"
fi
exec "${REMIT_E2E_VENV:-$REPO/.venv}/bin/python" scripts/bench_propagation.py "$@"
