"""Hostile input through real Envoy (issue 8): the agent's client sidecar sends to the server
sidecar, whose ext_authz filter asks one Remit for the whole module.

Every case must end in a deny with a reason (or a 4xx from Envoy itself) and nothing at the tool,
or in a correct allow where the tool receives exactly what Remit judged; never a crash, a 5xx or
a bypass. After each case Remit must still be serving.
"""

from __future__ import annotations

import json
import subprocess

import pytest

from support import clients
from support.asserts import assert_allowed, assert_denied
from support.diag import add_diagnostics

pytestmark = pytest.mark.remit

CALL_PREFIX = b'{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"get_stock","arguments":'


@pytest.fixture
def remit(module_remit, request):
    add_diagnostics(request, "remit (module)", module_remit.diagnostics)
    return module_remit


@pytest.fixture(autouse=True)
def still_serving(topo, remit):
    """Runs the case, then checks that Remit is alive and still allows an in-scope call."""
    yield
    assert remit.alive(), "remit exited"
    topo.upstream.clear()
    resp = clients.mcp_post(topo.agent_port("checkout-bot"), clients.tools_call("get_stock", {"sku": "ok"}))
    assert_allowed(resp, topo.upstream)


def post(topo, body: bytes, headers=None, path="/mcp"):
    return clients.mcp_post(topo.agent_port("checkout-bot"), body, path=path, headers=headers)


def assert_refused(resp, topo, reasons=None):
    """A deny by Remit (with one of `reasons`) or a 4xx from Envoy; nothing reached the tool."""
    assert 400 <= resp.status < 500, resp.describe()
    if resp.reason is not None:
        assert reasons is None or resp.reason in reasons, resp.describe()
    assert topo.upstream.requests == [], f"request reached the upstream: {topo.upstream.requests}"


# ----------------------------------------------------------------------------------------------
# JSON structure
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("depth", [65, 1000, 20000])
def test_deeply_nested_arguments_are_body_malformed(topo, remit, depth):
    body = CALL_PREFIX + b"[" * depth + b"]" * depth + b"}}"
    if len(body) > 65536:
        body = body[:65000]  # cut: Envoy marks it partial, which must not help either
    resp = post(topo, body)
    assert_refused(resp, topo, {"body_malformed", "body_truncated"})
    assert resp.reason is not None, resp.describe()


def test_a_batch_over_the_limit_is_body_malformed(topo, remit):
    batch = [{"jsonrpc": "2.0", "id": i, "method": "tools/list"} for i in range(300)]
    assert_denied(post(topo, json.dumps(batch).encode()), "body_malformed", topo.upstream)


def test_one_bad_call_hidden_at_the_end_of_a_long_batch_denies_it(topo, remit):
    batch = [{"jsonrpc": "2.0", "id": i, "method": "tools/call", "params": {"name": "get_stock"}} for i in range(255)]
    batch.append({"jsonrpc": "2.0", "id": 255, "method": "tools/call", "params": {"name": "delete_inventory"}})
    resp = post(topo, json.dumps(batch).encode())
    assert resp.status == 403 and resp.reason == "scope_tool_denied", resp.describe()
    assert topo.upstream.requests == []
    # A batch is answered with a batch: one error per request id.
    errors = resp.json()
    assert [e["id"] for e in errors] == list(range(256))
    assert all(e["error"]["data"]["reason"] == "scope_tool_denied" for e in errors)


def test_a_full_batch_of_allowed_calls_is_allowed(topo, remit):
    batch = [{"jsonrpc": "2.0", "id": i, "method": "tools/call", "params": {"name": "get_stock"}} for i in range(256)]
    assert_allowed(post(topo, json.dumps(batch).encode()), topo.upstream)


@pytest.mark.parametrize(
    "body",
    [
        # the tool the agent names, then another: a server may read either
        b'{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"get_stock","name":"delete_inventory"}}',
        b'{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"delete_inventory","name":"get_stock"}}',
        # the method twice
        b'{"jsonrpc":"2.0","id":1,"method":"tools/list","method":"tools/call","params":{"name":"delete_inventory"}}',
        # params twice
        b'{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"get_stock"},"params":{"name":"x"}}',
        # the same key spelled with an escape
        b'{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"get_stock","n\\u0061me":"delete_inventory"}}',
    ],
    ids=["name-twice", "name-twice-reversed", "method-twice", "params-twice", "escaped-key"],
)
def test_duplicate_keys_are_body_malformed(topo, remit, body):
    assert_denied(post(topo, body), "body_malformed", topo.upstream)


@pytest.mark.parametrize(
    "body",
    [
        CALL_PREFIX + b'{"q":"\xff\xfe"}}}',  # not UTF-8 at all
        CALL_PREFIX + b'{"q":"\xc0\xaf"}}}',  # overlong encoding of '/'
        CALL_PREFIX + b'{"q":"\xed\xa0\x80"}}}',  # a UTF-16 surrogate encoded in UTF-8
        b'{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"get_st\xc3ock"}}',  # cut sequence
        CALL_PREFIX + b'{"q":"\\ud800"}}}',  # a lone surrogate escape
    ],
    ids=["ff-fe", "overlong", "surrogate", "cut-sequence", "lone-surrogate-escape"],
)
def test_invalid_utf8_is_body_malformed(topo, remit, body):
    assert_denied(post(topo, body), "body_malformed", topo.upstream)


# ----------------------------------------------------------------------------------------------
# Tool names: exact, case-sensitive, no folding of look-alikes
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "name",
    [
        "Get_Stock",
        "GET_STOCK",
        "get_st\u043eck",  # Cyrillic o
        "get_stock\u200b",  # zero-width space
        "\uff47et_stock",  # fullwidth g
        "get_stock ",
        "get\u2010stock",  # hyphen look-alike
        "delete_inventory",
    ],
    ids=["title-case", "upper-case", "cyrillic-o", "zero-width", "fullwidth", "trailing-space", "hyphen", "plain"],
)
def test_look_alike_tool_names_are_not_the_allowed_tool(topo, remit, name):
    body = json.dumps({"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"name": name}}).encode()
    resp = post(topo, body)
    assert_refused(resp, topo, {"scope_tool_denied", "injection_detected"})
    assert resp.reason is not None, resp.describe()


def test_an_escaped_tool_name_is_judged_as_the_tool_reads_it(topo, remit):
    # JSON escapes decode to get_stock: the server reads get_stock, so this is a correct allow, and
    # the tool receives the bytes unchanged.
    body = b'{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"get_\\u0073tock"}}'
    assert_allowed(post(topo, body), topo.upstream)
    assert topo.upstream.requests[0].body == body
    # ... and an escaped name of a tool outside the mission is denied.
    topo.upstream.clear()
    denied = b'{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"d\\u0065lete_inventory"}}'
    assert_denied(post(topo, denied), "scope_tool_denied", topo.upstream, jsonrpc_id=5)


@pytest.mark.parametrize("content_type", ["APPLICATION/JSON", "application/json; charset=utf-8",
                                          " application/json ", "application/vnd.api+json"])
def test_json_content_type_spellings_are_all_read(topo, remit, content_type):
    body = clients.tools_call("delete_inventory", id=9)
    resp = post(topo, body, headers={"content-type": content_type})
    assert_denied(resp, "scope_tool_denied", topo.upstream, jsonrpc_id=9)


# ----------------------------------------------------------------------------------------------
# Headers and paths
# ----------------------------------------------------------------------------------------------
def test_a_header_over_envoys_limit_is_refused_by_envoy(topo, remit):
    since = remit.mark()
    resp = post(topo, clients.tools_call("get_stock"), headers={"x-padding": "a" * 100_000})
    assert resp.status == 431, resp.describe()
    assert topo.upstream.requests == []
    assert remit.decisions(since) == []


def test_a_large_header_under_the_limit_is_judged_normally(topo, remit):
    headers = {"x-padding": "a" * 40_000}
    assert_denied(post(topo, clients.tools_call("delete_inventory", id=2), headers=headers),
                  "scope_tool_denied", topo.upstream, jsonrpc_id=2)
    assert_allowed(post(topo, clients.tools_call("get_stock"), headers=headers), topo.upstream)


def test_many_headers_are_judged_normally(topo, remit):
    headers = {f"x-h-{i}": "v" for i in range(90)}
    assert_denied(post(topo, clients.tools_call("delete_inventory", id=2), headers=headers),
                  "scope_tool_denied", topo.upstream, jsonrpc_id=2)


def test_an_overlong_path_is_request_invalid(topo, remit):
    resp = clients.request(topo.agent_port("checkout-bot"), "GET", "/api/v1/items/" + "a" * 9000)
    assert_denied(resp, "request_invalid", topo.upstream, plain=True)


def test_a_long_query_does_not_make_a_path_too_long(topo, remit):
    # Only the path is matched; the query is stripped first (SPEC section 4).
    resp = clients.request(topo.agent_port("checkout-bot"), "GET", "/api/v1/items/1?q=" + "a" * 9000)
    assert_allowed(resp, topo.upstream)


@pytest.mark.parametrize(
    "path",
    [
        "/%6dcp",  # /mcp with an escaped letter: still the MCP endpoint, still a tool check
        "/%6D%63%70",
        "/mcp/",
        "//mcp",
        "/mcp%2f",
        "/mcp/%2e%2e/mcp",
        "/mcp;x=1",
    ],
)
def test_spellings_of_the_mcp_path_never_skip_the_tool_check(topo, remit, path):
    resp = post(topo, clients.tools_call("delete_inventory", id=6), path=path)
    assert_refused(resp, topo)


@pytest.mark.parametrize("header", ["x-http-method-override", "x-http-method", "x-method-override"])
def test_a_method_override_to_a_method_the_mission_does_not_allow_is_denied(topo, remit, header):
    resp = clients.request(topo.agent_port("checkout-bot"), "GET", "/api/v1/items/1", headers={header: "DELETE"})
    assert_denied(resp, "scope_route_denied", topo.upstream, plain=True)


def test_a_method_override_on_a_tool_call_is_request_invalid(topo, remit):
    resp = post(topo, clients.tools_call("get_stock", id=8), headers={"x-http-method-override": "DELETE"})
    assert_denied(resp, "request_invalid", topo.upstream, jsonrpc_id=8)


def test_a_method_override_naming_the_same_method_changes_nothing(topo, remit):
    resp = clients.request(topo.agent_port("checkout-bot"), "GET", "/api/v1/items/1",
                           headers={"x-http-method-override": "get"})
    assert_allowed(resp, topo.upstream)


# ----------------------------------------------------------------------------------------------
# HTTP/2 and HTTP/1.1 forms of the same request get the same decision
# ----------------------------------------------------------------------------------------------
def curl_h2(port: int, body: bytes, path: str = "/mcp") -> tuple[int, dict, bytes]:
    """POST over HTTP/2 (prior knowledge, cleartext to the agent's sidecar) with curl."""
    out = subprocess.run(
        ["curl", "-sS", "-i", "--http2-prior-knowledge", "--max-time", "15", "-X", "POST",
         "-H", "host: inventory.tools.svc.cluster.local:8080", "-H", "content-type: application/json",
         "-H", "accept: application/json, text/event-stream", "--data-binary", "@-",
         f"http://127.0.0.1:{port}{path}"],
        input=body, capture_output=True, timeout=30, check=True,
    ).stdout
    head, _, payload = out.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    assert lines[0].startswith("HTTP/2 "), lines[0]
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(lines[0].split()[1]), headers, payload


@pytest.mark.parametrize("tool,status,reason", [("get_stock", 200, None), ("delete_inventory", 403, "scope_tool_denied")])
def test_http2_and_http11_forms_get_the_same_decision(topo, remit, tool, status, reason):
    body = clients.tools_call(tool, id=12)
    h1 = post(topo, body)
    topo.upstream.clear()
    h2_status, h2_headers, h2_body = curl_h2(topo.agent_port("checkout-bot"), body)
    assert h1.status == status and h2_status == status, (h1.describe(), h2_status, h2_headers)
    assert h1.reason == reason and h2_headers.get("x-remit-reason") == reason
    if status == 200:
        assert len(topo.upstream.requests) == 1 and topo.upstream.requests[0].body == body
    else:
        assert topo.upstream.requests == []
        assert json.loads(h2_body)["id"] == 12
