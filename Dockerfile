# syntax=docker/dockerfile:1
# The remit binary (remit serve, remit control-plane, ...) in a minimal non-root image.
#
#   docker build -t remit:0.1.0 .
#
# Build stage: the official Swift image, Debian 12 variant, so that the binary's glibc matches
# the Debian 12 runtime below. The Swift standard library and Foundation are linked statically;
# what stays dynamic is glibc, libstdc++/libgcc and the system zlib (gzip/deflate bodies), all
# present in debian:12-slim.
ARG SWIFT_IMAGE=swift:6.3-bookworm
ARG RUNTIME_IMAGE=debian:12-slim

FROM ${SWIFT_IMAGE} AS build
RUN export DEBIAN_FRONTEND=noninteractive \
 && apt-get -q update \
 && apt-get -q install -y --no-install-recommends zlib1g-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# Dependencies first, so that a source change does not fetch them again.
COPY Package.swift ./
RUN swift package resolve
COPY Sources ./Sources
# SwiftPM checks every target of the manifest, test targets included, before building one product.
COPY Tests ./Tests
RUN swift build -c release --static-swift-stdlib --product remit \
 && install -D -m 0755 "$(swift build -c release --show-bin-path)/remit" /out/remit \
 && strip /out/remit

FROM ${RUNTIME_IMAGE}
RUN export DEBIAN_FRONTEND=noninteractive \
 && apt-get -q update \
 && apt-get -q install -y --no-install-recommends ca-certificates zlib1g \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 65532 remit \
 && useradd --system --uid 65532 --gid 65532 --home-dir /var/lib/remit --shell /usr/sbin/nologin remit \
 && install -d -o 65532 -g 65532 -m 0700 /var/lib/remit
COPY --from=build /out/remit /usr/local/bin/remit
# Numeric, so that Kubernetes' runAsNonRoot can verify it without reading /etc/passwd.
USER 65532:65532
WORKDIR /var/lib/remit
# gRPC ext_authz, admin (/healthz /readyz /metrics), control plane HTTP.
EXPOSE 9191 9901 8080
ENTRYPOINT ["/usr/local/bin/remit"]
CMD ["--help"]
