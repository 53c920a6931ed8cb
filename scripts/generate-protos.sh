#!/usr/bin/env bash
# Regenerates Sources/EnvoyAPI from the trimmed .proto files in Protos/.
#
#   bash scripts/generate-protos.sh            # trim the protos again and regenerate the Swift code
#
# Needs: Debian's `protoc` (protobuf-compiler, which also ships the well-known types under
# /usr/include), the venv from scripts/e2e-env.sh (xds-protos and grpcio-health-checking carry
# Envoy's and gRPC's descriptors), and the two Swift plugins, built from this package's own
# dependencies unless PROTOC_GEN_SWIFT / PROTOC_GEN_GRPC_SWIFT point at prebuilt ones. Building the
# plugins takes several minutes, which is why the generated code is committed and the normal build
# never runs this script.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"

command -v protoc >/dev/null || { echo "protoc not found: apt-get install protobuf-compiler" >&2; exit 1; }
[ -x .venv/bin/python ] || bash scripts/e2e-env.sh

.venv/bin/python scripts/trim-envoy-protos.py Protos

if [ -z "${PROTOC_GEN_SWIFT:-}" ] || [ -z "${PROTOC_GEN_GRPC_SWIFT:-}" ]; then
  swift build --product protoc-gen-swift
  swift build --product protoc-gen-grpc-swift-2
  BIN="$(swift build --show-bin-path)"
  PROTOC_GEN_SWIFT="${PROTOC_GEN_SWIFT:-$BIN/protoc-gen-swift}"
  PROTOC_GEN_GRPC_SWIFT="${PROTOC_GEN_GRPC_SWIFT:-$BIN/protoc-gen-grpc-swift-2}"
fi

OUT=Sources/EnvoyAPI
find "$OUT" \( -name '*.pb.swift' -o -name '*.grpc.swift' \) -delete
mapfile -t PROTOS < <(cd Protos && find . -name '*.proto' | sed 's|^\./||' | sort)
protoc \
  --proto_path=Protos --proto_path=/usr/include \
  --plugin=protoc-gen-swift="$PROTOC_GEN_SWIFT" \
  --swift_out="$OUT" \
  --swift_opt=Visibility=Public,FileNaming=PathToUnderscores \
  --plugin=protoc-gen-grpc-swift="$PROTOC_GEN_GRPC_SWIFT" \
  --grpc-swift_out="$OUT" \
  --grpc-swift_opt=Visibility=Public,Server=true,Client=true,FileNaming=PathToUnderscores \
  "${PROTOS[@]}"
# Files for protos without services hold no code.
for file in "$OUT"/*.grpc.swift; do
  grep -q "ServiceDescriptor" "$file" || rm "$file"
done
ls "$OUT"
