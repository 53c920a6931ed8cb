"""`remit serve --control-plane`: an authorizer following a real control plane, behind the real
Envoy sidecar (issue 4, "How it is proven": sync).

- A change made through the API is applied by the authorizer and changes the next decision.
- Control plane stopped: decisions continue from the snapshot in force.
- Authorizer restarted while the control plane is down: it starts from its disk snapshot, ready.
- Decisions made during the outage reach the control plane's audit log after it returns.
"""

from __future__ import annotations

import time

import pytest

from support import clients, policies
from support.asserts import assert_allowed, assert_denied
from support.control_plane import ControlPlane, FollowingRemit
from support.diag import add_diagnostics
from support.procs import wait_until
from support.remit import wait_port_free

pytestmark = pytest.mark.remit


def _call(topo, tool, agent="checkout-bot", id=1):
    return clients.mcp_post(topo.agent_port(agent), clients.tools_call(tool, {"sku": "SKU-1"}, id=id))


@pytest.fixture
def control_plane(request, e2e_dir):
    cp = ControlPlane(e2e_dir / "control-plane" / request.node.name).start()
    add_diagnostics(request, "control plane", cp.diagnostics)
    yield cp
    cp.stop()


@pytest.fixture
def following(request, e2e_dir, authz_port, control_plane):
    """An authorizer following `control_plane`, seeded with the default e2e policy."""
    control_plane.seed(policies.base_policy())
    wait_port_free(authz_port)
    remit = FollowingRemit(e2e_dir / "following" / request.node.name, authz_port, control_plane,
                           control_plane.issue_key("authorizer"))
    add_diagnostics(request, "following remit", remit.diagnostics)
    remit.start_following()
    yield remit
    remit.stop()


def test_a_change_through_the_api_changes_the_next_decision_through_envoy(topo, control_plane, following):
    assert_allowed(_call(topo, "get_stock"), topo.upstream)
    topo.upstream.clear()

    # Narrow the mission through the API: get_stock is no longer in it.
    _, _, mission = control_plane.api("GET", "/v1/missions/checkout")
    mission["allow"][0]["mcp"]["tools"] = ["reserve_*"]
    _, headers, _ = control_plane.api("PUT", "/v1/missions/checkout", mission)
    version = int(headers["remit-policy-version"])
    took = following.wait_applied(version, timeout=5)
    assert took < 2.0, f"policy propagation took {took:.2f}s"

    r = _call(topo, "get_stock", id=2)
    assert_denied(r, "scope_tool_denied", topo.upstream, jsonrpc_id=2)
    decision = following.wait_decision(lambda d: d.get("decision_id") == r.decision_id)
    assert decision["policy_version"] == str(version)
    assert_allowed(_call(topo, "reserve_item", id=3), topo.upstream)


def test_decisions_continue_without_the_control_plane_and_a_restart_uses_the_disk_snapshot(
        topo, control_plane, following, authz_port):
    _, headers, _ = control_plane.api("GET", "/v1/snapshot", key=control_plane.issue_key("reader"))
    version = headers["remit-policy-version"]

    control_plane.stop()
    outage_first_run = following.mark()
    # The snapshot in force keeps deciding: allowed stays allowed, denied stays denied.
    assert_allowed(_call(topo, "get_stock", id=10), topo.upstream)
    topo.upstream.clear()
    assert_denied(_call(topo, "delete_inventory", id=11), "scope_tool_denied", topo.upstream, jsonrpc_id=11)

    # Restarted while the control plane is still down: ready from the cached snapshot.
    outage_ids = {d["decision_id"] for d in following.decisions(outage_first_run)}
    assert len(outage_ids) == 2
    following.stop()  # SIGTERM: what waits in memory goes to the spool (the control plane is away)
    wait_port_free(authz_port)
    following.start_following(timeout=20)
    status, text = following.readyz()
    assert status == 200, text
    assert any(line.get("message", "").startswith("policy loaded from the cached snapshot")
               and line.get("policy_version") == version for line in following.log_lines())
    topo.upstream.clear()
    assert_allowed(_call(topo, "get_stock", id=12), topo.upstream)
    topo.upstream.clear()
    denied = _call(topo, "delete_inventory", id=13)
    assert_denied(denied, "scope_tool_denied", topo.upstream, jsonrpc_id=13)
    outage_ids |= {d["decision_id"] for d in following.decisions()}
    assert len(outage_ids) == 4

    # The control plane returns: the authorizer confirms its snapshot and keeps following.
    control_plane.start()
    _, _, mission = control_plane.api("GET", "/v1/missions/checkout")
    mission["allow"][0]["mcp"]["tools"] = ["get_stock", "reserve_*", "delete_inventory"]
    _, headers, _ = control_plane.api("PUT", "/v1/missions/checkout", mission)
    following.wait_applied(int(headers["remit-policy-version"]), timeout=15)
    topo.upstream.clear()
    assert_allowed(_call(topo, "delete_inventory", id=14), topo.upstream)

    # Every decision made during the outage, in both runs, reaches the audit log, once.
    def delivered():
        _, _, page = control_plane.api("GET", "/v1/audit/events?agent=checkout-bot&limit=500")
        ids = [event["decisionId"] for event in page["events"]]
        return ids if outage_ids <= set(ids) else None

    ids = wait_until(delivered, 20, interval=0.2, what="the outage's decisions in /v1/audit/events")
    assert len(ids) == len(set(ids)), "a decision was stored twice"
    _, _, page = control_plane.api("GET", "/v1/audit/events?verdict=deny&reason=scope_tool_denied&limit=500")
    denied_events = [e for e in page["events"] if e["decisionId"] in outage_ids]
    assert len(denied_events) == 2
    assert all(e["tool"] == "delete_inventory" and e["agent"] == "checkout-bot" for e in denied_events)


def test_the_authorizer_reports_itself_and_its_metrics(topo, control_plane, following):
    assert_allowed(_call(topo, "get_stock", id=20), topo.upstream)
    topo.upstream.clear()
    for n in range(3):
        assert_denied(_call(topo, "delete_inventory", id=21 + n), "scope_tool_denied", topo.upstream)
    _, headers, _ = control_plane.api("GET", "/v1/policy")
    version = headers["remit-policy-version"]

    def registered():
        _, _, authorizers = control_plane.api("GET", "/v1/authorizers")
        mine = [a for a in authorizers if a["id"] == following.instance_id]
        return mine[0] if mine and mine[0]["policyVersion"] == version else None

    record = wait_until(registered, 10, interval=0.2, what="the authorizer's report")
    assert record["status"] == "healthy"

    import urllib.request
    with urllib.request.urlopen(f"http://127.0.0.1:{following.admin_port}/metrics", timeout=2) as response:
        text = response.read().decode()
    assert 'remit_decisions_total{verdict="deny",reason="scope_tool_denied",kind="east_west",mode="enforce"} 3' in text
    assert 'remit_decisions_total{verdict="allow",reason="none",kind="east_west",mode="enforce"} 1' in text
    assert f"remit_policy_version {float(version)}" in text or f"remit_policy_version {version}" in text


def test_without_a_snapshot_the_authorizer_is_not_ready_until_the_control_plane_answers(
        request, e2e_dir, authz_port, control_plane):
    """/readyz is false before a snapshot: a first start with the control plane down and no cache."""
    control_plane.seed(policies.base_policy())
    key = control_plane.issue_key("authorizer")
    control_plane.stop()
    wait_port_free(authz_port)
    remit = FollowingRemit(e2e_dir / "not-ready" / request.node.name, authz_port, control_plane, key)
    add_diagnostics(request, "following remit", remit.diagnostics)
    try:
        import subprocess
        from support.procs import ManagedProcess, free_port
        remit.admin_port = free_port()
        argv = [remit.binary, "serve", "--control-plane", control_plane.url, "--api-key-file", remit.key_file,
                "--state-dir", remit.state_dir, "--listen", f"127.0.0.1:{authz_port}",
                "--admin-listen", f"127.0.0.1:{remit.admin_port}"]
        remit.process = ManagedProcess("remit-not-ready", argv, remit.workdir).start()
        wait_until(lambda: remit.readyz()[0] == 503 if _admin_up(remit) else None, 15, interval=0.1,
                   what="/readyz answering")
        status, text = remit.readyz()
        assert status == 503 and "no policy snapshot" in text, text
        control_plane.start()
        wait_until(lambda: remit.readyz()[0] == 200, 20, interval=0.1, what="ready once the control plane answers")
    finally:
        remit.stop()


def _admin_up(remit) -> bool:
    try:
        remit.readyz()
        return True
    except OSError:
        return False


def test_the_control_plane_killed_and_restarted_under_load_fails_no_check_and_loses_no_event(
        topo, control_plane, following):
    """Load through the sidecar while the control plane is SIGKILLed and started again: every
    allowed call stays allowed, every denied one denied, and every decision made (before, during
    and after the outage) reaches the audit log once."""
    import os
    import signal
    import threading

    results, lock, running = [], threading.Lock(), threading.Event()

    def load(tool: str):
        index = 0
        while running.is_set():
            index += 1
            r = _call(topo, tool, id=index)
            with lock:
                results.append((tool, r.status, r.reason, r.decision_id))

    since = following.mark()
    running.set()
    threads = [threading.Thread(target=load, args=(tool,), daemon=True)
               for tool in ("get_stock", "get_stock", "delete_inventory")]
    for thread in threads:
        thread.start()
    try:
        time.sleep(1.0)
        os.killpg(control_plane.process.proc.pid, signal.SIGKILL)
        control_plane.process.proc.wait(timeout=5)
        time.sleep(2.0)
        control_plane.start()
        time.sleep(1.5)
    finally:
        running.clear()
        for thread in threads:
            thread.join(timeout=15)

    assert len(results) > 30, f"only {len(results)} calls were made"
    wrong = [r for r in results if (r[0] == "get_stock") != (r[1] == 200)]
    assert wrong == [], f"{len(wrong)} calls got the wrong answer: {wrong[:5]}"
    assert all(r[2] == "scope_tool_denied" for r in results if r[0] == "delete_inventory")
    # The authorizer's own log names every decision it made; the audit log must hold each.
    ids = {d["decision_id"] for d in following.decisions(since)}
    assert len(ids) >= len(results), f"{len(results)} calls but {len(ids)} decisions logged"

    def delivered():
        seen, cursor = [], None
        while True:
            path = "/v1/audit/events?agent=checkout-bot&limit=500" + (f"&cursor={cursor}" if cursor else "")
            _, _, page = control_plane.api("GET", path)
            seen += [event["decisionId"] for event in page["events"]]
            cursor = page.get("nextCursor")
            if not cursor:
                break
        return seen if ids <= set(seen) else None

    seen = wait_until(delivered, 30, interval=0.5, what="every decision of the run in /v1/audit/events")
    mine = [i for i in seen if i in ids]
    assert len(mine) == len(set(mine)), "a decision was stored twice"
