#!/usr/bin/env bash
# Proves that the trimmed Protos/ and the generated Sources/EnvoyAPI are wire-compatible with
# Envoy's real ext_authz v3 API and gRPC health. Standalone; touches nothing in the repo.
#
#   bash scripts/check-protos-wire.sh
#
# 1. Descriptors: every message, field, enum value and rpc in Protos/ has the upstream name, number,
#    type, label, oneof and JSON name (compared with the descriptors compiled into PyPI xds-protos
#    and grpcio-health-checking, i.e. Envoy's and gRPC's own .proto files).
# 2. Build: copies Sources/EnvoyAPI plus scripts/protos-wire-check/{Package.swift,WireCheck.swift}
#    into a scratch package at $WORK_DIR (default /tmp/envoyapi-check, outside the repo) and builds
#    EnvoyAPI in Swift 6 language mode with complete strict concurrency and warnings as errors.
# 3. Python -> Swift: Envoy's stubs encode a CheckRequest (source/destination principal and
#    address, HTTP method/path/host/headers/header_map/raw_body, time, context_extensions,
#    tls_session.sni); WireCheck decodes it with the generated types; every field must match, and
#    Swift's re-encoding and proto3 JSON must parse back (with Envoy's stubs) to the same message.
# 4. Swift -> Python: WireCheck encodes a denied CheckResponse (PERMISSION_DENIED, 403, headers with
#    append=false, body, dynamic_metadata), an ok one (headers, headers_to_remove,
#    response_headers_to_add, query parameters) and a HealthCheckResponse; Envoy's stubs must decode
#    them to exactly the expected messages with no unknown fields and re-encode them byte for byte.
#
# Needs: swift (6.x), protoc (apt-get install protobuf-compiler), and a Python with xds-protos and
# grpcio-health-checking: $PYTHON if set, else the repo's .venv (scripts/e2e-env.sh) if it has
# them, else a venv it creates at $CHECK_VENV (default /tmp/protos-wire-venv) from PyPI.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
HERE="$REPO/scripts/protos-wire-check"
WORK_DIR="${WORK_DIR:-/tmp/envoyapi-check}"
CHECK_VENV="${CHECK_VENV:-/tmp/protos-wire-venv}"
export PROTOC="${PROTOC:-protoc}" WKT_INCLUDE="${WKT_INCLUDE:-/usr/include}"

has_stubs() { "$1" -c 'import envoy.service.auth.v3.external_auth_pb2, grpc_health.v1.health_pb2' 2>/dev/null; }
if [ -z "${PYTHON:-}" ]; then
  if [ -x "$REPO/.venv/bin/python" ] && has_stubs "$REPO/.venv/bin/python"; then
    PYTHON="$REPO/.venv/bin/python"
  else
    if ! { [ -x "$CHECK_VENV/bin/python" ] && has_stubs "$CHECK_VENV/bin/python"; }; then
      echo "wire-check: creating $CHECK_VENV (xds-protos, grpcio-health-checking)"
      python3 -m venv "$CHECK_VENV"
      "$CHECK_VENV/bin/python" -m pip install -q --disable-pip-version-check \
        xds-protos==1.85.0 grpcio-health-checking==1.85.1 protobuf==7.36.2
    fi
    PYTHON="$CHECK_VENV/bin/python"
  fi
fi
has_stubs "$PYTHON" || { echo "wire-check: $PYTHON lacks xds-protos / grpcio-health-checking" >&2; exit 1; }

# 1. descriptors
"$PYTHON" "$HERE/wire_check.py" descriptors "$REPO/Protos"

# 2. scratch package outside the repo
case "$WORK_DIR/" in "$REPO"/*) echo "wire-check: WORK_DIR must be outside the repo" >&2; exit 1 ;; esac
mkdir -p "$WORK_DIR/Sources/WireCheck"
rm -rf "$WORK_DIR/Sources/EnvoyAPI"
cp -R "$REPO/Sources/EnvoyAPI" "$WORK_DIR/Sources/EnvoyAPI"
cp "$HERE/Package.swift" "$WORK_DIR/Package.swift"
cp "$HERE/WireCheck.swift" "$WORK_DIR/Sources/WireCheck/main.swift"
echo "wire-check: building $WORK_DIR (EnvoyAPI: Swift 6, strict concurrency, warnings as errors)"
if ! swift build --package-path "$WORK_DIR" --product WireCheck >"$WORK_DIR/build.log" 2>&1; then
  grep -E 'error|warning' "$WORK_DIR/build.log" | head -50 >&2 || tail -50 "$WORK_DIR/build.log" >&2
  echo "wire-check: FAIL: scratch build (log: $WORK_DIR/build.log)" >&2
  exit 1
fi
tail -1 "$WORK_DIR/build.log"
BIN="$(swift build --package-path "$WORK_DIR" --show-bin-path)/WireCheck"

# 3 + 4. both directions
DATA="$WORK_DIR/data"
rm -rf "$DATA" && mkdir -p "$DATA"
"$PYTHON" "$HERE/wire_check.py" make-request "$DATA"
"$BIN" "$DATA"
"$PYTHON" "$HERE/wire_check.py" verify "$DATA"
echo "wire-check: OK"
