"""Graceful shutdown of `remit serve` (SPEC section 9, issue 6): on SIGTERM readiness goes false
at once (so Kubernetes stops routing here), health watchers are told NOT_SERVING, an open health
Watch does not hold the shutdown up, and the process exits cleanly."""

from __future__ import annotations

import signal
import threading
import time
import urllib.error
import urllib.request

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from support import policies
from support.procs import free_port, wait_until
from support.remit import Remit, binary_or_fail

pytestmark = pytest.mark.remit


def _readyz(port):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
    except OSError as e:
        return None, str(e)


def test_sigterm_turns_readiness_off_ends_watches_and_exits(e2e_dir):
    remit = Remit(e2e_dir / "shutdown", free_port(), binary=binary_or_fail())
    remit.start(policies.default_policy_yaml())
    try:
        assert _readyz(remit.admin_port)[0] == 200
        statuses, ended = [], threading.Event()

        def watch():
            with grpc.insecure_channel(f"127.0.0.1:{remit.grpc_port}") as channel:
                stub = health_pb2_grpc.HealthStub(channel)
                try:
                    for response in stub.Watch(health_pb2.HealthCheckRequest(service=""), timeout=30):
                        statuses.append(response.status)
                finally:
                    ended.set()

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        wait_until(lambda: statuses == [health_pb2.HealthCheckResponse.SERVING], 5, what="the watch's SERVING")

        # While shutting down, /readyz says so (sampled as fast as possible until the exit).
        seen = []
        remit.process.proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 15
        while remit.process.alive() and time.monotonic() < deadline:
            seen.append(_readyz(remit.admin_port))
            time.sleep(0.005)
        assert not remit.process.alive(), "remit did not exit within 15 s of SIGTERM"
        assert remit.process.returncode() == 0, remit.diagnostics()
        assert ended.wait(5), "the health watch stream did not end"
        assert statuses[-1] == health_pb2.HealthCheckResponse.NOT_SERVING, statuses
        answered = [s for s in seen if s[0] is not None]
        draining = [i for i, (code, text) in enumerate(answered) if code == 503 and "shutting down" in text]
        assert draining, answered[:5]
        # Once not ready, never ready again before the exit.
        assert all(code != 200 for code, _ in answered[draining[0]:]), answered[draining[0]:][:5]
    finally:
        remit.stop()
