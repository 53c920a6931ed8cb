#!/usr/bin/env bash
# Regenerates the Swift code in Sources/EnvoyAPI from the trimmed .proto files in Protos/.
#
#   bash scripts/generate-protos.sh
#
# Protos/ is the source of truth: trimmed copies of Envoy's ext_authz v3 API (envoy.service.auth.v3
# plus the envoy.config.core.v3 / envoy.type.v3 / google.rpc messages it refers to) and of
# grpc.health.v1, with Envoy's package, message and field names and numbers. After editing them run
# this script, then scripts/check-protos-wire.sh (compares them with the upstream descriptors and
# round-trips real Envoy messages through the generated code). Commit Protos/ and Sources/EnvoyAPI:
# the normal build never runs protoc.
#
# Needs:
#   - protoc (Debian: apt-get install protobuf-compiler; its /usr/include/google/protobuf holds the
#     well-known types, which are not regenerated: SwiftProtobuf provides them). PROTOC overrides.
#   - the two Swift plugins, protoc-gen-swift (swift-protobuf 1.39.0) and protoc-gen-grpc-swift-2
#     (grpc-swift-protobuf 2.4.1). Point PROTOC_GEN_SWIFT / PROTOC_GEN_GRPC_SWIFT at prebuilt ones,
#     or leave them unset and the script builds both, once, in a scratch package in $PLUGIN_DIR
#     (default /tmp/protoc-plugins; about 10 minutes on 2 cores, later runs reuse it).
#
# Idempotent: it deletes the generated *.pb.swift / *.grpc.swift files in Sources/EnvoyAPI and
# writes them again; the same inputs give byte-identical output.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PROTOC="${PROTOC:-protoc}"
PLUGIN_DIR="${PLUGIN_DIR:-/tmp/protoc-plugins}"
SWIFT_PROTOBUF_VERSION=1.39.0
GRPC_SWIFT_PROTOBUF_VERSION=2.4.1
OUT="$REPO/Sources/EnvoyAPI"

command -v "$PROTOC" >/dev/null || { echo "protoc not found: apt-get install protobuf-compiler" >&2; exit 1; }
WKT_INCLUDE="${WKT_INCLUDE:-/usr/include}"
[ -f "$WKT_INCLUDE/google/protobuf/struct.proto" ] \
  || { echo "no google/protobuf/*.proto under $WKT_INCLUDE (set WKT_INCLUDE)" >&2; exit 1; }

build_plugins() {
  mkdir -p "$PLUGIN_DIR"
  cat > "$PLUGIN_DIR/Package.swift" <<EOF
// swift-tools-version:6.1
// Scratch package written by Remit's scripts/generate-protos.sh to build the protoc plugins.
import PackageDescription

let package = Package(
  name: "protoc-plugins",
  dependencies: [
    .package(url: "https://github.com/apple/swift-protobuf", exact: "$SWIFT_PROTOBUF_VERSION"),
    .package(url: "https://github.com/grpc/grpc-swift-protobuf", exact: "$GRPC_SWIFT_PROTOBUF_VERSION"),
  ],
  targets: []
)
EOF
  echo "generate-protos: building protoc-gen-swift and protoc-gen-grpc-swift-2 in $PLUGIN_DIR" >&2
  swift build --package-path "$PLUGIN_DIR" -c release --product protoc-gen-swift >&2
  swift build --package-path "$PLUGIN_DIR" -c release --product protoc-gen-grpc-swift-2 >&2
}

if [ -z "${PROTOC_GEN_SWIFT:-}" ] || [ -z "${PROTOC_GEN_GRPC_SWIFT:-}" ]; then
  BIN="$PLUGIN_DIR/.build/release"
  if [ ! -x "$BIN/protoc-gen-swift" ] || [ ! -x "$BIN/protoc-gen-grpc-swift-2" ]; then
    build_plugins
  fi
  PROTOC_GEN_SWIFT="${PROTOC_GEN_SWIFT:-$BIN/protoc-gen-swift}"
  PROTOC_GEN_GRPC_SWIFT="${PROTOC_GEN_GRPC_SWIFT:-$BIN/protoc-gen-grpc-swift-2}"
fi
for plugin in "$PROTOC_GEN_SWIFT" "$PROTOC_GEN_GRPC_SWIFT"; do
  [ -x "$plugin" ] || { echo "plugin not executable: $plugin" >&2; exit 1; }
done
echo "generate-protos: $("$PROTOC" --version), $("$PROTOC_GEN_SWIFT" --version), $("$PROTOC_GEN_GRPC_SWIFT" --version)" >&2

cd "$REPO"
mkdir -p "$OUT"
find "$OUT" -maxdepth 1 \( -name '*.pb.swift' -o -name '*.grpc.swift' \) -delete
mapfile -t PROTOS < <(cd Protos && find . -name '*.proto' | sed 's|^\./||' | LC_ALL=C sort)
# FileNaming=PathToUnderscores: envoy/service/auth/v3/external_auth.proto -> envoy_service_auth_v3_external_auth.pb.swift
"$PROTOC" \
  --proto_path=Protos --proto_path="$WKT_INCLUDE" \
  --plugin=protoc-gen-swift="$PROTOC_GEN_SWIFT" \
  --swift_out="$OUT" \
  --swift_opt=Visibility=Public,FileNaming=PathToUnderscores \
  --plugin=protoc-gen-grpc-swift="$PROTOC_GEN_GRPC_SWIFT" \
  --grpc-swift_out="$OUT" \
  --grpc-swift_opt=Visibility=Public,Server=true,Client=true,FileNaming=PathToUnderscores \
  "${PROTOS[@]}"
# protoc-gen-grpc-swift-2 writes a file for every .proto; the ones without a service hold no code.
for file in "$OUT"/*.grpc.swift; do
  grep -q "ServiceDescriptor" "$file" || rm "$file"
done
(cd "$OUT" && ls)
