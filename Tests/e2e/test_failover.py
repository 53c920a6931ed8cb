"""Two authorizer replicas behind one Envoy, under load (issue 8, fault injection).

A server sidecar of its own has an ext_authz cluster with two Remit endpoints and active gRPC
health checks, which stand in for Kubernetes readiness removing a pod from the Service's
endpoints. Load threads send allowed (get_stock) and denied (delete_inventory) calls straight to
the sidecar with checkout-bot's certificate and record every answer.

- SIGTERM one replica (with --drain-delay): its health goes NOT_SERVING, Envoy stops routing to it
  while it still answers, and no call fails.
- SIGKILL one replica: calls in flight to it fail closed (Envoy's own 403) for a moment, then the
  other replica serves everything; a denied call is never allowed.
- SIGKILL the last replica: Envoy fails closed.
"""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from support import clients, policies
from support.envoy import REMIT_AUTHORITY, Envoy, server_sidecar_config
from support.procs import free_port, wait_until
from support.remit import Remit, binary_or_fail

pytestmark = pytest.mark.remit

DRAIN_DELAY_SECONDS = 2


class Load:
    """Threads sending allowed and denied calls until stopped; every answer is kept with its time."""

    def __init__(self, port: int, mesh, threads: int = 4):
        self.port, self.mesh = port, mesh
        self.results: list[tuple[float, str, int, str | None]] = []  # (time, tool, status, reason)
        self.lock = threading.Lock()
        self.running = threading.Event()
        self.threads = [threading.Thread(target=self._run, args=(i,), daemon=True) for i in range(threads)]

    def _run(self, index: int):
        tool = "get_stock" if index % 2 == 0 else "delete_inventory"
        body = clients.tools_call(tool, id=index)
        headers = dict(clients.JSON_HEADERS)
        while self.running.is_set():
            try:
                r = clients.mtls_request(self.port, self.mesh.checkout_bot, self.mesh.ca_path, "POST", "/mcp",
                                         body=body, headers=headers, timeout=10)
                outcome = (r.status, r.reason)
            except OSError as error:  # the sidecar itself must never go away
                outcome = (0, f"client error: {error}")
            with self.lock:
                self.results.append((time.monotonic(), tool, *outcome))

    def __enter__(self):
        self.running.set()
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc):
        self.running.clear()
        for thread in self.threads:
            thread.join(timeout=15)

    def since(self, start: float) -> list:
        with self.lock:
            return [r for r in self.results if r[0] >= start]


def two_replica_sidecar(mesh, ports: tuple[int, int], upstream_port: int, logdir) -> dict:
    config = server_sidecar_config(mesh.inventory, ports[0], upstream_port, logdir)
    cluster = next(c for c in config["static_resources"]["clusters"] if c["name"].endswith(REMIT_AUTHORITY))
    cluster["load_assignment"]["endpoints"][0]["lb_endpoints"] = [
        {"endpoint": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": port}}}}
        for port in ports
    ]
    # What Kubernetes readiness and EDS do in a cluster, faster: a replica whose health says
    # NOT_SERVING (or that stops answering) leaves the rotation.
    cluster["health_checks"] = [{
        "timeout": "0.5s", "interval": "0.2s", "no_traffic_interval": "0.2s",
        "unhealthy_threshold": 1, "healthy_threshold": 1,
        "grpc_health_check": {"service_name": ""},
    }]
    return config


@pytest.fixture
def replicas(e2e_dir, request):
    binary = binary_or_fail()
    started = []

    def start(index: int, port: int) -> Remit:
        remit = Remit(e2e_dir / "failover" / f"{request.node.name}-{index}-{len(started)}", port,
                      name=f"remit-replica-{index}", binary=binary)
        remit.start(policies.default_policy_yaml(), extra_args=("--drain-delay", str(DRAIN_DELAY_SECONDS)))
        started.append(remit)
        return remit

    yield start
    for remit in started:
        remit.stop()


@pytest.fixture
def sidecar(e2e_dir, mesh, upstream_server):
    ports = (free_port(), free_port())
    d = e2e_dir / "failover" / f"envoy-{ports[0]}"
    envoy = Envoy("failover-sidecar", two_replica_sidecar(mesh, ports, upstream_server.port, d), d)
    yield envoy, ports
    envoy.stop()


def healthy_hosts(envoy: Envoy) -> int:
    return envoy.stat(f"cluster.outbound|9191||{REMIT_AUTHORITY}.membership_healthy")


def decisions_by(remit: Remit, since: int) -> int:
    return len(remit.decisions(since))


def wrong_answers(results) -> list:
    """Answers that are neither right nor a fail-closed deny: a denied tool allowed, or anything
    but 200 / 403 (a 5xx, a client error)."""
    wrong = []
    for _, tool, status, reason in results:
        if tool == "delete_inventory" and status != 403:
            wrong.append((tool, status, reason))
        elif tool == "get_stock" and status not in (200, 403):
            wrong.append((tool, status, reason))
    return wrong


def test_a_replica_stopped_with_sigterm_fails_no_call(mesh, sidecar, replicas):
    envoy, ports = sidecar
    first, second = replicas(0, ports[0]), replicas(1, ports[1])
    envoy.start()
    wait_until(lambda: healthy_hosts(envoy) == 2, 10, what="both replicas healthy in Envoy")
    with Load(envoy.port("inbound"), mesh) as load:
        time.sleep(1.0)
        mark = second.mark()
        stopped_at = time.monotonic()
        first.stop()  # SIGTERM; it exits once the drain delay and in-flight calls are over
        assert not first.alive()
        time.sleep(1.5)
    results = load.since(0)
    assert len(results) > 50, f"only {len(results)} calls were made"
    assert wrong_answers(results) == []
    failed = [r for r in results if r[1] == "get_stock" and r[2] != 200]
    assert failed == [], f"{len(failed)} allowed calls failed around the SIGTERM: {failed[:5]}"
    denied = [r for r in results if r[1] == "delete_inventory"]
    assert all(r[3] == "scope_tool_denied" for r in denied), "a deny was not Remit's"
    after = [r for r in results if r[0] > stopped_at + DRAIN_DELAY_SECONDS + 0.5]
    assert after and decisions_by(second, mark) > 0, "the other replica did not take over"
    assert healthy_hosts(envoy) == 1


def test_a_killed_replica_fails_closed_for_a_moment_then_the_other_serves(mesh, sidecar, replicas, upstream):
    envoy, ports = sidecar
    first, second = replicas(0, ports[0]), replicas(1, ports[1])
    envoy.start()
    wait_until(lambda: healthy_hosts(envoy) == 2, 10, what="both replicas healthy in Envoy")
    with Load(envoy.port("inbound"), mesh) as load:
        time.sleep(1.0)
        killed_at = time.monotonic()
        os.killpg(first.process.proc.pid, signal.SIGKILL)
        first.process.proc.wait(timeout=5)
        time.sleep(3.0)
    results = load.since(0)
    assert len(results) > 50, f"only {len(results)} calls were made"
    # Never fail open: every denied call stayed denied, and nothing but 200 or 403 came back.
    assert wrong_answers(results) == []
    failed = [r for r in results if r[1] == "get_stock" and r[2] != 200]
    # The failures are Envoy's own fail-closed 403s (no x-remit-reason), only in the moment after
    # the kill, before the health check takes the replica out.
    assert all(r[3] is None for r in failed), failed[:5]
    late = [r for r in failed if r[0] > killed_at + 1.5]
    assert late == [], f"allowed calls still failed {late[0][0] - killed_at:.1f} s after the kill"
    settled = [r for r in results if r[0] > killed_at + 1.5 and r[1] == "get_stock"]
    assert settled and all(r[2] == 200 for r in settled)
    assert healthy_hosts(envoy) == 1

    # The last replica killed: Envoy fails closed, nothing reaches the tool.
    os.killpg(second.process.proc.pid, signal.SIGKILL)
    second.process.proc.wait(timeout=5)
    upstream.clear()
    errors_before = envoy.stat("http.inbound.ext_authz.error")
    r = clients.mtls_request(envoy.port("inbound"), mesh.checkout_bot, mesh.ca_path, "POST", "/mcp",
                             body=clients.tools_call("get_stock"), headers=dict(clients.JSON_HEADERS))
    assert r.status == 403 and r.reason is None, r.describe()
    assert upstream.requests == [], "a call reached the tool with no authorizer left"
    assert envoy.stat("http.inbound.ext_authz.error") > errors_before
