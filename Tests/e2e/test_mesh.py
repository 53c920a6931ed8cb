"""Remit behind a real Envoy server sidecar, called by agents through their client sidecar.

Every test here runs against the Remit binary (REMIT_BIN, default .build/debug/remit); a missing
binary is an error, not a skip. Each test gets its own Remit process and log files.
"""

from __future__ import annotations

import time

import pytest

from support import clients, policies
from support.asserts import assert_allowed, assert_denied
from support.envoy import EXT_AUTHZ_MAX_REQUEST_BYTES

pytestmark = pytest.mark.remit


def _call(topo, agent, tool, arguments=None, id=1, **kw):
    return clients.mcp_post(topo.agent_port(agent), clients.tools_call(tool, arguments, id=id), **kw)


# 1 -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("tool", ["get_stock", "reserve_item"])  # exact and glob ("reserve_*")
def test_in_scope_tool_call_reaches_upstream_intact(topo, remit, tool):
    since = remit.mark()
    body = clients.tools_call(tool, {"sku": "SKU-1", "qty": 2, "note": "ünïcødé ✓"}, id=101)
    r = clients.mcp_post(topo.agent_port("checkout-bot"), body)
    echoed = assert_allowed(r, topo.upstream)
    (got,) = topo.upstream.requests
    assert got.method == "POST" and got.path == "/mcp"
    assert got.body == body, "the body must reach the upstream byte for byte"
    assert echoed["body"] == body.decode()
    assert got.headers["content-type"] == "application/json"
    d = remit.wait_decision(lambda d: d.get("tool") == tool, since)
    assert d["verdict"] == "allow" and d["agent"] == "checkout-bot"


# 2 -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("rpc_id", [4711, "req-7f3a"])
def test_out_of_scope_tool_is_denied_with_jsonrpc_error(topo, remit, rpc_id):
    since = remit.mark()
    r = _call(topo, "checkout-bot", "delete_inventory", {"sku": "SKU-1"}, id=rpc_id)
    assert_denied(r, "scope_tool_denied", topo.upstream, jsonrpc_id=rpc_id)
    d = remit.wait_decision(lambda d: d.get("decision_id") == r.decision_id, since)
    assert d["verdict"] == "deny" and d["reason"] == "scope_tool_denied"
    assert d["tool"] == "delete_inventory"


def test_unlisted_mcp_method_is_denied_and_listed_one_allowed(topo, remit):
    port = topo.agent_port("checkout-bot")
    assert_allowed(clients.mcp_post(port, clients.jsonrpc("tools/list", {}, id=1)))
    topo.upstream.clear()
    r = clients.mcp_post(port, clients.jsonrpc("prompts/list", {}, id=2))
    assert_denied(r, "scope_tool_denied", topo.upstream, jsonrpc_id=2)


# 3 -------------------------------------------------------------------------------------------
def test_unbound_service_account_is_denied_identity_unmapped(topo, remit):
    since = remit.mark()
    r = _call(topo, "rogue", "get_stock", {"sku": "SKU-1"}, id=7)
    assert_denied(r, "identity_unmapped", topo.upstream, jsonrpc_id=7)
    d = remit.wait_decision(lambda d: d.get("decision_id") == r.decision_id, since)
    assert d["source_principal"] == topo.mesh.rogue.spiffe_id


def test_foreign_trust_domain_is_denied_identity_invalid(topo, remit):
    # A certificate the mesh CA signed, but for trust domain evil.example (not in trustDomains).
    r = _call(topo, "foreign-td", "get_stock", {"sku": "SKU-1"}, id=8)
    assert_denied(r, "identity_invalid", topo.upstream, jsonrpc_id=8)


# 4 -------------------------------------------------------------------------------------------
def _attempt(fn):
    try:
        return fn()
    except Exception as exc:  # noqa: BLE001
        return exc


@pytest.mark.parametrize("client", ["plaintext", "tls-no-client-cert", "tls-untrusted-ca"])
def test_unauthenticated_transport_never_reaches_upstream(topo, remit, client):
    since = remit.mark()
    port = topo.inbound_port
    body = clients.tools_call("get_stock", {"sku": "SKU-1"}, id=9)
    headers = dict(clients.JSON_HEADERS)
    if client == "plaintext":
        outcome = _attempt(lambda: clients.request(port, "POST", "/mcp", body, headers, timeout=5))
    else:
        cert = None if client == "tls-no-client-cert" else topo.mesh.untrusted
        outcome = _attempt(lambda: clients.mtls_request(port, cert, topo.mesh.ca_path, "POST", "/mcp", body, headers, timeout=5))
    assert not isinstance(outcome, clients.Response) or outcome.status >= 400, outcome
    assert topo.upstream.requests == []
    time.sleep(0.2)
    assert remit.decisions(since) == [], "no identity, no ext_authz check (TLS refused first)"
    # The same request with the agent's mesh certificate is allowed.
    ok = clients.mtls_request(port, topo.mesh.checkout_bot, topo.mesh.ca_path, "POST", "/mcp", body, headers)
    assert_allowed(ok, topo.upstream)


# 5 -------------------------------------------------------------------------------------------
def test_observe_mode_allows_and_logs_would_deny(topo, remit):
    since = remit.mark()
    body = clients.tools_call("delete_inventory", {"sku": "SKU-1"}, id=55)
    r = clients.mcp_post(topo.agent_port("observer-bot"), body)
    assert_allowed(r, topo.upstream)
    assert topo.upstream.requests[0].body == body
    d = remit.wait_decision(lambda d: d.get("agent") == "observer-bot", since)
    assert d["verdict"] == "allow"
    assert d["would_deny"] == "scope_tool_denied"
    assert d["mode"] == "observe"
    assert d["tool"] == "delete_inventory"


# 6 -------------------------------------------------------------------------------------------
def _poll_until_status(fn, status, timeout=10.0, interval=0.2):
    deadline = time.monotonic() + timeout
    while True:
        r = fn()
        if r.status == status or time.monotonic() > deadline:
            return r
        time.sleep(interval)


def test_policy_edit_changes_the_next_decision(topo, remit):
    call = lambda: _call(topo, "checkout-bot", "reserve_item", {"sku": "SKU-1"}, id=61)  # noqa: E731
    assert_allowed(call())
    remit.write_policy(policies.default_policy_yaml(tools=["get_stock"], version=2))
    r = _poll_until_status(call, 403)
    topo.upstream.clear()
    r = call()
    assert_denied(r, "scope_tool_denied", topo.upstream, jsonrpc_id=61)
    assert_allowed(_call(topo, "checkout-bot", "get_stock", id=62))
    # ... and back again.
    remit.write_policy(policies.default_policy_yaml(version=3))
    assert_allowed(_poll_until_status(call, 200))


def test_invalid_policy_edit_keeps_the_last_good_snapshot(topo, remit):
    remit.write_policy("apiVersion: remit/v1\nkind: Policy\nagents: [{id: x, bogusField: 1}]\n")
    time.sleep(3.0)  # longer than a reload poll; the broken file must not take effect
    assert remit.alive(), remit.diagnostics()
    assert_allowed(_call(topo, "checkout-bot", "get_stock", id=63))
    topo.upstream.clear()
    assert_denied(_call(topo, "checkout-bot", "delete_inventory", id=64), "scope_tool_denied", topo.upstream,
                  jsonrpc_id=64)


# 7 -------------------------------------------------------------------------------------------
def test_remit_stopped_fails_closed(topo, remit):
    assert_allowed(_call(topo, "checkout-bot", "get_stock", id=71))
    remit.stop()
    topo.upstream.clear()
    before = topo.server.stat("http.inbound.ext_authz.error")
    r = _call(topo, "checkout-bot", "get_stock", id=72)
    assert r.status == 403, r.describe()
    assert "x-remit-reason" not in r.headers  # Envoy's own fail-closed answer
    assert topo.upstream.requests == []
    assert topo.server.stat("http.inbound.ext_authz.error") > before


# 8 -------------------------------------------------------------------------------------------
def test_body_over_limit_is_denied_body_truncated(topo, remit):
    since = remit.mark()
    body = clients.tools_call("get_stock", {"sku": "SKU-1", "blob": "z" * 70000}, id=81)
    assert len(body) > EXT_AUTHZ_MAX_REQUEST_BYTES
    r = clients.mcp_post(topo.agent_port("checkout-bot"), body)
    assert_denied(r, "body_truncated", topo.upstream)
    d = remit.wait_decision(lambda d: d.get("decision_id") == r.decision_id, since)
    assert d["reason"] == "body_truncated" and d["verdict"] == "deny"


def test_every_over_limit_body_is_denied_body_truncated(topo, remit):
    """Envoy does not always flag a cut body with x-envoy-auth-partial-body: true (see
    test_topology.py); every one of these must still be denied body_truncated."""
    reasons = []
    for i, size in enumerate([65537, 70000, 100000, 131072, 300000] * 5):
        body = clients.tools_call("get_stock", {"blob": "z" * size}, id=i)
        r = clients.mtls_request(topo.inbound_port, topo.mesh.checkout_bot, topo.mesh.ca_path, "POST", "/mcp",
                                 body, dict(clients.JSON_HEADERS))
        reasons.append((size, r.status, r.reason))
    assert all(status == 403 and reason == "body_truncated" for _, status, reason in reasons), reasons
    assert topo.upstream.requests == []


def test_body_at_limit_is_inspected_not_truncated(topo, remit):
    prefix = clients.tools_call("get_stock", {"blob": ""}, id=82)
    body = clients.tools_call("get_stock", {"blob": "z" * (EXT_AUTHZ_MAX_REQUEST_BYTES - len(prefix))}, id=82)
    assert len(body) == EXT_AUTHZ_MAX_REQUEST_BYTES
    r = clients.mcp_post(topo.agent_port("checkout-bot"), body)
    assert_allowed(r, topo.upstream)
    assert topo.upstream.requests[0].body == body


# 7/11 through Envoy: malformed JSON-RPC ------------------------------------------------------
def test_malformed_json_to_mcp_destination_is_denied(topo, remit):
    r = clients.mcp_post(topo.agent_port("checkout-bot"), b'{"jsonrpc": "2.0", "id": 1, "method": "tools/call", ')
    assert_denied(r, "body_malformed", topo.upstream)


# Header hygiene (SPEC section 7) through Envoy's headers_to_remove -------------------------------
def test_spoofed_remit_headers_never_reach_the_upstream(topo, remit):
    spoofed = {
        "x-remit-agent": "payments-admin",
        "x-remit-reason": "forged",
        "x-remit-decision-id": "forged-id",
        "x-remit-delegation-chain-id": "chain-123",
    }
    r = _call(topo, "checkout-bot", "get_stock", id=91, headers=spoofed)
    assert_allowed(r, topo.upstream)
    got = topo.upstream.requests[0].headers
    for name in ("x-remit-agent", "x-remit-reason", "x-remit-decision-id"):
        assert name not in got, f"{name} reached the upstream: {got}"
    assert got.get("x-remit-delegation-chain-id") == "chain-123", "the chain id is propagated, not removed"
