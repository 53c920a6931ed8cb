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
    # The snapshot in force keeps deciding: allowed stays allowed, denied stays denied.
    assert_allowed(_call(topo, "get_stock", id=10), topo.upstream)
    topo.upstream.clear()
    assert_denied(_call(topo, "delete_inventory", id=11), "scope_tool_denied", topo.upstream, jsonrpc_id=11)

    # Restarted while the control plane is still down: ready from the cached snapshot.
    following.stop()
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

    # The control plane returns: the authorizer confirms its snapshot and keeps following.
    control_plane.start()
    _, _, mission = control_plane.api("GET", "/v1/missions/checkout")
    mission["allow"][0]["mcp"]["tools"] = ["get_stock", "reserve_*", "delete_inventory"]
    _, headers, _ = control_plane.api("PUT", "/v1/missions/checkout", mission)
    following.wait_applied(int(headers["remit-policy-version"]), timeout=15)
    topo.upstream.clear()
    assert_allowed(_call(topo, "delete_inventory", id=14), topo.upstream)
