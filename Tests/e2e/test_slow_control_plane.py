"""A slow control plane under a following authorizer (issue 8, fault injection).

A TCP proxy sits between the authorizer and the control plane and, when told to, holds every
answer from the control plane for 3 s. Calls without a delegation chain never touch the control
plane and keep their speed; a delegated hop asks the control plane's ledger and is denied
(`internal_error`, finding `delegation_ledger_unavailable`) once `--ledger-timeout-ms` passes,
instead of waiting; a burst of hops opens a bounded number of connections, and nothing piles up:
once the control plane is fast again, hops are allowed again at once.
"""

from __future__ import annotations

import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace

import pytest
import yaml

from support import clients
from support.asserts import assert_allowed, assert_denied
from support.control_plane import ControlPlane, FollowingRemit
from support.echo_upstream import EchoUpstream
from support.envoy import Envoy, workloads_sidecar_config
from support.procs import free_port, wait_until
from test_delegation import CHAIN, POLICY

pytestmark = pytest.mark.remit

HOLD_SECONDS = 3.0
LEDGER_TIMEOUT_SECONDS = 0.5  # the default --ledger-timeout-ms


class SlowProxy:
    """Forwards 127.0.0.1:port to the control plane; `slow` holds each answer chunk HOLD_SECONDS."""

    def __init__(self, upstream_port: int):
        self.upstream_port = upstream_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.slow = threading.Event()
        self.lock = threading.Lock()
        self.open = 0
        self.most_open = 0
        self.accepted = 0
        self.closed = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.closed.is_set():
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            with self.lock:
                self.open += 1
                self.accepted += 1
                self.most_open = max(self.most_open, self.open)
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket):
        try:
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
        except OSError:
            client.close()
            self._gone()
            return
        done = threading.Event()

        def pump(source, sink, hold: bool):
            try:
                while True:
                    data = source.recv(65536)
                    if not data:
                        break
                    if hold and self.slow.is_set():
                        time.sleep(HOLD_SECONDS)
                    sink.sendall(data)
            except OSError:
                pass
            finally:
                done.set()

        threading.Thread(target=pump, args=(client, upstream, False), daemon=True).start()
        threading.Thread(target=pump, args=(upstream, client, True), daemon=True).start()
        done.wait()
        for s in (client, upstream):
            try:
                s.close()
            except OSError:
                pass
        self._gone()

    def _gone(self):
        with self.lock:
            self.open -= 1

    def reset_counts(self):
        with self.lock:
            self.most_open = self.open
            self.accepted = 0

    def stop(self):
        self.closed.set()
        self.listener.close()


@pytest.fixture(scope="module")
def slow(e2e_dir, mesh):
    base = e2e_dir / "slow-control-plane"
    base.mkdir(parents=True, exist_ok=True)
    cp = ControlPlane(base / "cp")
    upstream = EchoUpstream().start()
    proxy = remit = envoy = None
    try:
        cp.start()
        cp.api("PUT", "/v1/policy", yaml.safe_load(POLICY))
        certs = {name: mesh.ca.issue("agents", name) for name in ("lead", "helper", "third")}
        certs["search"] = mesh.ca.issue("tools", "search")
        proxy = SlowProxy(cp.port)
        port = free_port()
        remit = FollowingRemit(base / "authz", port, SimpleNamespace(url=proxy.url), cp.issue_key("authorizer"),
                               instance_id="authz-slow")
        remit.start_following()
        envoy = Envoy("workloads-slow", workloads_sidecar_config(certs, port, upstream.port, base / "envoy"),
                      base / "envoy").start()
        yield SimpleNamespace(cp=cp, proxy=proxy, remit=remit, envoy=envoy, certs=certs, upstream=upstream,
                              ca_path=mesh.ca.ca_path)
    finally:
        if envoy:
            envoy.stop()
        if remit:
            remit.stop()
        if proxy:
            proxy.stop()
        cp.stop()
        upstream.stop()


def send(s, caller: str, callee: str, chain: str | None, id=1):
    headers = dict(clients.JSON_HEADERS)
    if chain is not None:
        headers[CHAIN] = chain
    body = clients.jsonrpc("message/send", {"message": {}}, id=id)
    started = time.monotonic()
    r = clients.mtls_request(s.envoy.port(callee), s.certs[caller], s.ca_path, "POST", "/", body=body, headers=headers)
    return r, time.monotonic() - started


def test_a_slow_control_plane_denies_hops_in_time_and_nothing_piles_up(slow):
    s = slow
    r, _ = send(s, "lead", "helper", "slow-chain-0")
    assert_allowed(r)

    s.proxy.slow.set()
    try:
        s.proxy.reset_counts()
        # Without a chain the control plane is not asked (the tool's JWT is minted in the pod):
        # as fast as ever.
        s.upstream.clear()
        started = time.monotonic()
        r = clients.mtls_request(s.envoy.port("search"), s.certs["helper"], s.ca_path, "POST", "/mcp",
                                 body=clients.tools_call("search_web", {"q": "x"}), headers=dict(clients.JSON_HEADERS))
        took = time.monotonic() - started
        assert_allowed(r, s.upstream)
        assert s.upstream.requests[0].headers["authorization"].startswith("Bearer ")
        assert took < 1.0, f"a call that needs no control plane took {took:.2f} s"

        # A hop waits for the ledger at most the ledger timeout, then fails closed.
        s.upstream.clear()
        r, took = send(s, "lead", "helper", "slow-chain-1", id=2)
        assert_denied(r, "internal_error", s.upstream, jsonrpc_id=2)
        assert took < LEDGER_TIMEOUT_SECONDS + 1.0, f"the hop waited {took:.2f} s for a slow ledger"
        line = s.remit.wait_decision(lambda d: d.get("chain_id") == "slow-chain-1")
        assert "delegation_ledger_unavailable" in line["findings"]

        # A burst of hops: each is answered in time, and the connections stay bounded.
        with ThreadPoolExecutor(max_workers=32) as pool:
            answers = list(pool.map(lambda i: send(s, "lead", "helper", f"burst-{i}", id=i), range(96)))
        for r, took in answers:
            assert r.status == 403 and r.reason == "internal_error", r.describe()
            assert took < LEDGER_TIMEOUT_SECONDS + 2.0, f"a hop of the burst waited {took:.2f} s"
        # The ledger client's own pool (64 connections at most), long-poll and audit on the other.
        print(f"slow control plane: {s.proxy.most_open} connections open at most, {s.proxy.accepted} accepted")
        assert s.proxy.most_open <= 64 + 4, f"{s.proxy.most_open} connections were open to the control plane"
    finally:
        s.proxy.slow.clear()

    # Fast again: hops are allowed at once; the timed-out calls left nothing queued in front.
    time.sleep(HOLD_SECONDS + 0.5)  # answers held by the proxy drain
    r, took = send(s, "lead", "helper", "slow-chain-2", id=3)
    assert_allowed(r)
    assert took < 1.0, f"the first hop after recovery took {took:.2f} s"
    assert s.remit.alive()


def test_a_slow_control_plane_delays_sync_and_audit_but_holds_up_no_decision(slow):
    """Snapshot long-poll, audit batches and reports go through the same slow link: decisions keep
    their speed on the current snapshot, the link stays a handful of connections, and once the
    control plane is fast again the held change applies and every decision of the slow period
    reaches the audit log once."""
    s = slow
    s.proxy.slow.set()
    try:
        s.proxy.reset_counts()
        _, _, mission = s.cp.api("GET", "/v1/missions/helper")
        mission["allow"][1]["mcp"]["tools"] = ["search_web", "delete_index", "search_images"]
        _, headers, _ = s.cp.api("PUT", "/v1/missions/helper", mission)
        version = int(headers["remit-policy-version"])
        before = {d["decision_id"] for d in s.remit.decisions()}
        for i in range(20):
            s.upstream.clear()
            started = time.monotonic()
            r = clients.mtls_request(s.envoy.port("search"), s.certs["helper"], s.ca_path, "POST", "/mcp",
                                     body=clients.tools_call("search_web", {"q": f"slow-{i}"}),
                                     headers=dict(clients.JSON_HEADERS))
            took = time.monotonic() - started
            assert_allowed(r, s.upstream)
            assert took < 1.0, f"a decision took {took:.2f} s while the control plane was slow"
            time.sleep(0.1)
        # An allowed call carries its decision id upstream, not back: the ids come from the log.
        ids = {d["decision_id"] for d in s.remit.decisions()} - before
        assert len(ids) == 20, f"{len(ids)} decisions logged for 20 calls"
        print(f"slow sync and audit: {s.proxy.most_open} connections open at most, {s.proxy.accepted} accepted")
        assert s.proxy.most_open <= 12, f"{s.proxy.most_open} connections were open to the control plane"
    finally:
        s.proxy.slow.clear()

    s.remit.wait_applied(version, timeout=30)
    s.upstream.clear()
    r = clients.mtls_request(s.envoy.port("search"), s.certs["helper"], s.ca_path, "POST", "/mcp",
                             body=clients.tools_call("search_images", {"q": "x"}), headers=dict(clients.JSON_HEADERS))
    assert_allowed(r, s.upstream)

    def delivered():
        _, _, page = s.cp.api("GET", "/v1/audit/events?agent=helper&limit=500")
        seen = [event["decisionId"] for event in page["events"] if event["decisionId"] in ids]
        return seen if ids <= set(seen) else None

    seen = wait_until(delivered, 30, interval=0.5, what="the slow period's decisions in /v1/audit/events")
    assert len(seen) == len(set(seen)), "a decision was stored twice"
    assert s.remit.alive()
