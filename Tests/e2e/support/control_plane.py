"""The control plane under test: a `remit control-plane` process on loopback (SQLite in its work
directory, so a restart keeps its data), a small JSON client for its /v1 API, and `remit serve
--control-plane` authorizers that follow it."""

from __future__ import annotations

import json
import os
import secrets
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Optional

from grpc_health.v1 import health_pb2

from .procs import ManagedProcess, free_port, wait_until
from .remit import Remit, grpc_health, require_remit_binary


class APIError(Exception):
    def __init__(self, status: int, body: bytes):
        super().__init__(f"HTTP {status}: {body[:400]!r}")
        self.status = status
        self.body = body


def call(base_url: str, method: str, path: str, key: Optional[str], body=None, timeout: float = 10.0,
         content_type: str = "application/json"):
    """One API call; returns (status, headers, parsed JSON or raw bytes). Non-2xx raises APIError."""
    data = None
    if body is not None:
        data = body if isinstance(body, (bytes, bytearray)) else json.dumps(body).encode()
    request = urllib.request.Request(base_url + path, data=data, method=method)
    if key:
        request.add_header("Authorization", f"Bearer {key}")
    if data is not None:
        request.add_header("Content-Type", content_type)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            raw = response.read()
            headers = {k.lower(): v for k, v in response.getheaders()}
            status = response.status
    except urllib.error.HTTPError as error:
        raw = error.read()
        if error.code == 304:
            return 304, {k.lower(): v for k, v in error.headers.items()}, b""
        raise APIError(error.code, raw) from None
    parsed = raw
    if raw and headers.get("content-type", "").startswith("application/json"):
        parsed = json.loads(raw)
    return status, headers, parsed


class ControlPlane:
    """One `remit control-plane` on a fixed port with its SQLite store in `workdir`."""

    def __init__(self, workdir: Path, port: Optional[int] = None, extra_args: tuple = ()):
        self.extra_args = tuple(extra_args)
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.admin_key = "remit_" + secrets.token_hex(24)
        self.binary = require_remit_binary()
        self.process: Optional[ManagedProcess] = None
        self.runs = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> "ControlPlane":
        self.runs += 1
        argv = [
            self.binary, "control-plane",
            "--listen", f"127.0.0.1:{self.port}",
            "--database", f"sqlite:{self.workdir / 'remit.db'}",
            *self.extra_args,
        ]
        env = {**os.environ, "REMIT_BOOTSTRAP_ADMIN_KEY": self.admin_key}
        self.process = ManagedProcess(f"control-plane-{self.runs}", argv, self.workdir, env=env).start()

        def healthy():
            if not self.process.alive():
                raise RuntimeError(f"control plane exited with {self.process.returncode()}")
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=1) as response:
                    return response.status == 200
            except OSError:
                return False

        try:
            wait_until(healthy, timeout, interval=0.1, what=f"control plane /healthz on :{self.port}")
        except Exception as exc:
            diag = self.process.diagnostics()
            self.stop()
            raise RuntimeError(f"control plane failed to start: {exc}\n{diag}") from exc
        return self

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()

    def api(self, method: str, path: str, body=None, key: Optional[str] = None, **kw):
        return call(self.url, method, path, key or self.admin_key, body, **kw)

    def issue_key(self, role: str) -> str:
        _, _, issued = self.api("POST", "/v1/api-keys", {"role": role})
        return issued["key"]

    def seed(self, doc: dict) -> int:
        """Loads a policy document (support/policies.py shape) through the per-resource API and
        returns the policy version after the last write."""
        version = 0
        if doc.get("settings"):
            _, headers, _ = self.api("PUT", "/v1/policy/settings", doc["settings"])
            version = int(headers["remit-policy-version"])
        for mission in doc.get("missions", []):
            _, headers, _ = self.api("POST", "/v1/missions", mission)
            version = int(headers["remit-policy-version"])
        for agent in doc.get("agents", []):
            _, headers, _ = self.api("POST", "/v1/agents", agent)
            version = int(headers["remit-policy-version"])
        return version

    def diagnostics(self) -> str:
        return self.process.diagnostics() if self.process else "<control plane not started>"


class FollowingRemit(Remit):
    """`remit serve --control-plane URL` on the sidecar's authorizer port, with its state directory
    (snapshot cache, audit spool) kept across restarts."""

    def __init__(self, workdir: Path, grpc_port: int, control_plane: ControlPlane, api_key: str,
                 instance_id: str = "e2e-authorizer"):
        super().__init__(workdir, grpc_port, name="remit-following")
        self.control_plane = control_plane
        self.key_file = self.workdir / "authorizer-key"
        self.key_file.write_text(api_key + "\n")
        self.key_file.chmod(0o600)
        self.state_dir = self.workdir / "state"
        self.instance_id = instance_id
        self.runs = 0
        # Put in front of the command, e.g. to run it in a mount namespace (test_audit_disk_full.py).
        self.launcher: list = []

    def start_following(self, timeout: float = 30.0) -> "FollowingRemit":
        from .procs import free_port as _free_port

        self.runs += 1
        self.admin_port = _free_port()
        argv = [
            self.binary, "serve",
            "--control-plane", self.control_plane.url,
            "--api-key-file", self.key_file,
            "--state-dir", self.state_dir,
            "--instance-id", self.instance_id,
            "--listen", f"127.0.0.1:{self.grpc_port}",
            "--admin-listen", f"127.0.0.1:{self.admin_port}",
        ]
        self.process = ManagedProcess(f"{self.name}-{self.runs}", [*self.launcher, *argv], self.workdir).start()

        def serving():
            if not self.process.alive():
                raise RuntimeError(f"remit exited with {self.process.returncode()}")
            try:
                return grpc_health(self.grpc_port) == health_pb2.HealthCheckResponse.SERVING
            except Exception:  # noqa: BLE001
                return False

        try:
            wait_until(serving, timeout, interval=0.1, what=f"remit gRPC health SERVING on :{self.grpc_port}")
        except Exception as exc:
            diag = self.process.diagnostics()
            self.stop()
            raise RuntimeError(f"remit failed to become ready: {exc}\n{diag}") from exc
        return self

    def readyz(self) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.admin_port}/readyz", timeout=2) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()

    def applied_versions(self) -> list:
        return [int(line["policy_version"]) for line in self.log_lines()
                if line.get("message") == "policy applied from the control plane"]

    def wait_applied(self, version: int, timeout: float = 5.0) -> float:
        """Waits until `version` is applied; returns the seconds it took."""
        started = time.monotonic()
        wait_until(lambda: version in self.applied_versions(), timeout, interval=0.02,
                   what=f"policy version {version} applied")
        return time.monotonic() - started
