"""The system under test: a `remit serve` process on loopback, with its JSON-line stdout captured
to a file, readiness via gRPC health checking, and helpers to read decision log lines."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Callable, Optional

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from .procs import ManagedProcess, free_port, wait_until

DECISION_MESSAGE = "ext_authz decision"
DECISION_FIELDS = (
    "decision_id", "time", "surface", "verdict", "reason", "would_deny", "mode", "agent",
    "source_principal", "destination", "kind", "method", "path", "tool", "chain_id",
    "policy_version", "findings", "latency_us",
)


def repo_root() -> Path:
    return Path(__file__).resolve().parents[3]


def remit_binary() -> Path:
    return Path(os.environ.get("REMIT_BIN") or repo_root() / ".build" / "debug" / "remit")


class RemitMissing(RuntimeError):
    pass


def require_remit_binary() -> Path:
    path = remit_binary()
    if not (path.is_file() and os.access(path, os.X_OK)):
        raise RemitMissing(
            f"Remit binary not found or not executable: {path} "
            "(build it with `swift build`, or set REMIT_BIN). A missing binary is a failure, not a skip."
        )
    return path


def binary_or_fail() -> Path:
    """The Remit binary, or fail the current test (an error at setup, never a skip)."""
    import pytest

    try:
        return require_remit_binary()
    except RemitMissing as exc:
        message = str(exc)
    pytest.fail(message, pytrace=False)


def grpc_health(port: int, service: str = "", timeout: float = 1.0) -> int:
    """The grpc.health.v1 status of `service` on 127.0.0.1:port (raises on RPC failure)."""
    with grpc.insecure_channel(f"127.0.0.1:{port}") as ch:
        stub = health_pb2_grpc.HealthStub(ch)
        return stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=timeout).status


class Remit:
    """One `remit serve --policy FILE` run. `grpc_port` is fixed by the caller (the server sidecar's
    ext_authz cluster points at it); the admin port is chosen per run."""

    def __init__(self, workdir: Path, grpc_port: int, name: str = "remit", binary: Optional[Path] = None):
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.grpc_port = grpc_port
        self.admin_port: Optional[int] = None
        self.name = name
        self.binary = Path(binary) if binary else require_remit_binary()
        self.policy_path = self.workdir / "policy.yaml"
        self.process: Optional[ManagedProcess] = None

    # -- lifecycle -------------------------------------------------------------------------
    def start(self, policy_text: str, timeout: float = 30.0, extra_args: tuple = (),
              ready_via_admin: bool = False) -> "Remit":
        self.policy_path.write_text(policy_text)
        self.admin_port = free_port()
        argv = [
            self.binary, "serve",
            "--policy", self.policy_path,
            "--listen", f"127.0.0.1:{self.grpc_port}",
            "--admin-listen", f"127.0.0.1:{self.admin_port}",
            *extra_args,
        ]
        self.process = ManagedProcess(self.name, argv, self.workdir).start()

        def serving():
            if not self.process.alive():
                raise RuntimeError(f"remit exited with {self.process.returncode()}")
            if ready_via_admin:  # a TLS listener: the plaintext health client cannot speak to it
                import urllib.request
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{self.admin_port}/readyz", timeout=1) as r:
                        return r.status == 200
                except OSError:
                    return False
            return grpc_health(self.grpc_port) == health_pb2.HealthCheckResponse.SERVING

        try:
            wait_until(serving, timeout, interval=0.1, what=f"remit gRPC health SERVING on :{self.grpc_port}")
        except Exception as exc:
            diag = self.process.diagnostics()
            self.stop()
            raise RuntimeError(f"remit failed to become ready: {exc}\n{diag}") from exc
        return self

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()

    def alive(self) -> bool:
        return self.process is not None and self.process.alive()

    def write_policy(self, policy_text: str) -> None:
        """Replace the policy file atomically (as a ConfigMap update or an editor's save-as does)."""
        tmp = self.policy_path.with_suffix(".yaml.tmp")
        tmp.write_text(policy_text)
        os.replace(tmp, self.policy_path)

    # -- logs ------------------------------------------------------------------------------
    @property
    def stdout_path(self) -> Path:
        return self.process.stdout_path

    @property
    def stderr_path(self) -> Path:
        return self.process.stderr_path

    def mark(self) -> int:
        """A position in stdout; pass it as `since` to see only later lines."""
        try:
            return self.stdout_path.stat().st_size
        except OSError:
            return 0

    def log_text(self) -> str:
        out = self.stdout_path.read_text(errors="replace") if self.stdout_path.exists() else ""
        err = self.stderr_path.read_text(errors="replace") if self.stderr_path.exists() else ""
        return out + err

    def log_lines(self, since: int = 0) -> list:
        """Parsed JSON objects of stdout from byte offset `since` (non-JSON lines are skipped)."""
        with open(self.stdout_path, "rb") as f:
            f.seek(since)
            data = f.read()
        out = []
        for raw in data.splitlines():
            raw = raw.strip()
            if not raw.startswith(b"{"):
                continue
            try:
                out.append(json.loads(raw))
            except ValueError:
                continue
        return out

    def decisions(self, since: int = 0) -> list:
        return [o for o in self.log_lines(since) if o.get("message") == DECISION_MESSAGE]

    def wait_decision(self, pred: Callable[[dict], bool] = lambda d: True, since: int = 0,
                      timeout: float = 5.0) -> dict:
        def find():
            for d in self.decisions(since):
                if pred(d):
                    return d
            return None

        return wait_until(find, timeout, what="a matching decision log line")

    def diagnostics(self) -> str:
        return self.process.diagnostics() if self.process else "<remit not started>"


def wait_port_free(port: int, timeout: float = 5.0) -> None:
    import socket

    def free():
        with socket.socket() as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind(("127.0.0.1", port))
                return True
            except OSError:
                return False

    wait_until(free, timeout, what=f"port {port} to be free")
    time.sleep(0)
