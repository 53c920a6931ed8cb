#!/usr/bin/env bash
# See scripts/soak.py for what it checks. Uses the release binary dist/remit (built if missing; REMIT_BIN overrides) and the e2e venv.
#   scripts/soak.sh [--seconds S] [--fraction F] [--json] ...   (default 600 s at 0.7 of saturation)
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
bash scripts/e2e-env.sh >/dev/null
if [ -z "${REMIT_BIN:-}" ]; then
  # The binary that ships: static Swift runtime, stripped (scripts/build-release.sh).
  [ -x dist/remit ] || bash scripts/build-release.sh dist >/dev/null
  export REMIT_BIN="$REPO/dist/remit"
fi
exec "${REMIT_E2E_VENV:-$REPO/.venv}/bin/python" scripts/soak.py "$@"
