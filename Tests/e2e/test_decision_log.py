"""Decision log lines (SPEC section 9): one JSON line per decision, the documented fields, and
metadata only: never the body or argument values."""

from __future__ import annotations

import time

import pytest

from support import clients, policies
from support.asserts import assert_allowed, assert_denied
from support.remit import DECISION_FIELDS

pytestmark = pytest.mark.remit

# Recognisable, secret-looking argument values: none may appear in any log output.
SECRET = "sk-live-REMITE2E-7c1d9f4b2a6e8d0c"
CARD = "4111 1111 1111 1111"
ARG_VALUE = "customer-note-QUOKKA-93471"


@pytest.fixture
def remit_v7(remit_factory):
    return remit_factory(policies.default_policy_yaml(version=7))


def test_decision_lines_have_documented_fields_and_no_body_content(topo, remit_v7):
    remit = remit_v7
    since = remit.mark()
    args = {"sku": "SKU-1", "api_key": SECRET, "card": CARD, "note": ARG_VALUE}

    allowed = clients.mcp_post(topo.agent_port("checkout-bot"), clients.tools_call("get_stock", args, id=1001))
    assert_allowed(allowed)
    topo.upstream.clear()
    denied = clients.mcp_post(topo.agent_port("checkout-bot"), clients.tools_call("delete_inventory", args, id=1002))
    assert_denied(denied, "scope_tool_denied", topo.upstream, jsonrpc_id=1002)
    unmapped = clients.mcp_post(topo.agent_port("rogue"), clients.tools_call("get_stock", args, id=1003))
    assert_denied(unmapped, "identity_unmapped", topo.upstream, jsonrpc_id=1003)
    observed = clients.mcp_post(topo.agent_port("observer-bot"), clients.tools_call("delete_inventory", args, id=1004))
    assert_allowed(observed)
    route = clients.request(topo.agent_port("checkout-bot"), "GET", "/api/v1/orders/9")
    assert_denied(route, "scope_route_denied", plain=True)

    def have_all():
        ds = remit.decisions(since)
        return ds if len(ds) >= 5 else None

    from support.procs import wait_until

    decisions = wait_until(have_all, 5.0, what="5 decision lines")
    time.sleep(0.3)
    decisions = remit.decisions(since)
    assert len(decisions) == 5, f"one line per decision, got {len(decisions)}: {decisions}"

    for d in decisions:
        missing = [f for f in DECISION_FIELDS if f not in d]
        assert not missing, f"decision line lacks {missing}: {d}"
        assert d["message"] == "ext_authz decision"
        assert d["surface"] == "mesh"
        assert d["verdict"] in ("allow", "deny")
        assert isinstance(d["decision_id"], str) and d["decision_id"]
        assert isinstance(d["time"], str) and d["time"]
        assert isinstance(d["latency_us"], (int, float)) and d["latency_us"] >= 0
        assert isinstance(d["findings"], list)
        assert str(d["policy_version"]) == "7"
        assert "inventory" in str(d["destination"])
    assert len({d["decision_id"] for d in decisions}) == 5, "decision ids are unique"

    by_id = {d["decision_id"]: d for d in decisions}
    allow = next(d for d in decisions if d["verdict"] == "allow" and d["agent"] == "checkout-bot")
    assert allow["reason"] in (None, "", "allow", "allowed"), allow
    assert allow["would_deny"] in (None, ""), allow
    assert allow["mode"] == "enforce"
    assert allow["source_principal"] == topo.mesh.checkout_bot.spiffe_id
    assert allow["kind"] == "east_west"
    assert allow["method"] == "POST" and allow["path"] == "/mcp"
    assert allow["tool"] == "get_stock"

    deny = by_id[denied.decision_id]
    assert deny["verdict"] == "deny" and deny["reason"] == "scope_tool_denied"
    assert deny["agent"] == "checkout-bot" and deny["tool"] == "delete_inventory"

    rogue = by_id[unmapped.decision_id]
    assert rogue["reason"] == "identity_unmapped"
    assert rogue["source_principal"] == topo.mesh.rogue.spiffe_id
    assert rogue["agent"] in (None, "")

    obs = next(d for d in decisions if d["agent"] == "observer-bot")
    assert obs["verdict"] == "allow" and obs["would_deny"] == "scope_tool_denied" and obs["mode"] == "observe"

    rt = by_id[route.decision_id]
    assert rt["reason"] == "scope_route_denied" and rt["method"] == "GET" and rt["path"] == "/api/v1/orders/9"

    # Metadata only: no argument value, in any line of stdout or stderr.
    text = remit.log_text()
    for needle in (SECRET, CARD, ARG_VALUE, "SKU-1"):
        assert needle not in text, f"{needle!r} leaked into Remit's logs"
    # ... nor into the deny bodies the agent sees.
    for resp in (denied, unmapped, route):
        for needle in (SECRET, CARD, ARG_VALUE):
            assert needle.encode() not in resp.body
