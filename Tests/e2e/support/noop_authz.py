#!/usr/bin/env python3
"""A no-op Envoy ext_authz v3 gRPC server: every Check is allowed (status OK, empty ok_response).

Reusable by the end-to-end suite (to validate the Envoy topology without Remit) and by benchmarks
(the baseline "what does an ext_authz hop cost" server). Uses Envoy's own generated stubs from the
`xds-protos` package and serves `grpc.health.v1.Health` (SERVING) on the same port.

    python Tests/e2e/support/noop_authz.py --port 9191 [--host 127.0.0.1] [--workers 8] [--log-requests]

It prints `noop-authz listening on HOST:PORT` once it is serving (use --port 0 for any free port).
`--log-requests` prints every CheckRequest as one JSON line (proto3 JSON mapping) to stdout.

In process: `NoopAuthz(port=0, record=True).start()`, then `.requests`, `.wait_for(n)`, `.stop()`.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from concurrent import futures
from typing import Optional

import grpc
from envoy.service.auth.v3 import external_auth_pb2, external_auth_pb2_grpc
from google.protobuf import json_format
from google.rpc import code_pb2, status_pb2
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

AUTHZ_SERVICE = "envoy.service.auth.v3.Authorization"


class _AuthorizationServicer(external_auth_pb2_grpc.AuthorizationServicer):
    def __init__(self, owner: "NoopAuthz"):
        self._owner = owner

    def Check(self, request, context):  # noqa: N802 - gRPC method name
        self._owner._observe(request)
        return external_auth_pb2.CheckResponse(
            status=status_pb2.Status(code=code_pb2.OK),
            ok_response=external_auth_pb2.OkHttpResponse(),
        )


class NoopAuthz:
    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        workers: int = 8,
        record: bool = False,
        log_requests: bool = False,
        max_recorded: int = 1000,
    ):
        self.host = host
        self.requested_port = port
        self.workers = workers
        self.record = record
        self.log_requests = log_requests
        self.max_recorded = max_recorded
        self.port: Optional[int] = None
        self._server: Optional[grpc.Server] = None
        self._cond = threading.Condition()
        self._requests: list = []
        self.count = 0

    def _observe(self, request) -> None:
        with self._cond:
            self.count += 1
            if self.record:
                self._requests.append(request)
                if len(self._requests) > self.max_recorded:
                    del self._requests[0]
            self._cond.notify_all()
        if self.log_requests:
            line = json_format.MessageToJson(request, indent=None, preserving_proto_field_name=False)
            sys.stdout.write(line + "\n")
            sys.stdout.flush()

    @property
    def requests(self) -> list:
        with self._cond:
            return list(self._requests)

    def clear(self) -> None:
        with self._cond:
            self._requests.clear()

    def wait_for(self, n: int, timeout: float = 5.0) -> list:
        """Wait until at least `n` CheckRequests were recorded; returns them."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self._requests) < n:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"expected {n} CheckRequests, got {len(self._requests)}")
                self._cond.wait(left)
            return list(self._requests)

    def start(self) -> "NoopAuthz":
        # so_reuseport off: a second server on the same port must fail, not share it silently.
        server = grpc.server(
            futures.ThreadPoolExecutor(max_workers=self.workers),
            options=[("grpc.so_reuseport", 0)],
        )
        external_auth_pb2_grpc.add_AuthorizationServicer_to_server(_AuthorizationServicer(self), server)
        health_servicer = health.HealthServicer()
        health_servicer.set("", health_pb2.HealthCheckResponse.SERVING)
        health_servicer.set(AUTHZ_SERVICE, health_pb2.HealthCheckResponse.SERVING)
        health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
        port = server.add_insecure_port(f"{self.host}:{self.requested_port}")
        if port == 0:
            raise RuntimeError(f"noop-authz: cannot bind {self.host}:{self.requested_port}")
        server.start()
        self.port = port
        self._server = server
        return self

    def stop(self, grace: float = 0.5) -> None:
        if self._server is not None:
            self._server.stop(grace).wait(grace + 5)
            self._server = None

    def wait(self) -> None:
        if self._server is not None:
            self._server.wait_for_termination()


def main(argv: Optional[list] = None) -> int:
    parser = argparse.ArgumentParser(description="No-op Envoy ext_authz v3 gRPC server (always allow).")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, required=True, help="port to bind (0 = any free port)")
    parser.add_argument("--workers", type=int, default=8, help="handler threads (default 8)")
    parser.add_argument("--log-requests", action="store_true", help="print each CheckRequest as a JSON line")
    args = parser.parse_args(argv)

    server = NoopAuthz(host=args.host, port=args.port, workers=args.workers, log_requests=args.log_requests)
    server.start()
    print(f"noop-authz listening on {args.host}:{server.port}", flush=True)

    stop = threading.Event()

    def _on_signal(signum, frame):
        stop.set()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    stop.wait()
    server.stop()
    print(f"noop-authz stopped after {server.count} checks", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
