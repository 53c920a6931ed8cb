"""HTTP route rules and path hygiene through the server sidecar (one Remit for the module).

Requests go straight to the server sidecar over mTLS with checkout-bot's certificate, so the path
is sent byte for byte (the agent's own sidecar would normalize it first). Two server listeners:
`inbound` has Istio's default pathNormalization (BASE) and `inbound_nonorm` has NONE. Envoy 1.40
behaviour in front of the authorizer is pinned in test_topology.py; here the outcome must be a
deny by Remit (or a 400 from Envoy itself) and never a request at the upstream.
"""

from __future__ import annotations

import pytest

from support import clients
from support.asserts import assert_allowed, assert_denied
from support.diag import add_diagnostics

pytestmark = pytest.mark.remit


@pytest.fixture
def remit(module_remit, request):
    add_diagnostics(request, "remit (module)", module_remit.diagnostics)
    return module_remit


def _get(topo, listener, path, method="GET"):
    return clients.mtls_request(topo.server.port(listener), topo.mesh.checkout_bot, topo.mesh.ca_path, method, path)


def test_allowed_route_through_the_agent_sidecar(topo, remit):
    r = clients.request(topo.agent_port("checkout-bot"), "GET", "/api/v1/items/42")
    body = assert_allowed(r, topo.upstream)
    assert body["path"] == "/api/v1/items/42"


def test_route_outside_the_mission_through_the_agent_sidecar(topo, remit):
    since = remit.mark()
    r = clients.request(topo.agent_port("checkout-bot"), "GET", "/api/v1/orders/1")
    assert_denied(r, "scope_route_denied", topo.upstream, plain=True)
    d = remit.wait_decision(lambda d: d.get("decision_id") == r.decision_id, since)
    assert d["method"] == "GET" and d["path"] == "/api/v1/orders/1"


ALLOWED = [
    ("inbound", "GET", "/api/v1/items/42"),
    ("inbound", "GET", "/api/v1/items/42?next=../../admin"),  # the query is not part of the path
    ("inbound_nonorm", "GET", "/api/v1/items/42"),
    ("inbound_nonorm", "GET", "/api/v1/items/%34%32"),  # unreserved escapes decode to "42"
]


@pytest.mark.parametrize("listener,method,path", ALLOWED, ids=[f"{a}:{c}" for a, b, c in ALLOWED])
def test_allowed_routes(topo, remit, listener, method, path):
    assert_allowed(_get(topo, listener, path, method), topo.upstream)
    assert topo.upstream.requests[0].path == path


# (listener, method, path, reasons Remit may give). Envoy's normalization (BASE) turns dot-segments
# into a different path before the check, so there the deny is a route deny; with NONE the raw path
# reaches Remit and its own hygiene must reject it.
DENIED = [
    ("inbound", "GET", "/api/v1/orders/1", {"scope_route_denied"}),
    ("inbound", "DELETE", "/api/v1/items/42", {"scope_route_denied"}),
    ("inbound", "GET", "/api/v1/items/42/history", {"scope_route_denied"}),  # * is one segment
    ("inbound", "GET", "/api/v1/items/a%2Fb", {"request_invalid"}),  # Envoy keeps %2F (KEEP_UNCHANGED)
    ("inbound", "GET", "/api/v1/items/a%2fb", {"request_invalid"}),
    ("inbound", "GET", "/api/v1/items/a%5Cb", {"request_invalid"}),
    ("inbound", "GET", "/api/v1/items/../../admin", {"scope_route_denied", "request_invalid"}),  # -> /api/admin
    ("inbound", "GET", "/api/v1/items/%2e%2e/%2e%2e/admin", {"scope_route_denied", "request_invalid"}),
    ("inbound", "GET", "/api/v1//items/42", {"scope_route_denied", "request_invalid"}),  # nothing collapsed
    ("inbound_nonorm", "GET", "/api/v1/items/../../admin", {"request_invalid"}),
    ("inbound_nonorm", "GET", "/api/v1/items/./42", {"request_invalid"}),
    ("inbound_nonorm", "GET", "/api/v1/items/..", {"request_invalid"}),
    ("inbound_nonorm", "GET", "/api/v1/items/%2e%2e", {"request_invalid"}),  # decodes to a dot-segment
    ("inbound_nonorm", "GET", "/api/v1/items/%2E", {"request_invalid"}),
    ("inbound_nonorm", "GET", "/api/v1/items/a%2Fb", {"request_invalid"}),
    ("inbound_nonorm", "GET", "/api/v1/items\\..\\admin", {"request_invalid"}),
    ("inbound_nonorm", "GET", "/api/v1/items/a\\b", {"request_invalid"}),
    ("inbound_nonorm", "GET", "/api/v1/items/a%00b", {"request_invalid"}),
    ("inbound_nonorm", "GET", "/api/v1/items/a%zz", {"request_invalid"}),
    ("inbound_nonorm", "GET", "/api/v1/items/a%4", {"request_invalid"}),
]


@pytest.mark.parametrize("listener,method,path,reasons", DENIED, ids=[f"{a}:{b}:{c}" for a, b, c, d in DENIED])
def test_denied_routes_never_reach_upstream(topo, remit, listener, method, path, reasons):
    r = _get(topo, listener, path, method)
    assert r.status == 403, r.describe()
    assert r.reason in reasons, r.describe()
    assert_denied(r, r.reason, topo.upstream, plain=True)


ENVOY_REJECTS = [
    ("inbound", "/api/v1/items/a%00b"),  # BASE normalization refuses an encoded NUL
    ("inbound", "/api/v1/items/1#frag"),
    ("inbound_nonorm", "/api/v1/items/1#frag"),
]


@pytest.mark.parametrize("listener,path", ENVOY_REJECTS, ids=[f"{a}:{b}" for a, b in ENVOY_REJECTS])
def test_paths_envoy_rejects_itself(topo, remit, listener, path):
    since = remit.mark()
    r = _get(topo, listener, path)
    assert r.status == 400, r.describe()
    assert topo.upstream.requests == []
    assert remit.decisions(since) == []
