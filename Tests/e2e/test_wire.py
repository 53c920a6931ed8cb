"""The Envoy contract on the wire (SPEC section 8), checked with an independent client: Envoy's own
generated Python stubs (xds-protos) send CheckRequests straight to Remit's gRPC port."""

from __future__ import annotations

import json

import grpc
import pytest
from envoy.service.auth.v3 import attribute_context_pb2, external_auth_pb2, external_auth_pb2_grpc
from google.rpc import code_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc

from support import policies
from support.diag import add_diagnostics
from support.procs import free_port
from support.remit import Remit, binary_or_fail

pytestmark = pytest.mark.remit

AGENT = "spiffe://cluster.local/ns/agents/sa/checkout-bot"
TOOL = "spiffe://cluster.local/ns/tools/sa/inventory"


@pytest.fixture(scope="module")
def wire_remit(e2e_dir):
    binary = binary_or_fail()
    r = Remit(e2e_dir / "wire", free_port(), binary=binary)
    try:
        r.start(policies.default_policy_yaml())
    except Exception as exc:  # noqa: BLE001
        r.stop()
        pytest.fail(str(exc), pytrace=False)
    yield r
    r.stop()


@pytest.fixture
def remit(wire_remit, request):
    add_diagnostics(request, "remit (wire)", wire_remit.diagnostics)
    return wire_remit


@pytest.fixture(scope="module")
def channel(wire_remit):
    ch = grpc.insecure_channel(f"127.0.0.1:{wire_remit.grpc_port}")
    grpc.channel_ready_future(ch).result(timeout=10)
    yield ch
    ch.close()


@pytest.fixture
def authz(channel, remit):
    return external_auth_pb2_grpc.AuthorizationStub(channel)


def check_request(
    method="POST",
    path="/mcp",
    body: bytes = b"",
    headers=None,
    source=AGENT,
    destination=TOOL,
    content_type="application/json",
    partial=False,
):
    """A CheckRequest shaped like the ones Envoy 1.40 sends from the server sidecar."""
    hdrs = {
        ":authority": "inventory.tools.svc.cluster.local:8080",
        ":method": method,
        ":path": path,
        ":scheme": "http",
        "x-request-id": "7a1f0a52-0d3e-4d4c-9d0e-1e2f3a4b5c6d",
        "x-forwarded-proto": "http",
        "x-envoy-auth-partial-body": "true" if partial else "false",
    }
    if body:
        hdrs["content-length"] = str(len(body))
    if content_type:
        hdrs["content-type"] = content_type
    hdrs.update(headers or {})
    peer_src = attribute_context_pb2.AttributeContext.Peer(principal=source or "")
    peer_src.address.socket_address.address = "127.0.0.1"
    peer_src.address.socket_address.port_value = 40000
    peer_dst = attribute_context_pb2.AttributeContext.Peer(principal=destination or "")
    peer_dst.address.socket_address.address = "127.0.0.1"
    peer_dst.address.socket_address.port_value = 15006
    http = attribute_context_pb2.AttributeContext.HttpRequest(
        id="1", method=method, path=path, host=hdrs[":authority"], scheme="http", protocol="HTTP/1.1",
        headers=hdrs, size=len(body), raw_body=body,
    )
    attrs = attribute_context_pb2.AttributeContext(source=peer_src, destination=peer_dst)
    attrs.request.http.CopyFrom(http)
    attrs.request.time.GetCurrentTime()
    return external_auth_pb2.CheckRequest(attributes=attrs)


def tools_call(name, id=1, arguments=None) -> bytes:
    return json.dumps({"jsonrpc": "2.0", "id": id, "method": "tools/call",
                       "params": {"name": name, "arguments": arguments or {}}}).encode()


def _headers(opts) -> dict:
    return {h.header.key.lower(): h.header.value for h in opts}


def assert_allow(resp):
    assert resp.status.code == code_pb2.OK, resp
    assert resp.WhichOneof("http_response") == "ok_response", resp
    for opt in resp.ok_response.headers:
        assert opt.HasField("append"), f"append must be set explicitly: {opt}"
        assert opt.append.value is False, f"append must be false (overwrite): {opt}"
    for name in resp.ok_response.headers_to_remove:
        assert name == name.lower()
    return resp.ok_response


def assert_deny(resp, reason):
    assert resp.status.code == code_pb2.PERMISSION_DENIED == 7, resp
    assert resp.WhichOneof("http_response") == "denied_response", resp
    denied = resp.denied_response
    assert denied.status.code == 403, resp
    hdrs = _headers(denied.headers)
    for opt in denied.headers:
        assert opt.HasField("append") and opt.append.value is False, f"deny header must overwrite: {opt}"
    assert hdrs.get("x-remit-reason") == reason, resp
    assert hdrs.get("x-remit-decision-id"), resp
    assert hdrs.get("content-type", "").split(";")[0] == "application/json", resp
    body = json.loads(denied.body)
    return body, hdrs


def test_health_serving(channel, remit):
    stub = health_pb2_grpc.HealthStub(channel)
    assert stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=5).status == health_pb2.HealthCheckResponse.SERVING


def test_allow_in_scope_tool(authz):
    resp = authz.Check(check_request(body=tools_call("get_stock", id=1)), timeout=5)
    ok = assert_allow(resp)
    # Header hygiene must not strip what the upstream needs, and never adds a deny header.
    assert "x-remit-reason" not in _headers(ok.headers)


def test_allow_plain_http_route(authz):
    assert_allow(authz.Check(check_request(method="GET", path="/api/v1/items/7", content_type=None), timeout=5))


def test_deny_out_of_scope_tool_jsonrpc_body(authz):
    resp = authz.Check(check_request(body=tools_call("delete_inventory", id="abc-1")), timeout=5)
    body, hdrs = assert_deny(resp, "scope_tool_denied")
    assert body["jsonrpc"] == "2.0" and body["id"] == "abc-1"
    assert body["error"]["data"]["reason"] == "scope_tool_denied"
    assert body["error"]["data"]["decision_id"] == hdrs["x-remit-decision-id"]


def test_deny_route_plain_body(authz):
    resp = authz.Check(check_request(method="GET", path="/api/v1/orders/1", content_type=None), timeout=5)
    body, hdrs = assert_deny(resp, "scope_route_denied")
    assert body == {"error": "forbidden", "reason": "scope_route_denied", "decision_id": hdrs["x-remit-decision-id"]}


def test_deny_missing_principal_identity_missing(authz):
    resp = authz.Check(check_request(source="", body=tools_call("get_stock")), timeout=5)
    assert_deny(resp, "identity_missing")


@pytest.mark.parametrize("principal", [
    "spiffe://evil.example/ns/agents/sa/checkout-bot",       # foreign trust domain
    "spiffe://cluster.local/ns/agents/sa/checkout-bot/extra",  # not /ns/<ns>/sa/<sa>
    "spiffe://cluster.local/ns/agents/sa/checkout%2Dbot",     # percent-encoding
    "spiffe://Cluster.Local/ns/agents/sa/checkout-bot",       # upper-case trust domain
    "https://cluster.local/ns/agents/sa/checkout-bot",        # wrong scheme
    "cluster.local/ns/agents/sa/checkout-bot",
])
def test_deny_invalid_principal_identity_invalid(authz, principal):
    assert_deny(authz.Check(check_request(source=principal, body=tools_call("get_stock")), timeout=5), "identity_invalid")


def test_deny_unbound_identity_unmapped(authz):
    resp = authz.Check(check_request(source="spiffe://cluster.local/ns/agents/sa/rogue", body=tools_call("get_stock")), timeout=5)
    assert_deny(resp, "identity_unmapped")


def test_deny_malformed_json_body_malformed(authz):
    resp = authz.Check(check_request(body=b'{"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {'), timeout=5)
    assert_deny(resp, "body_malformed")


def test_deny_deeply_nested_json_without_crashing(authz, remit):
    body = b"[" * 100000 + b"]" * 100000
    resp = authz.Check(check_request(body=body[:65536], partial=True), timeout=5)
    assert resp.status.code == code_pb2.PERMISSION_DENIED
    resp = authz.Check(check_request(body=b'{"a":' * 5000 + b"1" + b"}" * 5000), timeout=5)
    assert resp.status.code == code_pb2.PERMISSION_DENIED
    assert remit.alive()
    assert_allow(authz.Check(check_request(body=tools_call("get_stock")), timeout=5))


def test_deny_truncated_body(authz):
    body = tools_call("get_stock", arguments={"blob": "x" * 70000})[:65536]
    assert_deny(authz.Check(check_request(body=body, partial=True), timeout=5), "body_truncated")


def test_deny_truncated_body_that_envoy_did_not_flag(authz):
    """Envoy 1.40 sometimes sends a cut body with x-envoy-auth-partial-body: false (the buffer
    filled to exactly max_request_bytes); content-length still tells the truth."""
    full = tools_call("get_stock", arguments={"blob": "x" * 70000})
    req = check_request(body=full[:65536], partial=False, headers={"content-length": str(len(full))})
    assert_deny(authz.Check(req, timeout=5), "body_truncated")


@pytest.mark.parametrize("path", ["/api/v1/items/../secret", "/api/v1/items/a%2Fb", "/api/v1/items/a%5cb",
                                  "/api/v1/items/a\\b", "/api/v1/items/%zz"])
def test_deny_hostile_paths_request_invalid(authz, path):
    resp = authz.Check(check_request(method="GET", path=path, content_type=None), timeout=5)
    assert_deny(resp, "request_invalid")


def test_decision_ids_are_unique_and_logged(authz, remit):
    since = remit.mark()
    ids = []
    for i in range(3):
        resp = authz.Check(check_request(body=tools_call("delete_inventory", id=i)), timeout=5)
        ids.append(assert_deny(resp, "scope_tool_denied")[1]["x-remit-decision-id"])
    assert len(set(ids)) == 3
    for did in ids:
        remit.wait_decision(lambda d, did=did: d.get("decision_id") == did, since)
