#!/usr/bin/env bash
# Run the end-to-end suite through real Envoy.
#   Tests/e2e/run.sh [pytest args...]        e.g.  Tests/e2e/run.sh -k routes
# Environment:
#   REMIT_BIN          Remit binary (default <repo>/.build/debug/remit); missing = errors, not skips
#   E2E_TEST_TIMEOUT   seconds per test phase (setup/call/teardown), default 60
#   E2E_SUITE_TIMEOUT  seconds for the whole run, default 600
#   E2E_KEEP_DIR       keep certificates, configs and logs under this directory
#   E2E_SKIP_ENV=1     do not (re)run scripts/e2e-env.sh first
# Only the topology tests (no Remit needed):  Tests/e2e/run.sh -m stub
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$REPO"
if [ "${E2E_SKIP_ENV:-0}" != 1 ]; then
  bash scripts/e2e-env.sh >&2
fi
export REMIT_BIN="${REMIT_BIN:-$REPO/.build/debug/remit}"
export PYTHONDONTWRITEBYTECODE=1
exec timeout --kill-after=10 "${E2E_SUITE_TIMEOUT:-600}" \
  "$REPO/.venv/bin/python" -m pytest Tests/e2e -q -rfEs --tb=short -p no:cacheprovider \
  -o console_output_style=classic "$@"
